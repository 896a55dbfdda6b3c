"""A trained model's weights: saving and loading them, and reading other formats into an HSTA model.

Three ways in, one place:

- `save_model` / `load_model`: this project's model file (weights plus the `HSTAConfig` and
  class names that rebuild the model), written atomically.
- `load_reference_checkpoint`: checkpoints of the authors' reference implementation. The
  reference names branch 0 "special" and branch 1 "video" and keeps its sizes in lists
  (``img_size``, ``patch_size``, ``embed_dim``, ``num_heads``, ``mlp_ratio``, ``depth``,
  ``all_frames``); its model takes one tensor (B, 3, T + 2, H, W) whose last two frames are
  the onset and apex. The config and the state-dict names are translated, and every tensor's
  shape is checked so a checkpoint of another configuration fails clearly. The model comes
  wrapped in `ReferenceInputAdapter`, which takes the reference's inputs as they are.
- `load_video_pretrained`: a VideoMAE-style checkpoint into the video branch only (`LoadReport`
  says what was loaded, skipped and why).

Every file is read with ``torch.load(weights_only=True)`` (`hsta_edu.io.safe_torch_load`): no
pickled object is ever run. Import these names from `hsta_edu.model`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError, DataError
from ..io import atomic_torch_save, safe_torch_load
from .hsta import HSTA, HSTAConfig

# ----------------------------------------------------------------------------------- this project's files

def save_model(path: str | Path, model: nn.Module, *, preset: str | None = None, classes: Sequence[str] = (),
               extra: dict[str, Any] | None = None) -> Path:
    """Save weights plus what rebuilds the model (preset name and HSTAConfig as a dict), atomically."""
    config = getattr(model, "config", None)
    obj = {"format": "hsta_edu.model/1", "preset": preset,
           "model_config": config.to_dict() if hasattr(config, "to_dict") else None,
           "classes": list(classes), "state_dict": model.state_dict(), "extra": extra or {}}
    return atomic_torch_save(obj, path)


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_model` (weights_only loading); returns (model, metadata)."""
    obj = safe_torch_load(path, map_location=map_location)
    if not isinstance(obj, dict) or obj.get("format") != "hsta_edu.model/1" or obj.get("model_config") is None:
        raise CheckpointError(f"{path} is not a model file written by save_model (hsta_edu.model.checkpoints)")
    state = obj.get("state_dict")
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        what = "no 'state_dict' entry" if state is None else f"a 'state_dict' that is a {type(state).__name__}"
        raise CheckpointError(f"{path} holds {what}, not a model's weights (name -> tensor); it cannot be "
                              "loaded: save it again with save_model")
    if not isinstance(obj["model_config"], Mapping):
        raise CheckpointError(f"{path}: its 'model_config' is a {type(obj['model_config']).__name__}, not the "
                              "model's configuration; save it again with save_model")
    try:
        model = HSTA(HSTAConfig.from_dict(obj["model_config"]))
    except (TypeError, ValueError) as exc:   # ConfigError included
        raise CheckpointError(f"{path}: its stored configuration builds no model: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored configuration: {exc}") from exc
    meta = {k: v for k, v in obj.items() if k != "state_dict"}
    return model, meta


# ----------------------------------------------------------------------------------- reference checkpoints

_BRANCH = {"0": "special", "1": "video"}


def _pair(ref: Mapping, key: str, kind=int) -> tuple:
    """(special, video) entries of a per-branch list of the reference config."""
    value = ref[key]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) < 2:
        raise ConfigError(f"reference config {key!r} must list [special, video] values, got {value!r}")
    return kind(value[0]), kind(value[1])


def reference_depths(depth) -> tuple[tuple[int, int], ...]:
    """The reference's ``depth`` (one ``[special_blocks, video_blocks, 0]`` per stage) as
    (special, video) pairs; ConfigError for a malformed list or a non-zero third entry."""
    if isinstance(depth, (str, bytes)) or not hasattr(depth, "__iter__"):
        raise ConfigError(f"reference depth must be a list of [special_blocks, video_blocks, 0] stages, "
                          f"got {depth!r}")
    pairs = []
    for k, stage in enumerate(depth):
        if isinstance(stage, (str, bytes)) or not hasattr(stage, "__len__") or len(stage) not in (2, 3):
            raise ConfigError(f"reference depth stage {k} must be [special_blocks, video_blocks, 0], got {stage!r}")
        try:
            values = [int(v) for v in stage]
        except (TypeError, ValueError):
            raise ConfigError(f"reference depth stage {k} holds a non-integer: {stage!r}") from None
        if any(v < 0 for v in values):
            raise ConfigError(f"reference depth stage {k} has a negative block count: {stage!r}")
        if len(values) == 3 and values[2] != 0:
            raise ConfigError(
                f"reference depth stage {k} is {stage!r}: a non-zero third entry makes the reference build "
                f"{values[2]} extra fusion block(s) per stage, which its published scripts never use and "
                f"hsta_edu does not implement; only [special_blocks, video_blocks, 0] stages load")
        pairs.append((values[0], values[1]))
    return tuple(pairs)


