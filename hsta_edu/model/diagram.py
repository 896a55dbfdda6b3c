"""The HSTA architecture drawn from its configuration: `plot_architecture(config_or_model)`.

The diagram reads only the `HSTAConfig` (of a model, a preset name or the config itself) and draws
what that configuration builds, top to bottom: each branch's input and tubelet embedding (patch size,
token grid and count, width D), the K stages with each branch's USTA blocks of that stage (stages may
differ; a stage without blocks shows the tokens passing through), the CSTA [CLS] exchange after every
stage (arrows between the branches, with the D_i -> D_j projection when the widths differ), the final
norms and the head on concat([CLS] special, [CLS] video). Ablations show as what they are: no CSTA, no
exchange arrows; one modality, one branch. The figure is sized from K and the block counts (a fixed
font on an inch grid), so no two texts overlap. Like the package's other figures it is a
`matplotlib.figure.Figure` built without pyplot's global state.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..errors import ConfigError
from .hsta import MODALITIES, HSTAConfig, preset_config

__all__ = ["plot_architecture"]

FONT = 7.5           # points, every box text
COL_W = 2.75         # inches: width of a branch's column
GAP = 1.5            # inches between the two columns (the CSTA arrows and their labels)
EDGE = 0.35          # inches from the figure edge to a column
BLOCK_H, BLOCK_GAP = 0.34, 0.12
COLOURS = {"input": "#eeeeee", "embed": "#d9e7f5", "usta": "#fde9c8", "empty": "white", "csta": "#dcefd8",
           "norm": "#e8e0f2", "head": "#f7d6d6", "stage": "#fafafa"}


def _config(obj: Any) -> HSTAConfig:
    """An `HSTAConfig` from a config, a model (its ``config``), a preset name or a config dict."""
    if isinstance(obj, str):
        return preset_config(obj)
    obj = getattr(obj, "config", obj)
    if isinstance(obj, dict):
        return HSTAConfig.from_dict(obj)
    if not isinstance(obj, HSTAConfig):
        raise ConfigError(f"plot_architecture needs an HSTAConfig, an HSTA model or a preset name, "
                          f"got {type(obj).__name__}")
    return obj


class _Canvas:
    """An axis on an inch grid (y grows downwards) with boxes, arrows and labels."""

    def __init__(self, width: float, height: float) -> None:
        self.fig = Figure(figsize=(width, height))
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.ax.axis("off")

    def box(self, x: float, y: float, w: float, h: float, text: str, kind: str, gid: str = "",
            dashed: bool = False) -> None:
        """A rounded box with its top-left corner at (x, y) and ``text`` in its centre."""
        self.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                         fc=COLOURS[kind], ec="grey" if dashed else "black", lw=0.8,
                                         ls="--" if dashed else "-", zorder=2, gid=f"{gid}:box" if gid else None))
        self.text(x + w / 2, y + h / 2, text, gid=gid, colour="dimgrey" if dashed else "black")

    def text(self, x: float, y: float, text: str, gid: str = "", colour: str = "black", size: float = FONT,
             ha: str = "center", va: str = "center", **kw: Any) -> None:
        self.ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=colour, zorder=3, gid=gid or None,
                     linespacing=1.25, **kw)

    def arrow(self, start: tuple[float, float], end: tuple[float, float], gid: str = "", colour: str = "black",
              zorder: int = 1, lw: float = 1.0) -> None:
        self.ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color=colour, lw=lw,
                                          shrinkA=0, shrinkB=0, zorder=zorder, gid=gid or None))


def _branch_texts(cfg: HSTAConfig, m: str) -> tuple[str, str]:
    """The input and the tubelet-embedding texts of branch ``m``."""
    b = cfg.branch(m)
    t, side = b.frames // cfg.tubelet_size, b.img_size // b.patch_size
    if m == "special":
        what = "onset + optical flow" if cfg.special_input == "flow" else "onset + apex frames"
        source = f"special input: {what}\n{cfg.in_chans} x 2 x {b.img_size} x {b.img_size} px"
    else:
        source = f"video input: T = {b.frames} frames\n{cfg.in_chans} x {b.frames} x {b.img_size} x {b.img_size} px"
    embed = (f"tubelet embedding {cfg.tubelet_size} x {b.patch_size} x {b.patch_size}\n"
             f"{t} x {side} x {side} = {t * side * side} tokens + [CLS], D = {b.dim}")
    return source, embed


def _csta_text(cfg: HSTAConfig, m: str) -> str:
    d_from, d_to = cfg.branch(m).dim, cfg.branch(MODALITIES[1 - MODALITIES.index(m)]).dim
    other = "video" if m == "special" else "special"
    dims = f"[CLS] {d_from} → {d_to} → {d_from}" if d_from != d_to else f"[CLS], D = {d_from}"
    return f"CSTA: {dims}\nattends to the {other} tokens"


def _stage_height(cfg: HSTAConfig, branches: list[str], k: int) -> float:
    most = max(max(cfg.branch(m).blocks[k], 1) for m in branches)
    return 0.34 + most * (BLOCK_H + BLOCK_GAP) + (0.66 if cfg.csta_active else 0.0) + 0.06


def _title(cfg: HSTAConfig, branches: list[str]) -> str:
    notes = [f"K = {cfg.num_stages} stage{'s' * (cfg.num_stages != 1)}", f"{cfg.num_classes} classes"]
    if len(branches) == 1:
        notes.append(f"{branches[0]} branch only")
    elif not cfg.use_csta:
        notes.append("no CSTA: the branches never exchange")
    return "HSTA architecture\n" + ", ".join(notes)


def _stage(c: _Canvas, cfg: HSTAConfig, branches: list[str], xs: dict[str, float], k: int, y: float) -> float:
    """Stage ``k`` from depth ``y``: its frame, label, USTA blocks and CSTA exchange; returns its bottom."""
    h = _stage_height(cfg, branches, k)
    width = c.ax.get_xlim()[1]
    c.ax.add_patch(FancyBboxPatch((0.12, y), width - 0.24, h, boxstyle="round,pad=0,rounding_size=0.08",
                                  fc=COLOURS["stage"], ec="grey", lw=0.8, ls=":", zorder=0))
    c.text(0.22, y + 0.17, f"stage {k + 1} of {cfg.num_stages}", gid=f"stage:{k}", ha="left", size=8,
           fontweight="bold")
    counts = " + ".join(f"{cfg.branch(m).blocks[k]} {m}" for m in branches)
    c.text(width - 0.22, y + 0.17, f"USTA blocks: {counts}", ha="right", colour="dimgrey", size=7)
    top = y + 0.34
    for m in branches:
        b = cfg.branch(m)
        for j in range(b.blocks[k]):
            c.box(xs[m], top + j * (BLOCK_H + BLOCK_GAP), COL_W, BLOCK_H,
                  f"USTA block {j + 1}: {b.heads} heads, MLP {int(b.dim * b.mlp_ratio)}", "usta",
                  gid=f"usta:{m}:{k}:{j}")
        if b.blocks[k] == 0:
            c.box(xs[m], top, COL_W, BLOCK_H, "no USTA block: tokens pass through", "empty",
                  gid=f"empty:{m}:{k}", dashed=True)
    if cfg.csta_active:
        cy = y + h - 0.06 - 0.58
        for m in branches:
            c.box(xs[m], cy, COL_W, 0.5, _csta_text(cfg, m), "csta", gid=f"csta:{m}:{k}")
        left, right = xs["special"] + COL_W, xs["video"]
        mid = (left + right) / 2
        c.arrow((right, cy + 0.17), (left, cy + 0.17), gid=f"exchange:special:{k}", colour="tab:green")
        c.arrow((left, cy + 0.33), (right, cy + 0.33), gid=f"exchange:video:{k}", colour="tab:green")
        c.text(mid, cy + 0.11, "video tokens", va="bottom", size=6.5, colour="tab:green")
        c.text(mid, cy + 0.39, "special tokens", va="top", size=6.5, colour="tab:green")
    return y + h


def plot_architecture(config_or_model: Any, title: str | None = None) -> Figure:
    """The HSTA network a configuration builds, as a diagram: ``config_or_model`` is an `HSTAConfig`,
    an `HSTA` model (its ``config``), a preset name ("hsta-tiny", "hsta-base", ...) or a config dict.

    Branches (special left, video right, in the model's order), each from its input through the
    tubelet embedding (patch, token grid, token count, width D), then K stages: the branch's USTA
    blocks of that stage (heads, MLP width; a dashed box where the stage has none) and, when CSTA is
    on and both branches exist, the [CLS] exchange (each branch's [CLS] projected to the other's
    width, attending to its tokens, projected back: arrows between the branches), then the final
    LayerNorms and the linear head on the concatenated [CLS] tokens. The height follows K and the
    block counts; every text has its own space. ``title`` replaces the generated one."""
    cfg = _config(config_or_model)
    branches = [m for m in MODALITIES if m in cfg.modalities]
    two = len(branches) == 2
    width = 2 * EDGE + COL_W * len(branches) + GAP * two
    stages = sum(_stage_height(cfg, branches, k) + 0.22 for k in range(cfg.num_stages))
    height = 0.75 + 0.5 + 0.3 + 0.55 + 0.3 + stages + 0.42 + 0.4 + 0.55 + 0.15
    c = _Canvas(width, height)
    xs = {m: EDGE + i * (COL_W + GAP) for i, m in enumerate(branches)}
    c.text(width / 2, 0.38, title or _title(cfg, branches), size=9)
    y = 0.75
    for m in branches:
        source, embed = _branch_texts(cfg, m)
        c.box(xs[m], y, COL_W, 0.5, source, "input", gid=f"input:{m}")
        c.arrow((xs[m] + COL_W / 2, y + 0.5), (xs[m] + COL_W / 2, y + 0.8))
        c.box(xs[m], y + 0.8, COL_W, 0.55, embed, "embed", gid=f"embed:{m}")
    y += 0.8 + 0.55 + 0.3
    stream_top = y - 0.3
    for k in range(cfg.num_stages):
        y = _stage(c, cfg, branches, xs, k, y) + 0.22
    for m in branches:       # the token stream of each branch, behind its blocks
        c.arrow((xs[m] + COL_W / 2, stream_top), (xs[m] + COL_W / 2, y), colour="grey", zorder=1, lw=1.2)
        c.box(xs[m], y, COL_W, 0.42, f"final LayerNorm → [CLS] {m}, D = {cfg.branch(m).dim}", "norm",
              gid=f"norm:{m}")
    y += 0.42 + 0.4
    dims = [cfg.branch(m).dim for m in branches]
    inputs = "concat([CLS] special, [CLS] video)" if two else f"[CLS] {branches[0]}"
    hw = min(width - 2 * EDGE, COL_W * 1.4)
    c.box((width - hw) / 2, y, hw, 0.55,
          f"head: Linear on {inputs}\n{' + '.join(map(str, dims))}{f' = {sum(dims)}' if two else ''}"
          f" → {cfg.num_classes} classes", "head", gid="head")
    for m in branches:
        c.arrow((xs[m] + COL_W / 2, y - 0.4), (width / 2 + (0.3 if m == "video" and two else -0.3 * two), y))
    return c.fig
