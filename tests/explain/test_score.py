import numpy as np
import pytest

from hsta_edu.errors import ConfigError
from hsta_edu.explain import score


def _mask():
    m = np.zeros((10, 10), bool)
    m[2:4, 2:7] = True       # 10 of 100 pixels
    return m


def test_mass_share_and_chance():
    m = _mask()
    assert score.chance_mass(m) == pytest.approx(0.1)
    assert score.mass_share(np.ones((3, 10, 10)), m) == pytest.approx(0.1)    # uniform = chance
    inside = m.astype(float)[None].repeat(2, 0)
    assert score.mass_share(inside, m) == pytest.approx(1.0)
    assert score.mass_share(-inside, m) == pytest.approx(1.0)                # absolute mass
    half = inside.copy()
    half[0, 9, 9] = 10.0                                                 # 20 inside, 10 outside... x2 frames
    assert score.mass_share(half, m) == pytest.approx(20 / 30)
    with pytest.raises(ConfigError):
        score.mass_share(np.ones((5, 5)), m)


def test_pointing_game_with_tolerance():
    m = _mask()
    h = np.zeros((10, 10))
    h[5, 5] = 1.0                     # one pixel below the region
    assert not score.pointing_hit(h, m)
    assert score.pointing_hit(h, m, tolerance=2)
    assert score.pointing_chance(m, 1) > score.pointing_chance(m, 0) == pytest.approx(0.1)


def test_score_method_averages_and_skips_empty_masks():
    m = _mask()
    good = m.astype(float)
    bad = 1.0 - good
    s = score.score_method([good, bad, good], [m, m, np.zeros_like(m)])
    assert s["n"] == 2 and s["mass_share"] == pytest.approx(0.5) and s["pointing_game"] == pytest.approx(0.5)
    assert s["chance"] == pytest.approx(0.1)
    assert "good" in score.score_table({"good": s})
    with pytest.raises(ConfigError):
        score.score_method([good], [np.zeros_like(m)])


def test_mask_on_input_applies_crop_and_resize():
    m = np.zeros((100, 100), bool)
    m[20:40, 50:90] = True
    out = score.mask_on_input(m, (50, 20, 40, 40), 8)     # the crop is exactly the top half of the region
    assert out.shape == (8, 8)
    assert out[:4].all() and not out[4:].any()
    assert score.mask_on_input(m, None, 10)[2:4, 5:9].all()


def test_synthme_mask_lines_up_with_the_moving_pixels():
    from pathlib import Path

    from hsta_edu.data.datasets import load_dataset
    from hsta_edu.data.prep import PrepConfig
    from hsta_edu.data.torch_data import MERDataset

    root = Path(__file__).resolve().parents[2] / "data_samples"
    if not (root / "synthme.json").is_file():
        pytest.skip("data_samples/ not generated")
    index = load_dataset(root, scheme="megc3")
    index.clips = index.clips[6:7]
    ds = MERDataset(index, PrepConfig(img_size=48, num_frames=6))
    mask = score.synthme_mask(ds, 0)
    _, special, _ = ds[0]
    motion = (special[:, 1] - special[:, 0]).abs().sum(0).numpy()
    # the apex-onset difference is much larger inside the true regions than outside, and the
    # mask scores better where it is than shifted sideways (so crop and resize line up)
    assert motion[mask].mean() > 2 * motion[~mask].mean()
    assert score.mass_share(motion, mask) > score.mass_share(motion, np.roll(mask, 12, axis=1)) + 0.1


def test_score_explanations_of_the_pretrained_model_beat_chance_and_the_movement_is_the_reference():
    """The library scoring loop (used by notebook 05 and benchmarks/explain_score.py): the shipped
    frames model's Integrated Gradients find the true regions above chance; an unknown method fails."""
    from pathlib import Path

    import hsta_edu
    from hsta_edu.data.datasets import load_dataset
    from hsta_edu.data.prep import PrepConfig
    from hsta_edu.data.torch_data import MERDataset

    root = Path(__file__).resolve().parents[2] / "data_samples"
    if not (root / "synthme.json").is_file():
        pytest.skip("data_samples/ not generated")
    model, info = hsta_edu.load_pretrained("hsta-tiny-synthme")
    index = load_dataset(root, scheme="megc2019")
    ds = MERDataset(index, PrepConfig.for_model(model))
    picks = [0, 7, 14, 21]
    out = score.score_explanations(model, ds, picks, ["integrated_gradients", "rollout"],
                                   options={"integrated_gradients": {"n_steps": 8, "internal_batch_size": 8}})
    assert set(out) == {"integrated_gradients", "rollout", "movement"}
    ig = out["integrated_gradients"]
    assert ig["n"] == 4 and ig["mass_share"] > 1.2 * ig["chance"]
    assert {"video_mass_share", "special_mass_share", "seconds_per_clip"} <= set(ig)
    assert out["movement"]["mass_share"] > 1.5 * out["movement"]["chance"]
    with pytest.raises(ConfigError, match="unknown explanation method"):
        score.score_explanations(model, ds, picks, ["nope"])