def config_from_reference(ref: Mapping) -> HSTAConfig:
    """Translate the reference's config dict (its own terms) into an HSTAConfig.

    Any ``depth`` list loads, stages of different depths included (the paper's Tables 3
    and 4), as ``HSTAConfig.stage_blocks``. A configuration that fits no model (sizes that
    do not divide, a malformed list) raises ConfigError naming the entry.
    """
    if not isinstance(ref, Mapping):
        raise ConfigError(f"a reference config must be a dict, got {type(ref).__name__}")
    try:
        if int(ref.get("model_header_mode", 2)) != 2:
            raise ConfigError("only model_header_mode=2 (head on the two [CLS] tokens) is supported")
        depths = reference_depths(ref["depth"])
        img, patch = _pair(ref, "img_size"), _pair(ref, "patch_size")
        dims, heads = _pair(ref, "embed_dim"), _pair(ref, "num_heads")
        ratios = _pair(ref, "mlp_ratio", float)
        frames = ref["all_frames"]
        n_frames = int(frames[1]) if not isinstance(frames, int) else int(frames)
        for name, (a, b) in (("img_size", img), ("patch_size", patch)):
            if min(a, b) < 1:
                raise ConfigError(f"reference {name} {[a, b]} must be positive")
        for m, size, p in (("special", img[0], patch[0]), ("video", img[1], patch[1])):
            if size < p:
                raise ConfigError(f"reference {m} img_size {size} is smaller than its patch_size {p}: no patches")
        return HSTAConfig(
            num_classes=int(ref["num_classes"]),
            # the reference's stride-p conv ignores the rows/columns beyond a multiple of p
            special_img_size=(img[0] // patch[0]) * patch[0],
            img_size=(img[1] // patch[1]) * patch[1],
            num_frames=n_frames,
            tubelet_size=int(ref.get("tubelet_size", 2)),
            special_patch_size=patch[0], patch_size=patch[1],
            special_embed_dim=dims[0], embed_dim=dims[1],
            special_num_heads=heads[0], num_heads=heads[1],
            special_mlp_ratio=ratios[0], mlp_ratio=ratios[1],
            stage_blocks=depths,
            qkv_bias=bool(ref.get("qkv_bias", True)),
        )
    except ConfigError as exc:
        raise ConfigError(f"reference config does not fit a model: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ConfigError(f"not a reference HSTA config ({type(exc).__name__}: {exc}): {dict(ref)!r}") from exc


def reference_image_sizes(ref: Mapping) -> tuple[int, int]:
    """(special, video) input side the reference model of ``ref`` is fed."""
    return _pair(ref, "img_size")


_RULES = [
    (r"patch_embed\.(\d)\.proj\.(.+)", lambda b, r: f"embed.{_BRANCH[b]}.proj.{r}"),
    (r"cls_token\.(\d)", lambda b: f"embed.{_BRANCH[b]}.cls_token"),
    (r"blocks\.(\d+)\.blocks\.(\d)\.(\d+)\.(.+)", lambda k, b, i, r: f"stages.{k}.usta.{_BRANCH[b]}.blocks.{i}.{r}"),
    (r"blocks\.(\d+)\.projs\.(\d)\.(.+)", lambda k, b, r: f"stages.{k}.csta.{_BRANCH[b]}.proj_in.{r}"),
    (r"blocks\.(\d+)\.fusion\.(\d)\.norm1\.(.+)", lambda k, b, r: f"stages.{k}.csta.{_BRANCH[b]}.norm.{r}"),
    (r"blocks\.(\d+)\.fusion\.(\d)\.attn\.(.+)", lambda k, b, r: f"stages.{k}.csta.{_BRANCH[b]}.attn.{r}"),
    (r"blocks\.(\d+)\.revert_projs\.(\d)\.(.+)", lambda k, b, r: f"stages.{k}.csta.{_BRANCH[b]}.proj_out.{r}"),
    (r"norm\.(\d)\.(.+)", lambda b, r: f"norm.{_BRANCH[b]}.{r}"),
    (r"head\.(.+)", lambda r: f"head.{r}"),
]


def rename_reference_key(key: str) -> str:
    """Reference state-dict key -> hsta_edu key (CheckpointError for an unknown key)."""
    for pattern, fmt in _RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return fmt(*match.groups())
    raise CheckpointError(f"unexpected key in reference checkpoint: {key!r}")


def convert_reference_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename every key of a reference state dict (a leading 'module.' from DDP is dropped)."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if key == "pos_embed" or key.endswith(".pos_embed"):
            continue  # the fixed sinusoidal table is recomputed
        out[rename_reference_key(key)] = value
    return out


def split_reference_input(x: torch.Tensor, config: HSTAConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's single input (B, C, T + 2, H, W) -> (video (B,C,T,H,W), special (B,C,2,H',W')).

    Special = (onset, apex) = the last two frames. With ``config``, each branch is cropped to the
    top-left square the reference's convolutions actually see.
    """
    video, special = x[:, :, :-2], torch.stack([x[:, :, -2], x[:, :, -1]], dim=2)
    if config is not None:
        video = video[..., : config.img_size, : config.img_size]
        special = special[..., : config.special_img_size, : config.special_img_size]
    return video, special


class ReferenceInputAdapter(nn.Module):
    """An HSTA model that also takes the reference model's inputs: the single (B, C, T + 2, H, W)
    tensor (first T frames the video, last two the onset and apex), and each branch at the
    reference's square image size (``special_size``, ``video_size`` px), cropped to the top-left
    square the reference's strided convolution actually reads (224 px special frames under the
    stride-12 tubelet of ``hsta-base``: 216). Inputs at the model's own sizes pass unchanged.

    ``forward(video, special=None, return_attention=False)`` adapts the inputs, then calls the
    wrapped model (``self.model``). Everything else reads as the wrapped model's: attributes such
    as ``config``, ``modalities``, ``stages`` or ``token_grid``, ``check_inputs`` (read and set), and
    the state dict, whose keys are the model's own (no ``model.`` prefix): `save_model` writes a
    file that `load_model` reads back as a plain `HSTA`.
    """

    def __init__(self, model: HSTA, special_size: int, video_size: int) -> None:
        super().__init__()
        for name, size in (("special", special_size), ("video", video_size)):
            b = model.config.branch(name)
            if (int(size) // b.patch_size) * b.patch_size != b.img_size:
                raise ConfigError(f"reference {name} img_size {size} does not give this model's "
                                  f"{b.img_size // b.patch_size} patches of {b.patch_size} px per side")
        self.model = model
        self.reference_sizes = {"special": int(special_size), "video": int(video_size)}
        self._register_state_dict_hook(_drop_model_prefix)
        self._register_load_state_dict_pre_hook(_add_model_prefix, with_module=True)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            model = self.__dict__.get("_modules", {}).get("model")
            if model is None:
                raise
            return getattr(model, name)

    @property
    def check_inputs(self) -> bool:
        return self.model.check_inputs

    @check_inputs.setter
    def check_inputs(self, value: bool) -> None:
        self.model.check_inputs = value

    def layer_id(self, name: str) -> int:
        """`HSTA.layer_id` of one of this module's parameter names (``model.`` + the model's name)."""
        return self.model.layer_id(name.removeprefix("model."))

    def no_weight_decay(self) -> set[str]:
        """`HSTA.no_weight_decay` in this module's parameter names."""
        return {f"model.{n}" for n in self.model.no_weight_decay()}

    def extra_repr(self) -> str:
        return f"special_size={self.reference_sizes['special']}, video_size={self.reference_sizes['video']}"

    def adapt(self, video, special=None):
        """(video, special) as the wrapped model takes them: one tensor split, each branch cropped."""
        cfg = self.model.config
        if special is None and isinstance(video, torch.Tensor) and video.ndim == 5 \
                and video.shape[2] == cfg.num_frames + 2 and len(self.model.modalities) == 2:
            x = video
            video, special = x[:, :, :cfg.num_frames], torch.stack([x[:, :, -2], x[:, :, -1]], dim=2)
        out = {"video": video, "special": special}
        for m, x in out.items():
            size, ref = cfg.branch(m).img_size, self.reference_sizes[m]
            if isinstance(x, torch.Tensor) and x.ndim == 5 and tuple(x.shape[-2:]) == (ref, ref) and ref != size:
                out[m] = x[..., :size, :size]
        return out["video"], out["special"]

    def _check_shape(self, name: str, x) -> None:
        """DataError naming the shapes of both the model and the reference; the rest is the model's check."""
        want = self.model.input_shape(name)
        if not isinstance(x, torch.Tensor) or (x.ndim == 5 and tuple(x.shape[1:]) == want):
            return
        r, frames = self.reference_sizes, self.model.config.num_frames + 2
        raise DataError(f"{name} input must have shape (B, {', '.join(map(str, want))}) (B, C, T, H, W), "
                        f"or, as the reference takes it, {r[name]} px, or one tensor "
                        f"(B, {want[0]}, {frames}, {r['video']}, {r['video']}), got {tuple(x.shape)}")

    def forward(self, video: torch.Tensor | None, special: torch.Tensor | None = None,
                return_attention: bool = False):
        video, special = self.adapt(video, special)
        if self.model.check_inputs:
            inputs = {"video": video, "special": special}
            for m in self.model.modalities:
                self._check_shape(m, inputs[m])
        return self.model(video, special, return_attention=return_attention)


def _drop_model_prefix(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook of `ReferenceInputAdapter`: its keys are the wrapped model's, unprefixed."""
    inner = prefix + "model."
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner):]] = state_dict.pop(key)


