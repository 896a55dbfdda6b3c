import pytest
import torch

import hsta_edu
from hsta_edu.errors import ConfigError
from hsta_edu.explain import attribution

from ..configs import TINY_16PX_4FRAMES

FAST = {
    "integrated_gradients": {"n_steps": 8, "internal_batch_size": 4},
    "saliency": {},
    "occlusion": {},
    "layer_gradcam": {"stage": 0, "block": {"video": 1, "special": 0}},
    "feature_ablation": {},
}


@pytest.mark.parametrize("method", sorted(attribution.ATTRIBUTION_METHODS))
def test_every_method_attributes_both_inputs_with_their_shapes(tiny_model, inputs, method):
    video, special = inputs
    a = attribution.attribute(tiny_model, video, special, method, **FAST[method])
    assert a.video.shape == video.shape and a.special.shape == special.shape
    for m in ("video", "special"):
        assert torch.isfinite(a.inputs[m]).all()
        assert a.map(m).shape == (2, a.inputs[m].shape[2], 16, 16)
    assert a.video.abs().sum() > 0 and a.special.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(a.target, tiny_model(video, special).argmax(-1))


def test_integrated_gradients_is_complete_from_the_onset_baseline(tiny_model, inputs):
    video, special = inputs
    a = attribution.integrated_gradients(tiny_model, video, special, target=1, n_steps=64, internal_batch_size=16)
    base_v = video[:, :, :1].expand_as(video)
    base_s = special[:, :, :1].expand_as(special)
    with torch.no_grad():
        diff = tiny_model(video, special)[:, 1] - tiny_model(base_v, base_s)[:, 1]
    total = a.video.sum((1, 2, 3, 4)) + a.special.sum((1, 2, 3, 4))
    torch.testing.assert_close(total, diff, atol=2e-3, rtol=2e-2)
    # the onset frame equals its baseline: no attribution there
    assert a.video[:, :, 0].abs().max() == 0 and a.special[:, :, 0].abs().max() == 0


def test_integrated_gradients_zeros_baseline_and_noise_tunnel(tiny_model, inputs):
    video, special = inputs
    a = attribution.integrated_gradients(tiny_model, video, special, baseline="zeros", n_steps=4)
    assert a.video[:, :, 0].abs().sum() > 0
    nt = attribution.integrated_gradients(tiny_model, video, special, n_steps=4, noise_tunnel="smoothgrad", nt_samples=2)
    assert nt.method == "integrated_gradients+smoothgrad" and nt.video.shape == video.shape
    sg = attribution.saliency(tiny_model, video, special, noise_tunnel="smoothgrad", nt_samples=2)
    assert sg.special.shape == special.shape
    with pytest.raises(ConfigError):
        attribution.integrated_gradients(tiny_model, video, special, noise_tunnel="bogus")
    with pytest.raises(ConfigError):
        attribution.integrated_gradients(tiny_model, video, special, baseline="mean")


def test_occlusion_windows_are_tubelets(tiny_model, inputs):
    a = attribution.occlusion(tiny_model, *inputs)
    v = a.video[0, 0]   # (4, 16, 16): constant on every (2, 8, 8) tubelet
    blocks = v.reshape(2, 2, 2, 8, 2, 8).permute(0, 2, 4, 1, 3, 5).reshape(8, -1)
    assert torch.all(blocks == blocks[:, :1])


def test_gradcam_is_constant_per_token_and_nonnegative(tiny_model, inputs):
    a = attribution.layer_gradcam(tiny_model, *inputs)
    assert (a.video >= 0).all()
    v = a.video[1, 0]
    blocks = v.reshape(2, 2, 2, 8, 2, 8).permute(0, 2, 4, 1, 3, 5).reshape(8, -1)
    assert torch.all(blocks == blocks[:, :1])
    # the hook is removed afterwards: the model gives the same logits as before
    with torch.no_grad():
        before = tiny_model(*inputs)
    attribution.layer_gradcam(tiny_model, *inputs)
    with torch.no_grad():
        torch.testing.assert_close(tiny_model(*inputs), before)


def test_facial_regions_and_region_ablation(tiny_model, inputs):
    mask, names = attribution.facial_regions(48, 48)
    assert mask.shape == (48, 48) and len(names) == len(attribution.FACE_REGIONS) + 1
    assert set(mask.unique().tolist()) == set(range(len(names)))
    grid, gnames = attribution.facial_regions(16, 16, "grid", grid=2)
    assert grid[0, 0] == 0 and grid[15, 15] == 3 and len(gnames) == 4
    a = attribution.feature_ablation(tiny_model, *inputs, regions=grid)
    v = a.video[0, 0, 2]   # one value per quadrant
    assert torch.all(v[:8, :8] == v[0, 0]) and torch.all(v[8:, 8:] == v[15, 15])
    per_t = attribution.feature_ablation(tiny_model, *inputs, regions="grid", per_tubelet=True)
    assert per_t.video.shape == inputs[0].shape


def test_single_modality_model(inputs):
    model = hsta_edu.create_model("hsta-tiny", **{**TINY_16PX_4FRAMES, "modalities": ("video",)}).eval()
    a = attribution.integrated_gradients(model, inputs[0], None, n_steps=4)
    assert set(a.inputs) == {"video"} and a.video.shape == inputs[0].shape
    with pytest.raises(ConfigError):
        attribution.saliency(model, None, None)


def test_onset_baseline_means_no_movement_in_the_difference_representation(tiny_model, inputs):
    """In the difference representation the video's first frame is onset - onset = 0 and the special
    data is (onset, apex - onset): 'no movement' is then zeros for the video and (onset, 0) for the
    special data, not the onset image repeated."""
    video, special = inputs
    video = video.clone()
    video[:, :, 0] = 0.0
    base = attribution._baselines(tiny_model, ("video", "special"), (video, special), "onset")
    assert torch.count_nonzero(base[0]) == 0
    assert torch.equal(base[1][:, :, 0], special[:, :, 0]) and torch.count_nonzero(base[1][:, :, 1]) == 0
    a = attribution.integrated_gradients(tiny_model, video, special, target=1, n_steps=64, internal_batch_size=16)
    with torch.no_grad():
        diff = tiny_model(video, special)[:, 1] - tiny_model(*base)[:, 1]
    torch.testing.assert_close(a.video.sum((1, 2, 3, 4)) + a.special.sum((1, 2, 3, 4)), diff, atol=2e-3, rtol=2e-2)
    # a model that says it was trained on images keeps the image baseline even with a zero first frame
    tiny_model.prep_config = type("P", (), {"representation": "frames"})()
    try:
        img = attribution._baselines(tiny_model, ("video", "special"), (video, special), "onset")[1]
        assert torch.equal(img[:, :, 1], special[:, :, 0])
    finally:
        del tiny_model.prep_config
