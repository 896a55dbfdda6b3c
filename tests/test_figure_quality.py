"""Every public figure of the package is true and readable: rendered on a fixed small input, it is not
blank, every axes that shows data says what it shows (a title or axis labels), every coloured map has
a colour bar of its own scale, and no legend lies on a curve. A figure function without an entry in
`CASES` fails the completeness check."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from hsta_edu import viz
from hsta_edu.data import prep
from hsta_edu.data.figures import classes as class_plots
from hsta_edu.data.figures import clips as figures
from hsta_edu.data.figures import steps as step_figures
from hsta_edu.data.prep import FaceBox
from hsta_edu.data.synth import SAMPLES_CONFIG, render_clip
from hsta_edu.errors import ConfigError
from hsta_edu.explain import internals, plots
from hsta_edu.model import diagram

MODULES = (viz, plots, internals, figures, step_figures, class_plots, diagram)
GREY_MAPS = {"gray", "Greys", "binary", "bone", "gist_gray", "Greys_r"}


def _figure_functions() -> set[str]:
    """Public functions (not underscored, defined in the module itself) named plot_*/overlay*/compare_*
    or annotated to return a Figure."""
    out = set()
    for mod in MODULES:
        for name in [n for n in vars(mod) if not n.startswith("_")]:
            fn = getattr(mod, name)
            if not inspect.isfunction(fn) or fn.__module__ != mod.__name__:
                continue
            returns = str(inspect.signature(fn).return_annotation)
            if name.startswith(("plot_", "overlay", "compare_")) or "Figure" in returns:
                out.add(f"{mod.__name__.rsplit('.', 1)[-1]}.{name}")
    return out


# ----------------------------------------------------------------------------- fixed inputs

CFG = SAMPLES_CONFIG.replace(frame_size=(48, 48), face_size=40.0, duration=(0.04, 0.06))
_CLIP = None


def synth_clip():
    global _CLIP
    if _CLIP is None:
        _CLIP = render_clip(CFG, 1, "positive", 0)
    return _CLIP


def _clip_tensor():
    """A SynthME clip as the model's video (3, T, H, W), its true moving region and a map on it."""
    c = synth_clip()
    idx = np.rint(np.linspace(0, len(c.frames) - 1, 4)).astype(int)
    video = torch.from_numpy(c.frames[idx]).permute(3, 0, 1, 2).float() / 255
    heat = torch.from_numpy(np.hypot(*c.displacement)).expand(4, -1, -1) * torch.tensor([0, .3, 1, .5])[:, None, None]
    return video, heat, c.mask


def _near_uniform(shape=(4, 48, 48)) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    a = 1 + 0.05 * torch.rand(shape, generator=g)
    return a / a.sum()


def _history(n: int, val: bool = True) -> pd.DataFrame:
    e = np.arange(1, n + 1)
    d = {"epoch": e, "loss": 1.2 / e, "acc": 1 - 0.6 / e, "uf1": 0.9 - 0.6 / e, "lr": 1e-3 * np.cos(e / n)}
    if val:
        d.update(val_loss=1.3 / e, val_acc=0.8 - 0.5 / e, val_uf1=0.7 - 0.5 / e)
    return pd.DataFrame(d)


def _inputs():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 4, 16, 16, generator=g), torch.randn(3, 2, 16, 16, generator=g)


def _prepared_inputs():
    c = synth_clip()
    idx = np.rint(np.linspace(0, len(c.frames) - 1, 4)).astype(int)
    a = list(c.frame_numbers).index(c.apex)
    pcfg = prep.PrepConfig(img_size=c.frames.shape[1], num_frames=4, pool_factor=1)
    p = prep.PreparedClip(c.frames[idx], c.frames[0], c.frames[a], None)
    return p, pcfg


def _apex():
    c = synth_clip()
    return c.frames[list(c.frame_numbers).index(c.apex)]


def _attention(n: int = 9) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.softmax(torch.randn(4, n, n, generator=g), -1)


