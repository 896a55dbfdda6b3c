import json

import pytest
import torch
from torch import nn

from hsta_edu.errors import CheckpointError, ConfigError, DataError
from hsta_edu.io import atomic_torch_save
from hsta_edu.model import (
    HSTA,
    ReferenceInputAdapter,
    load_model,
    load_reference_checkpoint,
    rename_reference_key,
    save_model,
    split_reference_input,
)

from ..configs import SMALL_REFERENCE_48PX
from .reference_forward import random_reference_state_dict, reference_forward, reference_keys


@pytest.fixture(scope="module")
def own_fixture():
    """The project's own reference-format fixture: seeded weights in the reference's names and the
    logits of an independent functional statement of the reference computation."""
    cfg = dict(SMALL_REFERENCE_48PX, embed_dim=[24, 36])
    sd = random_reference_state_dict(cfg, seed=3)
    x = torch.randn(2, 3, 8, 48, 48, generator=torch.Generator().manual_seed(4))
    return {"config": cfg, "state_dict": sd, "input": x, "logits": reference_forward(sd, cfg, x)}


def _logits(model, x):
    video, special = split_reference_input(x, model.config)
    with torch.no_grad():
        return model(video, special)


def test_own_fixture_logits_match(own_fixture, tmp_path):
    path = tmp_path / "ref.pt"
    atomic_torch_save(own_fixture, path)
    model = load_reference_checkpoint(path)
    torch.testing.assert_close(_logits(model, own_fixture["input"]), own_fixture["logits"], atol=1e-5, rtol=0)


def test_state_dict_argument_with_config(own_fixture):
    model = load_reference_checkpoint(own_fixture["state_dict"], config=own_fixture["config"])
    torch.testing.assert_close(_logits(model, own_fixture["input"]), own_fixture["logits"], atol=1e-5, rtol=0)


def test_shared_reference_small_parity(shared_dir):
    blob = torch.load(shared_dir / "reference" / "reference_small.pt", weights_only=True)
    model = load_reference_checkpoint(shared_dir / "reference" / "reference_small.pt")
    assert sum(p.numel() for p in model.parameters()) == blob["params_total"] == 825_843
    torch.testing.assert_close(_logits(model, blob["input"]), blob["logits"], atol=1e-5, rtol=0)


def test_reference_base_keys_and_shapes(shared_dir):
    ref = json.loads((shared_dir / "reference" / "reference_base_state_dict.json").read_text())
    assert reference_keys(ref["config"]) == {k: tuple(v) for k, v in ref["state_dict"].items()}
    sd = {k: torch.zeros(v) for k, v in ref["state_dict"].items()}
    model = load_reference_checkpoint(sd, config=ref["config"])
    assert sum(p.numel() for p in model.parameters()) == ref["params_total"] == 81_887_623


def test_checkpoint_of_another_configuration_fails_clearly(own_fixture):
    other = dict(own_fixture["config"], num_classes=5)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_reference_checkpoint(own_fixture["state_dict"], config=other)
    deeper = dict(own_fixture["config"], depth=[[1, 2, 0]] * 3)
    with pytest.raises(CheckpointError, match="missing"):
        load_reference_checkpoint(own_fixture["state_dict"], config=deeper)


