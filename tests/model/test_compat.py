import json

import pytest
import torch

from hsta_edu.compat import load_reference_checkpoint, rename_reference_key, split_reference_input
from hsta_edu.errors import CheckpointError, ConfigError
from hsta_edu.io import atomic_torch_save

from .reference_forward import random_reference_state_dict, reference_forward, reference_keys

SMALL = {"img_size": [48, 48], "patch_size": [12, 16], "embed_dim": [48, 96], "num_heads": [3, 3],
         "mlp_ratio": [4, 4, 1], "depth": [[1, 2, 0], [1, 2, 0]], "all_frames": [2, 6], "num_classes": 3,
         "model_header_mode": 2, "tubelet_size": 2}


@pytest.fixture(scope="module")
def own_fixture():
    """The project's own reference-format fixture: seeded weights in the reference's names and the
    logits of an independent functional statement of the reference computation."""
    cfg = dict(SMALL, embed_dim=[24, 36])
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
    with pytest.raises(ConfigError, match="same blocks"):
        load_reference_checkpoint({}, config=dict(SMALL, depth=[[1, 2, 0], [2, 2, 0]]))


def test_unsafe_or_corrupt_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_reference_checkpoint(bad)