def _add_model_prefix(module: nn.Module, state_dict: dict, prefix: str, *_) -> None:
    """Load pre-hook of `ReferenceInputAdapter`: the wrapped model's keys go to ``model.``."""
    inner = prefix + "model."
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)


def load_reference_checkpoint(path_or_state_dict: str | os.PathLike | Mapping, config: Mapping | HSTAConfig | None = None,
                              ) -> ReferenceInputAdapter:
    """Build an hsta_edu model with the weights of a reference-implementation checkpoint.

    ``path_or_state_dict``: a file (loaded with ``weights_only=True``) holding a state dict or a
    dict with ``state_dict``/``model``/``module`` (and optionally ``config``), or such a dict.
    ``config``: the reference's config dict or an HSTAConfig; needed when the file has none.
    The model is returned in eval mode; its logits equal the reference model's, and it takes
    the reference's inputs as they are (`ReferenceInputAdapter`, wrapping the `HSTA` as
    ``.model``): ``model(x)`` with the single (B, 3, T + 2, H, W) tensor at the reference's sizes
    (224 px special frames for the paper's model, of which the stride-12 tubelet reads the
    top-left 216), or the two branch tensors at either the reference's or the model's own sizes.
    """
    obj = path_or_state_dict
    if isinstance(obj, (str, os.PathLike)):
        obj = safe_torch_load(obj)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"expected a state dict or a checkpoint dict, got {type(obj).__name__}")
    state = obj
    for key in ("state_dict", "model", "module"):
        if key in obj and isinstance(obj[key], Mapping):
            state = obj[key]
            break
    if config is None:
        config = obj.get("config") if state is not obj else None
    if config is None:
        raise CheckpointError("the checkpoint carries no config: pass config= (the reference's config dict)")
    cfg = config if isinstance(config, HSTAConfig) else config_from_reference(config)
    model = HSTA(cfg)
    sizes = (cfg.special_img_size, cfg.img_size) if isinstance(config, HSTAConfig) else reference_image_sizes(config)
    converted = convert_reference_state_dict(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    wrong = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
             for k, v in converted.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches, e.g. {wrong[:3]}")
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[:3]}")
        raise CheckpointError("checkpoint does not match this configuration: " + "; ".join(parts))
    model.load_state_dict(converted)
    return ReferenceInputAdapter(model, *sizes).eval()