CASES = {
    "viz.plot_history": lambda: viz.plot_history({"fast": _history(4), "paper": _history(9, val=False)},
                                                 num_classes=3),
    "viz.plot_curves": lambda: viz.plot_curves({"a": pd.Series([0.1, 0.5, 0.2], index=[0, 0.5, 1]),
                                                "b": pd.Series([0.3, 0.1], index=[0.25, 2])},
                                               xlabel="epoch", ylabel="lr"),
    "viz.plot_confusion": lambda: viz.plot_confusion([[5, 1, 0], [2, 3, 1], [0, 1, 4]], ["a", "b", "c"]),
    "viz.plot_fold_scores": lambda: viz.plot_fold_scores(
        pd.DataFrame({"name": ["s1", "s2", "s3"], "uf1": [0.2, 0.6, 0.9]}), pooled=0.55, num_classes=3),
    "viz.plot_ablation": lambda: viz.plot_ablation(
        pd.DataFrame({"variant": ["full", "no CSTA"], "uf1": [.6, .5], "uar": [.62, .52], "accuracy": [.7, .6]}),
        num_classes=3),
    "viz.plot_learning_curve": lambda: viz.plot_learning_curve(
        [{"level": lv, "clips": 12 * s, "per_class": k, "uf1": 0.3 + 0.04 * s + 0.01 * seed, "seed": seed,
          "init": init} for lv in ("benchmark", "stronger") for s in (4, 6, 8) for k in (4, 6)
         for seed in (0, 1) for init in (False, True)], marks={"SAMM": 133}),
    "plots.overlay": lambda: plots.overlay(*_clip_tensor()[:2], frames=[1, 2, "mean"],
                                           true_region=_clip_tensor()[2], title="map"),
    "plots.plot_frame_importance": lambda: plots.plot_frame_importance({"a": _clip_tensor()[1],
                                                                        "b": _near_uniform()}),
    "plots.compare_methods": lambda: plots.compare_methods(
        _clip_tensor()[0], {"movement": _clip_tensor()[1], "attention": _near_uniform()}, frames=["mean", 2],
        true_region=_clip_tensor()[2]),
    "internals.plot_inputs": lambda: internals.plot_inputs(*_inputs()),
    "internals.plot_tubelets": lambda: internals.plot_tubelets(_inputs()[0], (2, 8, 8), max_frames=2),
    "internals.plot_position_table": lambda: internals.plot_position_table(torch.sin(torch.arange(72.0)
                                                                                     .reshape(9, 8))),
    "internals.plot_attention_matrix": lambda: internals.plot_attention_matrix(_attention(), grid=(2, 2, 2)),
    "internals.plot_token_map": lambda: internals.plot_token_map(_attention()[0, 0, 1:], (2, 2, 2), title="w"),
    "clips.plot_image_grid": lambda: figures.plot_image_grid([synth_clip().frames[0]] * 3, ["a", "b", "c"]),
    "clips.plot_clip_frames": lambda: figures.plot_clip_frames(
        synth_clip().frames, synth_clip().frame_numbers, {"onset": synth_clip().onset, "apex": synth_clip().apex},
        count=3, true_region=synth_clip().mask),
    "clips.plot_motion_curve": lambda: figures.plot_motion_curve(synth_clip()),
    "clips.plot_distractors": lambda: figures.plot_distractors(synth_clip()),
    "clips.plot_masks": lambda: figures.plot_masks(synth_clip().frames[0], synth_clip().masks,
                                                     synth_clip().displacement),
    "clips.plot_face_boxes": lambda: figures.plot_face_boxes([synth_clip().frames[0]], [FaceBox(4, 4, 36, 36, "haar")],
                                                               ["onset"]),
    "clips.plot_sampling": lambda: figures.plot_sampling(10, 20, [10, 13, 17, 20], [[11, 13, 16, 20]], apex=15),
    "clips.plot_flow_comparison": lambda: figures.plot_flow_comparison(
        synth_clip().frames[0], {"zero": np.zeros((48, 48, 2)), "truth": synth_clip().displacement.transpose(1, 2, 0)},
        synth_clip().mask, synth_clip().displacement),
    "clips.plot_timings": lambda: figures.plot_timings({"dis": 0.005, "tvl1": 0.5}, title="flow"),
    "clips.plot_batch": lambda: figures.plot_batch(torch.randn(2, 3, 4, 16, 16), torch.randn(2, 3, 2, 16, 16),
                                                     [0, 1], ["a", "b"]),
    "steps.plot_registration": lambda: step_figures.plot_registration(
        synth_clip().frames[0], np.roll(synth_clip().frames[0], 2, 1), synth_clip().frames[0], mask=synth_clip().mask),
    "steps.plot_magnification": lambda: step_figures.plot_magnification(
        synth_clip().frames[0], _apex(), np.clip(_apex().astype(int) * 1.1, 0, 255).astype(np.uint8), 4.0,
        mask=synth_clip().mask),
    "steps.plot_representations": lambda: step_figures.plot_representations(
        {"frames": prep.assemble(_prepared_inputs()[0], _prepared_inputs()[1].replace(representation="frames")),
         "difference": prep.assemble(_prepared_inputs()[0],
                                     _prepared_inputs()[1].replace(representation="difference"))}),
    "steps.plot_augmentation": lambda: step_figures.plot_augmentation(
        [prep.assemble(_prepared_inputs()[0], _prepared_inputs()[1].replace(representation="frames"))[0]] * 2,
        [{}, {"flip": True}]),
    "classes.plot_class_counts": lambda: class_plots.plot_class_counts({"megc3": {"neg": 8, "pos": 3}}, title="t"),
    "diagram.plot_architecture": lambda: diagram.plot_architecture("hsta-tiny"),
}


