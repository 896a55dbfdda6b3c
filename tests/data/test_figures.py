"""Figures of the data-preparation notebook: each returns a Figure with the expected axes (Agg, fast)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from hsta_edu.data import figures, prep
from hsta_edu.data.prep import FaceBox
from hsta_edu.data.prep.magnify import magnify
from hsta_edu.data.synth import SAMPLES_CONFIG, render_clip
from hsta_edu.errors import DataError
from hsta_edu.viz import display_image, grey_levels

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
    assert _n(fig) == 6                                                  # 4 frames, the difference, its colour bar
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert any("apex" in t for t in titles) and "onset" in titles[0] and "(apex - onset)" in titles[-1]
    assert "grey levels" in _colourbars(fig)[0].get_ylabel()
    assert _n(figures.plot_clip_frames(clip.frames, count=3)) == 3      # no marks: no difference panel


def test_motion_curve_distractors_masks(clip):
    assert _n(figures.plot_motion_curve(clip)) == 2
    assert _n(figures.plot_motion_curve(clip, measured=False)) == 1
    assert _n(figures.plot_distractors(clip)) == 3
    assert _n(figures.plot_masks(clip.frames[0], clip.masks, clip.displacement)) == len(clip.masks) + 2  # + colour bar
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
    assert _n(fig) == 4 + 1 and "EPE 0.00 px" in fig.axes[2].get_title()          # + one shared colour bar
    assert _n(figures.plot_flow_comparison(clip.frames[0], flows, clip.mask)) == 3 + 1


def test_batch():
    video, special = torch.randn(5, 3, 4, 16, 16), torch.randn(5, 3, 2, 16, 16)
    fig = figures.plot_batch(video, special, torch.tensor([0, 1, 2, 0, 1]), ["a", "b", "c"], max_rows=2)
    assert _n(fig) == 2 * (4 + 2)
    with pytest.raises(DataError):
        figures.plot_batch(video[0], special[0], [0], ["a"])


def test_display_image_and_grey_levels():
    frame = torch.randn(3, 8, 10)
    rgb = display_image(frame)
    assert rgb.shape == (8, 10, 3) and rgb.min() == 0 and rgb.max() == 1    # stretched over the frame
    grey = display_image(frame, grey=True)
    np.testing.assert_allclose(grey, display_image(frame.mean(0, keepdim=True))[..., 0], atol=1e-6)
    assert display_image(torch.randn(3, 4, 8, 10), grey=True).shape == (4, 8, 10)
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 1] = 100
    assert grey_levels(image)[0, 0] == pytest.approx(100 / 3)
    assert grey_levels(image, luma=True)[0, 0] == pytest.approx(58.7)
    assert grey_levels(image[..., 1]).dtype == np.float32 and (grey_levels(image[..., 1]) == 100).all()  # grey: as is


# ----------------------------------------------------------------------------- micro-expression steps

def _render(fig: Figure) -> None:
    """Draw the figure once (layout and colour bars must not fail at render time)."""
    import io
    fig.savefig(io.BytesIO(), format="png", dpi=40)


def _colourbars(fig: Figure) -> list:
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]


def test_registration_shares_one_scale_and_reports_residuals(clip):
    onset = clip.frames[0]
    frame = np.roll(onset, 2, axis=1)                    # a 2 px drift, perfectly undone below
    reg = prep.Registration(np.float32([[1, 0, 2], [0, 1, 0]]), True, 0.0)
    fig = figures.plot_registration(onset, frame, onset, reg, mask=clip.mask)
    assert _n(fig) == 5
    bars = _colourbars(fig)
    assert len(bars) == 1 and bars[0].get_ylabel() == "grey levels"
    before, after = fig.axes[2], fig.axes[3]
    assert before.images[0].get_clim() == after.images[0].get_clim()          # one colour scale
    assert "before" in before.get_title() and "after" in after.get_title()
    assert "RMS 0.00" in after.get_title() and "RMS 0.00" not in before.get_title()
    assert "shift 2.00 px" in fig.get_suptitle() and "angle 0.00 deg" in fig.get_suptitle()
    assert "converged" not in fig.get_suptitle()
    failed = figures.plot_registration(onset, frame, frame, {"motion": "euclidean", "converged": False})
    assert "euclidean" in failed.get_suptitle() and "NOT converged" in failed.get_suptitle()
    assert figures.plot_registration(onset, frame, onset).get_suptitle() == "registration to the onset frame"
    with pytest.raises(DataError):
        figures.plot_registration(onset, frame[:-1], onset)
    _render(fig)


def test_magnification_diverging_shared_scale_and_profile(clip):
    a = list(clip.frame_numbers).index(clip.apex)
    onset, apex = clip.frames[0], clip.frames[a]
    magnified = magnify(np.stack([onset, apex]), 4.0, levels=2, cutoff=8.0, reference=0)[1]
    fig = figures.plot_magnification(onset, apex, magnified, 4.0, mask=clip.mask)
    assert _n(fig) == 5
    assert len(_colourbars(fig)) == 1
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi and fig.axes[1].images[0].get_clim() == (lo, hi)         # symmetric, shared
    assert fig.axes[0].images[0].get_cmap().name == "coolwarm"
    assert "alpha 4" in fig.axes[1].get_title() and "alpha = 4" in fig.get_suptitle()
    ratio = float(fig.axes[1].get_title().rsplit("(x", 1)[1].rstrip(")"))
    assert ratio > 1.5                                                        # the difference is amplified
    profile = fig.axes[3]
    assert len(profile.get_lines()) == 3
    assert profile.get_xlabel() == "x (px)" and profile.get_ylabel() == "grey level"
    assert "row 5" in figures.plot_magnification(onset, apex, magnified, 4.0, row=5).axes[3].get_title()
    with pytest.raises(DataError):
        figures.plot_magnification(onset, apex, magnified, 4.0, row=onset.shape[0])
    _render(fig)


@pytest.fixture(scope="module")
def prepared(clip):
    """A PreparedClip made of the synthetic clip's own frames (4 pool frames, no decoding)."""
    idx = np.rint(np.linspace(0, len(clip.frames) - 1, 4)).astype(int)
    a = list(clip.frame_numbers).index(clip.apex)
    pcfg = prep.PrepConfig(img_size=clip.frames.shape[1], num_frames=4, pool_factor=1)
    return prep.PreparedClip(clip.frames[idx], clip.frames[0], clip.frames[a], None), pcfg


