"""Figures of the data-preparation notebook: each returns a Figure with the expected axes (Agg, fast)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from hsta_edu.data import figures
from hsta_edu.data.prep import FaceBox
from hsta_edu.data.synth import SAMPLES_CONFIG, render_clip
from hsta_edu.errors import DataError

CFG = SAMPLES_CONFIG.replace(frame_size=(64, 64), face_size=50.0, duration=(0.04, 0.06))


@pytest.fixture(scope="module")
def clip():
    return render_clip(CFG, 1, "positive", 0)


def _n(fig: Figure) -> int:
    assert isinstance(fig, Figure)
    return len(fig.axes)


def test_clip_frames_keeps_marks_and_adds_difference(clip):
    marks = {"onset": clip.onset, "apex": clip.apex, "offset": clip.offset}
    fig = figures.plot_clip_frames(clip.frames, clip.frame_numbers, marks, count=4)
    assert _n(fig) == 5
    titles = [ax.get_title() for ax in fig.axes]
    assert any("apex" in t for t in titles) and "onset" in titles[0] and "(apex - onset)" in titles[-1]
    assert _n(figures.plot_clip_frames(clip.frames, count=3)) == 3      # no marks: no difference panel


def test_motion_curve_distractors_masks(clip):
    assert _n(figures.plot_motion_curve(clip)) == 2
    assert _n(figures.plot_motion_curve(clip, measured=False)) == 1
    assert _n(figures.plot_distractors(clip)) == 3
    assert _n(figures.plot_masks(clip.frames[0], clip.masks, clip.displacement)) == len(clip.masks) + 1
    assert _n(figures.plot_masks(clip.frames[0], clip.masks)) == len(clip.masks)
    with pytest.raises(DataError):
        figures.plot_masks(clip.frames[0], {})


def test_image_grid_and_face_boxes(clip):
    imgs = [clip.frames[0]] * 5
    assert _n(figures.plot_image_grid(imgs, ncols=3)) == 5
    with pytest.raises(DataError):
        figures.plot_image_grid(imgs, titles=["a"])
    boxes = [FaceBox(5, 5, 40, 40, "haar"), (2, 2, 30, 30)]
    fig = figures.plot_face_boxes(imgs[:2], boxes, ["a", "b"])
    assert _n(fig) == 2 and len(fig.axes[0].patches) == 1
    with pytest.raises(DataError):
        figures.plot_face_boxes(imgs, boxes)


def test_sampling_and_timings():
    fig = figures.plot_sampling(10, 20, [10, 12, 14, 16, 18, 20], [[11, 12, 15, 16, 19, 20]], apex=15,
                                pool=range(10, 21))
    assert _n(fig) == 1 and len(fig.axes[0].get_yticks()) == 2
    assert _n(figures.plot_timings({"dis": 0.005, "tvl1": 0.5}, log=True)) == 1
    with pytest.raises(DataError):
        figures.plot_timings({})


def test_flow_comparison_and_error(clip):
    d = clip.displacement
    exact = d.transpose(1, 2, 0)
    assert figures.flow_error(exact, d, clip.mask) == pytest.approx(0.0)
    assert figures.flow_error(np.zeros_like(exact), d, clip.mask) > 0
    flows = {"truth": exact, "zero": np.zeros_like(exact)}
    fig = figures.plot_flow_comparison(clip.frames[0], flows, clip.mask, d, {"truth": 0.01})
    assert _n(fig) == 4 and "EPE 0.00 px" in fig.axes[2].get_title()
    assert _n(figures.plot_flow_comparison(clip.frames[0], flows, clip.mask)) == 3


def test_batch():
    video, special = torch.randn(5, 3, 4, 16, 16), torch.randn(5, 3, 2, 16, 16)
    fig = figures.plot_batch(video, special, torch.tensor([0, 1, 2, 0, 1]), ["a", "b", "c"], max_rows=2)
    assert _n(fig) == 2 * (4 + 2)
    with pytest.raises(DataError):
        figures.plot_batch(video[0], special[0], [0], ["a"])
