"""HSTA: K stages of (USTA per modality, then CSTA), final norms and a head on the two [CLS].

Modalities are named ``"special"`` (onset + apex frames, or onset + optical flow) and
``"video"`` (T uniformly sampled frames). The paper's configuration is the preset
``hsta-base`` (81,887,623 parameters with 7 classes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

import torch
from torch import nn

from ..errors import ConfigError, DataError, check_fields
from ..typed_fields import check_field_types
from .csta import CSTA
from .embed import TubeletEmbedding
from .usta import USTA

MODALITIES = ("special", "video")  # canonical order: the head reads concat(CLS_special, CLS_video)


def check_modality(modality: str) -> str:
    """``modality`` itself, or ConfigError when it is not "special" or "video"."""
    if modality not in MODALITIES:
        raise ConfigError(f"unknown modality {modality!r}; expected one of {MODALITIES}")
    return modality


def other(modality: str) -> str:
    """The other branch: 'video' <-> 'special' (CSTA pairs each branch with the other)."""
    return MODALITIES[1 - MODALITIES.index(check_modality(modality))]


class Branch(NamedTuple):
    """The sizes of one modality's branch. ``blocks`` holds the USTA blocks of every stage."""

    frames: int
    img_size: int
    patch_size: int
    dim: int
    heads: int
    mlp_ratio: float
    blocks: tuple[int, ...]