# ----------------------------------------------------------------------------- checks

def render(fig: Figure) -> np.ndarray:
    """Draw the figure with Agg and return its pixels (H, W, 4)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def _is_colourbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _shows_data(ax) -> bool:
    return bool(ax.lines or ax.images or ax.patches or ax.collections or ax.containers)


def _labelled(ax, fig: Figure) -> bool:
    if ax.get_title() or ax.get_xlabel() or ax.get_ylabel():
        return True
    if not ax.axison and not ax.images:              # a drawing (the diagram): its texts say it all
        return bool(ax.texts)
    spec = ax.get_subplotspec()
    if ax.images and spec is not None:               # an image grid: its column carries the title
        return any(o.get_title() for o in fig.axes if o.images and o.get_subplotspec() is not None
                   and o.get_subplotspec().colspan == spec.colspan)
    return False


def _maps(ax) -> list[AxesImage]:
    """Coloured scalar images of ``ax`` (not RGB, not grey, not a one-valued mask)."""
    out = []
    for im in ax.images:
        a = np.ma.asarray(im.get_array())
        if a.ndim != 2 or im.get_cmap().name in GREY_MAPS:
            continue
        if len(np.unique(a.compressed())) > 2:
            out.append(im)
    return out


def _has_bar(fig: Figure, im: AxesImage) -> bool:
    for ax in fig.axes:
        bar = getattr(ax, "_colorbar", None)
        if bar is not None and bar.mappable.get_cmap().name == im.get_cmap().name \
                and np.allclose(bar.mappable.get_clim(), im.get_clim()):
            return True
    return False


def _legend_on_curves(ax, renderer) -> list[str]:
    """Curves (data lines) with points under ``ax``'s legend, when the legend lies inside the axes."""
    legend = ax.get_legend()
    if legend is None:
        return []
    box = legend.get_window_extent(renderer)
    if not box.overlaps(ax.get_window_extent(renderer)):
        return []
    bad = []
    for line in ax.lines:
        if line.get_transform() != ax.transData:
            continue
        x, y = (np.asarray(v, float) for v in line.get_data())
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(x) > 1:           # points along the segments, not only the markers
            t = np.linspace(0, 1, 20)[:, None]
            x, y = (x[:-1] + t * np.diff(x)).ravel(), (y[:-1] + t * np.diff(y)).ravel()
        pts = ax.transData.transform(np.column_stack([x, y]))
        if any(box.contains(px, py) for px, py in pts):
            bad.append(line.get_label())
    return bad


def check_figure(name: str, fig: Figure) -> None:
    assert isinstance(fig, Figure), f"{name} returned {type(fig).__name__}, not a Figure"
    pixels = render(fig)[..., :3].astype(np.float32)
    assert pixels.std() > 8, f"{name}: the figure is blank (pixel std {pixels.std():.1f})"
    assert (pixels.min(-1) < 250).mean() > 0.01, f"{name}: almost nothing is drawn"
    renderer = fig.canvas.get_renderer()
    for i, ax in enumerate(fig.axes):
        if _is_colourbar(ax) or not _shows_data(ax):
            continue
        assert _labelled(ax, fig), f"{name}: axes {i} shows data without a title or axis labels"
        for im in _maps(ax):
            assert _has_bar(fig, im), (f"{name}: axes {i} ({ax.get_title()!r}) shows a {im.get_cmap().name} "
                                       "map without a colour bar of its scale")
        covered = _legend_on_curves(ax, renderer)
        assert not covered, f"{name}: axes {i}'s legend lies on the curves {covered}"
    labels = [t for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text()]
    for legend in [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends):
        box = legend.get_window_extent(renderer)
        hit = [t.get_text() for t in labels if box.overlaps(t.get_window_extent(renderer))]
        assert not hit, f"{name}: a legend covers the labels {hit}"


@pytest.fixture(autouse=True)
def _close_pyplot():
    yield
    plt.close("all")          # internals draws with pyplot