def test_bad_keys_and_configs():
    with pytest.raises(CheckpointError, match="unexpected key"):
        rename_reference_key("encoder.layer.0.weight")
    with pytest.raises(CheckpointError, match="no config"):
        load_reference_checkpoint({"head.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="extra fusion block"):
        load_reference_checkpoint({}, config=dict(SMALL_REFERENCE_48PX, depth=[[1, 2, 0], [2, 2, 1]]))


def test_unsafe_or_corrupt_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_reference_checkpoint(bad)


# Reference configurations beyond the paper's: each is a valid reference model; the fixture's
# functional forward gives its logits, and the loaded hsta_edu model must give the same.
VARIANTS = {
    "uneven depths": {"depth": [[2, 1, 0], [1, 3, 0], [1, 1, 0]]},
    "a stage without blocks": {"depth": [[0, 1, 0], [1, 0, 0]]},
    "unequal widths and heads": {"embed_dim": [24, 60], "num_heads": [2, 5]},
    "mlp ratios 2 and 3": {"mlp_ratio": [2, 3, 1]},
    "8 video frames": {"all_frames": [2, 8]},
    "tubelet 1": {"tubelet_size": 1, "depth": [[1, 1, 0]]},
    "all at once": {"depth": [[1, 2, 0], [2, 1, 0]], "embed_dim": [20, 42], "num_heads": [4, 3],
                    "mlp_ratio": [3, 1.5, 1], "all_frames": [2, 8], "tubelet_size": 1},
}


def _variant(change: dict) -> dict:
    return {**SMALL_REFERENCE_48PX, "embed_dim": [24, 36], **change}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_reference_variants_load_with_equal_logits(name):
    cfg = _variant(VARIANTS[name])
    sd = random_reference_state_dict(cfg, seed=11)
    frames = cfg["all_frames"][1] + 2
    x = torch.randn(2, 3, frames, 48, 48, generator=torch.Generator().manual_seed(5))
    want = reference_forward(sd, cfg, x)
    model = load_reference_checkpoint(sd, config=cfg)
    assert model.config.depths == tuple((s[0], s[1]) for s in cfg["depth"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, atol=1e-5, rtol=0)             # one tensor, as the reference
        torch.testing.assert_close(_logits(model, x), want, atol=1e-5, rtol=0)    # split into the two branches
    for k, (n_special, n_video) in enumerate(model.config.depths):
        assert len(model.stages[k].usta["special"].blocks) == n_special
        assert len(model.stages[k].usta["video"].blocks) == n_video


def test_reference_sizes_are_accepted_as_they_are():
    """Like the paper's 224 px special frames under a stride-12 tubelet (which reads 216), a
    40 px input under a stride-12 special tubelet reads 36: the loaded model takes the 40 px
    the reference takes, alone or split, and gives the reference's logits."""
    cfg = dict(SMALL_REFERENCE_48PX, img_size=[40, 40], patch_size=[12, 8], embed_dim=[24, 32], num_heads=[2, 4])
    sd = random_reference_state_dict(cfg, seed=2)
    x = torch.randn(2, 3, 8, 40, 40, generator=torch.Generator().manual_seed(9))
    want = reference_forward(sd, cfg, x)
    model = load_reference_checkpoint(sd, config=cfg)
    assert model.config.special_img_size == 36 and model.config.img_size == 40
    video, special = split_reference_input(x)                                     # no cropping by the user
    assert special.shape[-1] == 40
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, atol=1e-5, rtol=0)
        torch.testing.assert_close(model(video, special), want, atol=1e-5, rtol=0)
        torch.testing.assert_close(model(video, special[..., :36, :36]), want, atol=1e-5, rtol=0)
    with pytest.raises(DataError, match=r"special input must have shape .*or, as the reference takes it, 40 px"):
        model(video, special[..., :38, :38])
    own = HSTA(model.config)                          # built by hsta_edu: only its own shapes
    with pytest.raises(DataError, match=r"special input must have shape \(B, 3, 2, 36, 36\) \(B, C, T, H, W\), got"):
        own(video, special)
    with pytest.raises(DataError, match="special input, got None"):
        own(x, None)
    model.check_inputs = False                        # read and set on the wrapped model
    assert model.model.check_inputs is False and not model.check_inputs
    model.check_inputs = True


def test_reference_base_takes_224_px_special_frames(shared_dir):
    ref = json.loads((shared_dir / "reference" / "reference_base_state_dict.json").read_text())
    g = torch.Generator().manual_seed(0)
    sd = {k: 0.02 * torch.randn(v, generator=g) for k, v in ref["state_dict"].items()}
    model = load_reference_checkpoint(sd, config=ref["config"])
    x = torch.randn(1, 3, 8, 224, 224, generator=g)
    with torch.no_grad():
        a = model(x)
        b = model(*split_reference_input(x, model.config))
    assert a.shape == (1, 7) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("change, needle", [
    ({"depth": [[1, 2]] * 2 + [[1]]}, "stage 2 must be"),
    ({"depth": [[1, -1, 0]]}, "negative block count"),
    ({"depth": [["a", 1, 0]]}, "non-integer"),
    ({"depth": 3}, "list of"),
    ({"embed_dim": [24, 35]}, "not divisible by num_heads"),
    ({"img_size": [8, 48]}, "smaller than its patch_size"),
    ({"all_frames": [2, 5]}, "not divisible by tubelet_size"),
    ({"embed_dim": [24]}, "embed_dim"),
    ({"mlp_ratio": [0, 4, 1]}, "mlp_ratio"),
])
def test_configurations_that_fit_no_model_fail_clearly(change, needle):
    with pytest.raises(ConfigError, match=needle):
        load_reference_checkpoint({}, config=dict(SMALL_REFERENCE_48PX, **change))


def test_the_reference_input_is_a_wrapper_not_a_branch_of_hsta(own_fixture, tmp_path):
    """`load_reference_checkpoint` wraps a plain HSTA; the wrapper reads as it (attributes, state
    dict without a prefix, parameter names for weight decay and layer decay), saves to a file that
    `load_model` reads back as the plain model, and passes attention maps through."""
    model = load_reference_checkpoint(own_fixture["state_dict"], config=own_fixture["config"])
    assert isinstance(model, ReferenceInputAdapter) and type(model.model) is HSTA
    assert not hasattr(model.model, "reference_sizes") and not hasattr(HSTA, "accept_reference_input")
    assert model.config is model.model.config and model.modalities == ("special", "video")
    assert list(model.state_dict()) == list(model.model.state_dict())
    names = [n for n, _ in model.named_parameters()]
    assert {n for n in names if model.layer_id(n) == 0} == {f"model.{n}" for n, _ in model.model.named_parameters()
                                                           if model.model.layer_id(n) == 0}
    assert model.no_weight_decay() <= set(names)
    x = own_fixture["input"]
    with torch.no_grad():
        want = model(x)
        logits, maps = model(x, return_attention=True)
    torch.testing.assert_close(logits, want)
    assert len(maps.usta) == model.config.num_stages and set(maps.grids) == {"special", "video"}

    path = save_model(tmp_path / "model.pt", model)
    plain, _ = load_model(path)
    assert type(plain) is HSTA
    with torch.no_grad():
        torch.testing.assert_close(plain(*split_reference_input(x, plain.config)), want)
    again = ReferenceInputAdapter(HSTA(model.config), 48, 48).eval()
    again.load_state_dict(plain.state_dict())          # the plain model's keys load into the wrapper
    parent = nn.ModuleDict({"net": again})
    parent.load_state_dict(parent.state_dict())        # and nested, under a prefix, keys round-trip
    assert all(k.startswith("net.") and not k.startswith("net.model.") for k in parent.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again(x), want)
    with pytest.raises(ConfigError, match="reference special img_size 60"):
        ReferenceInputAdapter(HSTA(model.config), 60, 48)
