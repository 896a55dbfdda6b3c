"""Load checkpoints of the authors' reference implementation into an hsta_edu model.

The reference names branch 0 "special" and branch 1 "video" and keeps its sizes in lists
(``img_size``, ``patch_size``, ``embed_dim``, ``num_heads``, ``mlp_ratio``, ``depth``,
``all_frames``); its model takes one tensor (B, 3, T + 2, H, W) whose last two frames are
the onset and apex. This module translates both the config and the state-dict names, and
checks every tensor's shape so a checkpoint of another configuration fails clearly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch

from ..errors import CheckpointError, ConfigError
from ..io import safe_torch_load
from .hsta import HSTA, HSTAConfig

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


def load_reference_checkpoint(path_or_state_dict: str | os.PathLike | Mapping, config: Mapping | HSTAConfig | None = None,
                              ) -> HSTA:
    """Build an hsta_edu model with the weights of a reference-implementation checkpoint.

    ``path_or_state_dict``: a file (loaded with ``weights_only=True``) holding a state dict or a
    dict with ``state_dict``/``model``/``module`` (and optionally ``config``), or such a dict.
    ``config``: the reference's config dict or an HSTAConfig; needed when the file has none.
    The model is returned in eval mode; its logits equal the reference model's, and it takes
    the reference's inputs as they are (`HSTA.accept_reference_input`): ``model(x)`` with the
    single (B, 3, T + 2, H, W) tensor at the reference's sizes (224 px special frames for the
    paper's model, of which the stride-12 tubelet reads the top-left 216), or the two branch
    tensors at either the reference's or the model's own sizes.
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
    return model.accept_reference_input(*sizes).eval()