def _per_stage(name: str, value, num_stages: int):
    """An int (the same in every stage) or one int per stage; all-equal lists collapse to the int."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a non-negative integer or one per stage, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        return value
    try:
        values = tuple(value)
    except TypeError:
        raise ConfigError(f"{name} must be a non-negative integer or one per stage, got {value!r}") from None
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ConfigError(f"{name} must hold non-negative integers, one per stage, got {value!r}")
    if len(values) != num_stages:
        raise ConfigError(f"{name}={list(values)} has {len(values)} entries but num_stages={num_stages}: "
                          f"give one per stage (or one integer for every stage)")
    if len(set(values)) <= 1:
        return values[0] if values else 0
    return values


_BLOCKS = "a non-negative integer (every stage) or non-negative integers, one per stage"


@dataclass(frozen=True)
class HSTAConfig:
    """Every size of the model. ``special_*`` fields describe the special-data branch, the
    unprefixed ones the video branch. Ablations are configuration, not forks:
    no USTA = ``video_blocks=0, special_blocks=0``; no CSTA = ``use_csta=False``;
    one branch = ``modalities=("video",)``; flow = ``special_input="flow"``.

    Blocks per stage: ``video_blocks`` and ``special_blocks`` are either one integer (the
    same in every stage, the short form) or one integer per stage, e.g.
    ``num_stages=3, special_blocks=(2, 1, 1), video_blocks=(1, 3, 1)``. The same model
    can be written as the reference writes it, one (special, video) pair per stage:
    ``stage_blocks=((2, 1), (1, 3), (1, 1))``; that form sets ``num_stages`` and both
    block fields and is then stored as them (``stage_blocks`` reads back as None); given
    to `preset_config`/`create_model` it is applied before the other overrides, so an
    ablation such as ``video_blocks=0, special_blocks=0`` still applies to it.
    Lists whose entries are all equal are stored as the integer, so both forms of a
    uniform model compare equal and save the same."""

    num_classes: int = 7
    img_size: int = 224               # side of the video frames
    special_img_size: int = 216       # side of the special frames (a multiple of special_patch_size)
    num_frames: int = 6               # T video frames (multiple of tubelet_size)
    in_chans: int = 3
    tubelet_size: int = 2
    patch_size: int = 16
    special_patch_size: int = 12
    embed_dim: int = 768
    special_embed_dim: int = 384
    num_heads: int = 12
    special_num_heads: int = 12
    mlp_ratio: float = 4.0
    special_mlp_ratio: float = 4.0
    num_stages: int = 4               # K
    # M (video) and N (special data) USTA blocks per stage, or one per stage
    video_blocks: int | tuple[int, ...] = field(default=2, metadata={"expects": _BLOCKS})
    special_blocks: int | tuple[int, ...] = field(default=1, metadata={"expects": _BLOCKS})
    use_csta: bool = True
    modalities: tuple[str, ...] = MODALITIES
    special_input: str = "frames"     # "frames" (onset, apex) or "flow" (onset, flow onset->apex)
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    head_drop_rate: float = 0.0
    stage_blocks: tuple[tuple[int, int], ...] | None = field(  # constructor shorthand, see above
        default=None, metadata={"expects": "one (special_blocks, video_blocks) pair per stage, or none"})

    def __post_init__(self) -> None:
        check_field_types(self)   # the annotations above: num_classes=True or drop_rate=nan is refused, named
        object.__setattr__(self, "modalities", tuple(self.modalities))
        if self.stage_blocks is not None:
            try:
                pairs = [tuple(p) for p in self.stage_blocks]
            except TypeError:
                pairs = [()]
            if any(len(p) != 2 for p in pairs):
                raise ConfigError(f"stage_blocks must be one (special_blocks, video_blocks) pair per stage, "
                                  f"got {self.stage_blocks!r}")
            object.__setattr__(self, "num_stages", len(pairs))
            object.__setattr__(self, "special_blocks", tuple(p[0] for p in pairs))
            object.__setattr__(self, "video_blocks", tuple(p[1] for p in pairs))
            object.__setattr__(self, "stage_blocks", None)
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ConfigError(f"modalities must be a non-empty subset of {MODALITIES}, got {self.modalities!r}")
        if self.special_input not in ("frames", "flow"):
            raise ConfigError(f"special_input must be 'frames' or 'flow', got {self.special_input!r}")
        for name in ("num_classes", "img_size", "special_img_size", "num_frames", "in_chans", "tubelet_size",
                     "patch_size", "special_patch_size", "embed_dim", "special_embed_dim", "num_heads",
                     "special_num_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.num_stages, bool) or not isinstance(self.num_stages, int) or self.num_stages < 0:
            raise ConfigError(f"num_stages must be a non-negative integer, got {self.num_stages!r}")
        for name in ("video_blocks", "special_blocks"):
            object.__setattr__(self, name, _per_stage(name, getattr(self, name), self.num_stages))
        for name in ("drop_rate", "attn_drop_rate", "drop_path_rate", "head_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        if self.num_frames % self.tubelet_size:
            raise ConfigError(f"num_frames={self.num_frames} is not divisible by tubelet_size={self.tubelet_size}")
        if 2 % self.tubelet_size:
            raise ConfigError(f"the special data has 2 frames: tubelet_size={self.tubelet_size} must divide 2")
        for name in ("mlp_ratio", "special_mlp_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        for m in MODALITIES:
            b = self.branch(m)
            if b.img_size % b.patch_size:
                raise ConfigError(f"{m}: image size {b.img_size} is not divisible by patch size {b.patch_size}")
            if b.dim % b.heads:
                raise ConfigError(f"{m}: embed_dim {b.dim} is not divisible by num_heads {b.heads}")
            if int(b.dim * b.mlp_ratio) < 1:
                raise ConfigError(f"{m}: mlp_ratio {b.mlp_ratio} leaves an MLP of no units at dim {b.dim}")

    def blocks(self, modality: str) -> tuple[int, ...]:
        """USTA blocks of ``modality`` in each stage (one entry per stage)."""
        value = self.video_blocks if modality == "video" else self.special_blocks
        return tuple(value) if isinstance(value, tuple) else (value,) * self.num_stages

    @property
    def depths(self) -> tuple[tuple[int, int], ...]:
        """(special_blocks, video_blocks) of every stage: the reference's ``depth`` without its unused 0."""
        return tuple(zip(self.blocks("special"), self.blocks("video"), strict=True))

    def branch(self, modality: str) -> Branch:
        """The `Branch` sizes of a modality ("special" or "video")."""
        if modality == "video":
            return Branch(self.num_frames, self.img_size, self.patch_size, self.embed_dim, self.num_heads,
                          self.mlp_ratio, self.blocks("video"))
        if modality == "special":
            return Branch(2, self.special_img_size, self.special_patch_size, self.special_embed_dim,
                          self.special_num_heads, self.special_mlp_ratio, self.blocks("special"))
        raise ConfigError(f"unknown modality {modality!r}; expected one of {MODALITIES}")

    @property
    def csta_active(self) -> bool:
        return self.use_csta and len(self.modalities) == 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["modalities"] = list(self.modalities)
        for name in ("video_blocks", "special_blocks"):
            if isinstance(d[name], tuple):
                d[name] = list(d[name])
        del d["stage_blocks"]  # always None once built: the per-modality fields say it all
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HSTAConfig:
        check_fields(cls, d, "HSTAConfig field(s)")
        return cls(**d)