def test_every_figure_function_has_a_case():
    found = _figure_functions()
    assert found == set(CASES), (f"figure functions without a case: {sorted(found - set(CASES))}; "
                                 f"cases of no public figure function: {sorted(set(CASES) - found)}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_is_true_and_readable(name):
    check_figure(name, CASES[name]())


# ----------------------------------------------------------------------------- the findings, one by one

def test_history_draws_each_run_against_its_own_epochs():
    fig = viz.plot_history({"fast": _history(4), "paper": _history(9, val=False)})
    loss = fig.axes[0]
    lengths = sorted(len(line.get_xdata()) for line in loss.lines)
    assert lengths == [4, 4, 9]                                   # fast train + val, paper train
    for ax in fig.axes:
        for line in ax.lines:
            assert np.isfinite(np.asarray(line.get_ydata(), float)).all()
    # one table whose validation ran every other epoch: the val curve skips the gaps, never breaks
    gappy = _history(6)
    gappy.loc[::2, "val_loss"] = np.nan
    val = [ln for ln in viz.plot_history(gappy).axes[0].lines if ln.get_label() == "validation"][0]
    assert len(val.get_xdata()) == 3 and np.isfinite(val.get_ydata()).all()


def test_plot_curves_keeps_every_curve_whole():
    a, b = pd.Series([1.0, 2, 3], index=[0, 1, 2]), pd.Series([5.0, 4], index=[0.5, 7])
    fig = viz.plot_curves({"a": a, "b": b}, subplots=True)
    assert [len(ax.lines[0].get_xdata()) for ax in fig.axes] == [3, 2]
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_scores_show_the_chance_level():
    fig = CASES["viz.plot_fold_scores"]()
    assert any(t.startswith("chance 1/3") for t in _legend_texts(fig.axes[0]))
    chance = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("chance")][0]
    assert chance.get_linestyle() == "--" and chance.get_ydata()[0] == pytest.approx(1 / 3)
    assert any(t.startswith("chance") for t in _legend_texts(CASES["viz.plot_ablation"]().axes[0]))
    assert any(t.startswith("chance") for t in _legend_texts(CASES["viz.plot_history"]().axes[1]))
    assert not any(ln.get_label().startswith("chance") for ln in viz.plot_history(_history(3)).axes[1].lines)


def _bar_labels(fig: Figure) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes if _is_colourbar(ax)]


def test_near_uniform_maps_show_their_deviation_from_uniform():
    video = _clip_tensor()[0]
    flat = _near_uniform()
    auto = plots.overlay(video, flat, frames=[0])
    im = [i for ax in auto.axes for i in ax.images if i.get_cmap().name != "gray"][0]
    assert "uniform" in _bar_labels(auto)[0] and im.get_cmap().name == viz.DIVERGING
    lo, hi = im.get_clim()
    assert lo == pytest.approx(-hi) and hi < 0.1                   # +-5% around uniform, made visible
    absolute = plots.overlay(video, flat, frames=[0], scale="absolute")
    assert _bar_labels(absolute) == ["|map|"]
    assert "uniform" not in _bar_labels(plots.overlay(video, _clip_tensor()[1], frames=[2]))[0]  # a peaked map
    attn = torch.softmax(0.01 * torch.randn(9, 9), -1)
    assert "x N - 1 (N = 9 keys)" in _bar_labels(internals.plot_attention_matrix(attn))[0]
    assert _bar_labels(internals.plot_attention_matrix(attn, scale="absolute")) == ["attention weight"]
    assert "uniform" in _bar_labels(internals.plot_token_map(attn[0, 1:], (2, 2, 2)))[0]
    with pytest.raises(Exception, match="unknown map scale"):
        viz.map_scale(flat, "log")


def test_true_region_is_outlined_on_every_map_panel():
    video, heat, mask = _clip_tensor()
    fig = plots.overlay(video, heat, frames=[0, 2, "mean"], true_region=mask)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3 and all(ax.collections for ax in panels)      # a contour on each
    assert any(t.get_text() == viz.REGION_LABEL for lg in fig.legends for t in lg.get_texts())
    fig = plots.compare_methods(video, {"a": heat, "b": _near_uniform()}, frames=["mean", 1],
                                true_region=np.stack([mask, mask[::-1]]))     # AU masks (n, H, W): their union
    assert all(ax.collections for ax in fig.axes if ax.images)
    assert not plots.overlay(video, heat, frames=[0]).legends                 # no region, no legend entry
    with pytest.raises(ConfigError, match="does not match the frames"):
        plots.overlay(video, heat, true_region=mask[:10])