def test_representations_frames_and_difference_rows(prepared):
    p, pcfg = prepared
    inputs = {"frames": prep.assemble(p, pcfg.replace(representation="frames")),
              "difference": prep.assemble(p, pcfg.replace(representation="difference"))}
    fig = figures.plot_representations(inputs)
    T = pcfg.num_frames
    assert _n(fig) == 2 * (T + 2) + 1
    bars = _colourbars(fig)
    assert len(bars) == 1 and "normalised" in bars[0].get_ylabel()
    diff_row = fig.axes[T + 2:2 * (T + 2)]
    assert np.all(np.asarray(diff_row[0].images[0].get_array()) == 0)        # frame 0 is the onset: 0
    lo, hi = diff_row[1].images[0].get_clim()
    assert lo == -hi and diff_row[T + 1].images[0].get_clim() == (lo, hi)
    assert "apex - onset" in diff_row[T + 1].get_title() and "onset" in diff_row[T].get_title()
    assert fig.axes[0].get_ylabel().startswith("frames\nstd ")
    assert diff_row[0].get_ylabel().startswith("difference")
    # without a difference row: images only, no colour bar
    assert _n(figures.plot_representations({"frames": inputs["frames"]})) == T + 2
    with pytest.raises(DataError):
        figures.plot_representations({"a": inputs["frames"], "b": (torch.zeros(3, T + 2, 64, 64),
                                                                   torch.zeros(3, 2, 64, 64))})
    with pytest.raises(DataError):
        figures.plot_representations({})
    _render(fig)


def test_augmentation_rows_per_draw(prepared):
    p, pcfg = prepared
    acfg = pcfg.replace(representation="frames", jitter=False)
    plain = prep.assemble(p, acfg)[0]
    params = [{}, {"flip": True, "dy": 1, "dx": -2, "gain": 1.05, "offset": 3.0}]
    videos = [plain, plain.flip(-1) * 1.05]
    fig = figures.plot_augmentation(videos, params)
    assert _n(fig) == 2 * 3 + 1 and len(_colourbars(fig)) == 1
    assert "no change" in fig.axes[0].get_ylabel()
    label = fig.axes[3].get_ylabel()
    assert "flip" in label and "shift (1, -2) px" in label and "gain 1.05" in label
    assert fig.axes[0].get_title() == "t=0" and fig.axes[1].get_title() == f"t={pcfg.num_frames - 1}"
    # one display range for all draws: the brighter draw shows brighter
    shown = [np.asarray(fig.axes[i].images[0].get_array()) for i in (1, 4)]
    assert shown[0].mean() != pytest.approx(shown[1].mean())
    d0, d1 = (np.asarray(fig.axes[i].images[0].get_array()) for i in (2, 5))
    np.testing.assert_allclose(d1, d0[:, ::-1] * 1.05, atol=1e-5)          # the motion moves with the frames
    assert _n(figures.plot_augmentation(videos, frames=(0, 1), difference=False)) == 4
    with pytest.raises(DataError):
        figures.plot_augmentation(videos, params[:1])
    with pytest.raises(DataError):
        figures.plot_augmentation([])
    _render(fig)