_PRESETS: dict[str, HSTAConfig] = {
    # The paper's configuration (= the reference training script's model). The reference feeds
    # 224 px special frames to a stride-12 tubelet conv, which only ever sees the first
    # 18 * 12 = 216 rows and columns; hsta-base takes those 216 px directly.
    "hsta-base": HSTAConfig(special_img_size=216, drop_rate=0.2, drop_path_rate=0.2),
    # A mid-size model for a single consumer GPU at 112 px.
    "hsta-small": HSTAConfig(img_size=112, special_img_size=112, patch_size=16, special_patch_size=8,
                             embed_dim=384, special_embed_dim=192, num_heads=6, special_num_heads=6,
                             num_stages=2, video_blocks=2, special_blocks=1, drop_rate=0.1,
                             drop_path_rate=0.1),
    # Trains on a 2-core laptop CPU in minutes at 48 px.
    "hsta-tiny": HSTAConfig(img_size=48, special_img_size=48, patch_size=8, special_patch_size=8,
                            embed_dim=64, special_embed_dim=64, num_heads=4, special_num_heads=4,
                            mlp_ratio=2.0, special_mlp_ratio=2.0, num_stages=2, video_blocks=1,
                            special_blocks=1, drop_rate=0.0, drop_path_rate=0.05),
}


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def preset_config(name: str, **overrides) -> HSTAConfig:
    """The preset's HSTAConfig with ``overrides`` applied (ConfigError naming unknown names)."""
    if name not in _PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {list_presets()}")
    check_fields(HSTAConfig, overrides, "model option(s)")
    cfg = _PRESETS[name]
    if overrides.get("stage_blocks") is not None:
        # the per-stage shape first, so that an ablation given with it (video_blocks=0, ...) still applies
        cfg = replace(cfg, stage_blocks=overrides.pop("stage_blocks"))
    return replace(cfg, **overrides)


#: The paper's ablations (Table 5) and the flow variant, as HSTAConfig overrides: the command
#: line's ``--no-usta``, ``--no-csta``, ``--video-only``, ``--special-only`` and ``--flow``.
ABLATIONS: dict[str, dict[str, object]] = {
    "no_usta": {"video_blocks": 0, "special_blocks": 0},
    "no_csta": {"use_csta": False},
    "video_only": {"modalities": ("video",)},
    "special_only": {"modalities": ("special",)},
    "flow": {"special_input": "flow"},
}


def ablation_overrides(no_usta: bool = False, no_csta: bool = False, video_only: bool = False,
                       special_only: bool = False, flow: bool = False) -> dict[str, object]:
    """HSTAConfig overrides of the chosen `ABLATIONS`, merged (for `create_model`/`preset_config`);
    ConfigError for ``video_only`` with ``special_only``, which would leave no branch."""
    if video_only and special_only:
        raise ConfigError("video_only and special_only exclude each other: together they leave no branch")
    chosen = {"no_usta": no_usta, "no_csta": no_csta, "video_only": video_only, "special_only": special_only,
              "flow": flow}
    out: dict[str, object] = {}
    for name, on in chosen.items():
        if on:
            out.update(ABLATIONS[name])
    return out