# ----------------------------------------------------------------------------------- VideoMAE init

@dataclass
class LoadReport:
    """What `load_video_pretrained` did: target keys loaded (with their source key), skipped
    ones and why. ``str(report)`` is a short human-readable summary."""

    source: str
    loaded: dict[str, str] = field(default_factory=dict)          # target key -> source key
    shape_mismatch: dict[str, str] = field(default_factory=dict)  # target key -> "src shape vs dst shape"
    missing: list[str] = field(default_factory=list)              # video-branch target keys not in the file
    unused: list[str] = field(default_factory=list)               # source keys nothing was mapped to

    def __str__(self) -> str:
        lines = [f"video-branch init from {self.source}: {len(self.loaded)} tensors loaded, "
                 f"{len(self.shape_mismatch)} shape mismatches, {len(self.missing)} missing, "
                 f"{len(self.unused)} unused source tensors"]
        for k, why in self.shape_mismatch.items():
            lines.append(f"  shape mismatch {k}: {why}")
        if self.missing:
            lines.append("  missing (kept random): " + ", ".join(self.missing[:12])
                         + (" ..." if len(self.missing) > 12 else ""))
        if self.unused:
            lines.append("  unused: " + ", ".join(self.unused[:12]) + (" ..." if len(self.unused) > 12 else ""))
        return "\n".join(lines)


