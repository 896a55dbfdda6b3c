import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from hsta_edu import viz
from hsta_edu.errors import ConfigError
from hsta_edu.explain import plots
from hsta_edu.viz import figure_png


def _clip_and_map():
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(3, 4, 16, 16, generator=g)
    heat = torch.zeros(4, 16, 16)
    heat[2, 4:8, 4:8] = 1.0
    return clip, heat


def test_frame_importance_sums_to_one_and_finds_the_frame():
    _, heat = _clip_and_map()
    curve = plots.frame_importance(heat)
    np.testing.assert_allclose(curve, [0, 0, 1, 0])


def test_overlay_per_frame_and_aggregated():
    clip, heat = _clip_and_map()
    fig = plots.overlay(clip, heat)
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.images]) == 4
    fig = plots.overlay(clip, heat, frames=[2, "mean"], title="t")
    titles = [a.get_title() for a in fig.axes if a.images]
    assert titles == ["frame 2", "all frames"]
    with pytest.raises(ConfigError):
        plots.overlay(clip, heat[:2])
    with pytest.raises(ConfigError):
        plots.overlay(clip, heat, frames=7)


def test_compare_methods_and_curve_figures(tmp_path):
    clip, heat = _clip_and_map()
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    fig = plots.compare_methods(clip, {"a": heat, "b": heat.flip(-1)}, frames=["mean", 2], mask=mask)
    assert fig.axes[0].get_title().startswith("input, frame") and len([a for a in fig.axes if a.images]) == 6
    assert len(fig.axes) == 6 + 4                                    # a colour bar per map panel
    fig.savefig(tmp_path / "cmp.png")
    fig = plots.plot_frame_importance({"a": heat, "b": torch.ones(4, 16, 16)})
    assert len(fig.axes[0].lines) == 2 + 1                           # and the uniform 1/T line
    assert figure_png(fig)[:4] == b"\x89PNG"


def test_compare_methods_input_of_a_difference_clip_is_not_blank():
    """Maps summed over time ("mean") are drawn on the frame with the most change: for differences to the
    onset, frame 0 is all zeros, and showing it left a blank "input" panel (issue 27)."""
    clip, heat = _clip_and_map()
    clip[:, 0] = 0.0                                                 # onset - onset
    clip[:, 3] *= 4.0                                                # the apex: the most change
    fig = plots.compare_methods(clip, {"a": heat}, frames="mean")
    shown = fig.axes[0].images[0].get_array()
    assert fig.axes[0].get_title() == "input, frame 3 (most change)"
    assert float(np.std(shown)) * 255 > 2                           # not a flat panel


def test_display_frames_takes_every_clip_shape_and_rejects_others():
    clip, _ = _clip_and_map()
    grey = plots.display_frames(clip)
    assert grey.shape == (4, 16, 16) and grey.dtype == np.float32
    assert grey.min() == 0 and grey.max() == 1                       # clipped at the 0.5 / 99.5 percentiles
    np.testing.assert_array_equal(plots.display_frames(clip[None]), grey)
    assert plots.display_frames(clip.mean(0)).shape == (4, 16, 16)
    with pytest.raises(ConfigError):
        plots.display_frames(torch.zeros(16, 16))


def test_notebook_display_is_registered_only_when_asked():
    assert viz.register_notebook_display() is False                 # no IPython shell in pytest