@dataclass
class AttentionMaps:
    """Every attention map of one forward pass (explicit path).

    usta[stage][modality][block]: (B, heads, 1 + N, 1 + N), rows = queries, token 0 = [CLS].
    csta[stage][modality]: (B, heads_other, 1, 1 + N_other): what this modality's projected
        [CLS] takes from [itself, the other modality's patch tokens].
    grids[modality]: token grid (t, h, w); patch[modality]: tubelet size (frames, px, px).
    """

    usta: list[dict[str, list[torch.Tensor]]] = field(default_factory=list)
    csta: list[dict[str, torch.Tensor]] = field(default_factory=list)
    grids: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    patch: dict[str, tuple[int, int, int]] = field(default_factory=dict)


class HSTAStage(nn.Module):
    """One stage: USTA on each modality, then the symmetric CSTA [CLS] exchange."""

    def __init__(self, cfg: HSTAConfig, stage: int, drop_path: dict[str, list[float]]) -> None:
        super().__init__()
        self.usta = nn.ModuleDict()
        for m in cfg.modalities:
            b = cfg.branch(m)
            self.usta[m] = USTA(b.dim, b.blocks[stage], b.heads, b.mlp_ratio, cfg.qkv_bias, cfg.drop_rate,
                                cfg.attn_drop_rate, drop_path[m])
        self.csta = nn.ModuleDict()
        if cfg.csta_active:
            for m in MODALITIES:
                to = cfg.branch(other(m))
                self.csta[m] = CSTA(cfg.branch(m).dim, to.dim, to.heads, cfg.attn_drop_rate, cfg.drop_rate)

    def forward(self, tokens: dict[str, torch.Tensor], maps: AttentionMaps | None = None):
        usta_maps: dict[str, list[torch.Tensor]] = {}
        for m, usta in self.usta.items():
            if maps is not None:
                tokens[m], usta_maps[m] = usta(tokens[m], return_attention=True)
            else:
                tokens[m] = usta(tokens[m])
        csta_maps: dict[str, torch.Tensor] = {}
        if len(self.csta):
            new_cls = {}
            for m in MODALITIES:
                out = self.csta[m](tokens[m][:, :1], tokens[other(m)][:, 1:], return_attention=maps is not None)
                if maps is not None:
                    new_cls[m], csta_maps[m] = out
                else:
                    new_cls[m] = out
            tokens = {m: torch.cat([new_cls[m], tokens[m][:, 1:]], dim=1) for m in tokens}
        if maps is not None:
            maps.usta.append(usta_maps)
            maps.csta.append(csta_maps)
        return tokens