_PREFIXES = ("module.", "model.", "encoder.", "backbone.", "videomae.")


def _videomae_state(path_or_state: str | Path | dict[str, torch.Tensor]) -> tuple[str, dict[str, torch.Tensor]]:
    """(source name, state dict of tensors) of a VideoMAE-style file or dict, its ``model`` /
    ``state_dict`` / ``module`` wrappers unwrapped (each in turn, as nested as they come)."""
    source = "<state_dict>"
    if isinstance(path_or_state, (str, Path)):
        source = str(path_or_state)
        state = safe_torch_load(path_or_state)
    else:
        state = path_or_state
    for key in ("model", "state_dict", "module"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: expected a state dict of tensors")
    return source, state


def _strip_prefixes(key: str) -> str:
    """``key`` without any run of the wrapper prefixes (``module.encoder.blocks.0...`` -> ``blocks.0...``)."""
    changed = True
    while changed:
        changed = False
        for pre in _PREFIXES:
            if key.startswith(pre):
                key, changed = key[len(pre):], True
    return key


def _videomae_targets(keys: Sequence[str], cfg: HSTAConfig) -> dict[str, str]:
    """Model key -> (prefix-free) source key for every source key that has a place in the video branch."""
    # VideoMAE's blocks fill the video USTA blocks in order, stage by stage (stages may differ in depth)
    slots = [(k, j) for k, n in enumerate(cfg.blocks("video")) for j in range(n)]
    mapped: dict[str, str] = {}
    for k in keys:
        m = re.match(r"blocks\.(\d+)\.(.+)$", k)
        if m:
            i = int(m.group(1))
            if i < len(slots):
                stage, j = slots[i]
                mapped[f"stages.{stage}.usta.video.blocks.{j}.{m.group(2)}"] = k
        elif k.startswith("patch_embed.proj."):
            mapped["embed.video.proj." + k[len("patch_embed.proj."):]] = k
        elif k == "cls_token":
            mapped["embed.video.cls_token"] = k
        elif k.startswith(("norm.", "fc_norm.")):
            mapped["norm.video." + k.split(".", 1)[1]] = k
    return mapped


def load_video_pretrained(model: nn.Module, path_or_state: str | Path | dict[str, torch.Tensor], *,
                          strict_shapes: bool = False) -> LoadReport:
    """Initialise the video branch of an HSTA model from a local VideoMAE-style checkpoint.

    Source keys (after stripping ``module.``/``encoder.``/... prefixes and unwrapping a
    ``model``/``state_dict`` entry): ``patch_embed.proj.*`` -> ``embed.video.proj.*``,
    ``cls_token`` -> ``embed.video.cls_token``, ``blocks.{i}.*`` -> the i-th video USTA block
    counted across stages (stage ``i // M``, block ``i % M``), ``norm.*`` / ``fc_norm.*`` ->
    ``norm.video.*``. Tensors whose shapes differ are skipped and reported (or raise with
    ``strict_shapes``). Nothing is downloaded: the file must be local. Loads weights_only.
    """
    source, state = _videomae_state(path_or_state)
    clean, original = {}, {}
    for k0, v in state.items():
        k = _strip_prefixes(k0)
        clean[k], original[k] = v, k0
    cfg = getattr(model, "config", None)
    if cfg is None or "video" not in getattr(cfg, "modalities", ()):
        raise ConfigError("load_video_pretrained needs an HSTA model with a video branch")
    mapped = _videomae_targets(list(clean), cfg)
    target = model.state_dict()
    report = LoadReport(source=source)
    new_state = {}
    for dst, src in mapped.items():
        if dst not in target:
            continue
        if tuple(clean[src].shape) != tuple(target[dst].shape):
            why = f"{tuple(clean[src].shape)} in file vs {tuple(target[dst].shape)} in model"
            if strict_shapes:
                raise CheckpointError(f"{source}: {src} -> {dst}: {why}")
            report.shape_mismatch[dst] = why
            continue
        new_state[dst] = clean[src].to(target[dst].dtype)
        report.loaded[dst] = original[src]
    used = {mapped[d] for d in report.loaded} | {mapped[d] for d in report.shape_mismatch}
    report.unused = sorted(original[k] for k in clean if k not in used)
    video_keys = [k for k in target if k.startswith(("embed.video.", "norm.video.")) or ".usta.video." in k]
    report.missing = sorted(k for k in video_keys if k not in report.loaded)
    model.load_state_dict(new_state, strict=False)
    return report
