import pytest
import torch

from hsta_edu.errors import ConfigError
from hsta_edu.explain import METHODS, explain_maps

OPTS = {"integrated_gradients": {"n_steps": 4}, "smoothgrad_ig": {"n_steps": 2, "nt_samples": 2}}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_normalised_maps_on_both_inputs(tiny_model, inputs, method):
    maps = explain_maps(tiny_model, *inputs, method, **OPTS.get(method, {}))
    assert maps["video"].shape == (2, 4, 16, 16) and maps["special"].shape == (2, 2, 16, 16)
    for m in maps.values():
        assert (m >= 0).all()
        total = m.sum((1, 2, 3))
        if method == "layer_gradcam":
            # Grad-CAM keeps only positive evidence (a ReLU of the weighted activations): for an untrained
            # model a clip can have none, and its map is then all zeros (which clip depends on the random
            # weights, so on the torch version); every map with any mass sums to 1
            assert total.max() > 0.5, total
            total = torch.where(total > 0, total, torch.ones_like(total))
        torch.testing.assert_close(total, torch.ones(2))


def test_bad_method_and_options(tiny_model, inputs):
    with pytest.raises(ConfigError):
        explain_maps(tiny_model, *inputs, "gradient_magic")
    with pytest.raises(ConfigError):
        explain_maps(tiny_model, *inputs, "rollout", target=1)
    with pytest.raises(ConfigError):
        explain_maps(tiny_model, *inputs, "rollout", n_steps=3)