class HSTA(nn.Module):
    """The Hierarchical Space-Time Attention network.

    ``forward(video (B,C,T,H,W), special (B,C,2,H',W'))`` -> logits (B, num_classes);
    with ``return_attention=True`` -> (logits, AttentionMaps). Inputs of any other shape are
    refused with a DataError naming the expected one. (The reference implementation's single
    (B, C, T + 2, H, W) tensor and image sizes are taken by `ReferenceInputAdapter`, the wrapper
    around an HSTA that `load_reference_checkpoint` returns.)
    """

    def __init__(self, config: HSTAConfig) -> None:
        super().__init__()
        self.config = cfg = config
        self.check_inputs = True
        self.embed = nn.ModuleDict()
        for m in cfg.modalities:
            b = cfg.branch(m)
            self.embed[m] = TubeletEmbedding(cfg.in_chans, b.dim, b.img_size, b.patch_size, b.frames,
                                             cfg.tubelet_size)
        # stochastic depth rises linearly over each branch's blocks, in order, across the stages
        rates: dict[str, list[list[float]]] = {}
        for m in cfg.modalities:
            depths = cfg.blocks(m)
            total = sum(depths)
            flat = torch.linspace(0, cfg.drop_path_rate, total).tolist() if total else []
            starts = [sum(depths[:k]) for k in range(cfg.num_stages)]
            rates[m] = [flat[s:s + d] for s, d in zip(starts, depths, strict=True)]
        self.stages = nn.ModuleList(
            HSTAStage(cfg, k, {m: rates[m][k] for m in cfg.modalities}) for k in range(cfg.num_stages))
        self.norm = nn.ModuleDict({m: nn.LayerNorm(cfg.branch(m).dim, eps=1e-6) for m in cfg.modalities})
        self.head_drop = nn.Dropout(cfg.head_drop_rate)
        self.head = nn.Linear(sum(cfg.branch(m).dim for m in self.modalities), cfg.num_classes)
        self.apply(_init_weights)
        for emb in self.embed.values():
            nn.init.trunc_normal_(emb.cls_token, std=0.02)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.config.modalities)

    def token_grid(self, modality: str) -> tuple[int, int, int]:
        """Token grid (t, h, w) of a modality's patch tokens."""
        return self.embed[modality].grid

    def input_shape(self, modality: str) -> tuple[int, int, int, int]:
        """Expected (C, T, H, W) of one sample of ``modality``."""
        b = self.config.branch(modality)
        return (self.config.in_chans, b.frames, b.img_size, b.img_size)

    def layer_id(self, name: str) -> int:
        """Depth of a parameter for layer-wise lr decay: 0 embeddings, k+1 stage k, K+1 norm/head."""
        if name.startswith("embed."):
            return 0
        if name.startswith("stages."):
            return int(name.split(".")[1]) + 1
        return self.config.num_stages + 1

    def parameter_table(self) -> dict[str, int]:
        """Parameters per part: embeddings, USTA blocks, CSTA exchange, final norms + head."""
        parts = {"embeddings": 0, "USTA": 0, "CSTA": 0, "norms + head": 0}
        for name, p in self.named_parameters():
            key = ("embeddings" if name.startswith("embed.") else "USTA" if ".usta." in name
                   else "CSTA" if ".csta." in name else "norms + head")
            parts[key] += p.numel()
        parts["total"] = sum(parts.values())
        return parts

    def no_weight_decay(self) -> set[str]:
        """Names of parameters never decayed beyond the 1-D ones: the [CLS] tokens."""
        return {f"embed.{m}.cls_token" for m in self.modalities}

    def _check(self, name: str, x: torch.Tensor | None) -> None:
        if x is None:
            raise DataError(f"this model uses the {name} input, got None")
        want = self.input_shape(name)
        if x.ndim != 5 or tuple(x.shape[1:]) != want:
            raise DataError(f"{name} input must have shape (B, {', '.join(map(str, want))}) "
                            f"(B, C, T, H, W), got {tuple(x.shape)}")
        if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():   # a finite sum: every value is finite
            raise DataError(f"{name} input contains NaN or infinite values")

    def forward(self, video: torch.Tensor | None, special: torch.Tensor | None = None,
                return_attention: bool = False):
        inputs = {"video": video, "special": special}
        if self.check_inputs:
            for m in self.modalities:
                self._check(m, inputs[m])
        tokens = {m: self.embed[m](inputs[m]) for m in self.modalities}
        maps = None
        if return_attention:
            maps = AttentionMaps(grids={m: self.token_grid(m) for m in self.modalities},
                                 patch={m: self.embed[m].patch for m in self.modalities})
        for stage in self.stages:
            tokens = stage(tokens, maps)
        cls = torch.cat([self.norm[m](tokens[m][:, 0]) for m in self.modalities], dim=-1)
        logits = self.head(self.head_drop(cls))
        return (logits, maps) if return_attention else logits


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def create_model(name: str = "hsta-tiny", **overrides) -> HSTA:
    """Build a preset ("hsta-tiny", "hsta-small", "hsta-base") with HSTAConfig overrides."""
    return HSTA(preset_config(name, **overrides))
