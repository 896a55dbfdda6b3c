"""hsta_edu.pretrained: export / load round trip, integrity checks, and the weights the package ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hsta_edu import create_model, list_pretrained, load_pretrained
from hsta_edu.data.prep import PrepConfig
from hsta_edu.errors import CheckpointError, ConfigError
from hsta_edu.pretrained import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MAX_BYTES,
    WEIGHTS_DIR,
    default_prep,
    export_pretrained,
)

CLASSES = ["negative", "positive", "surprise"]


class NotATensor:
    """A custom class: pickling an instance is what weights_only loading must refuse."""

    def __init__(self, value: int) -> None:
        self.value = value


def _tiny(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return create_model("hsta-tiny", num_classes=3, **overrides).eval()


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 6, 48, 48, generator=g), torch.randn(2, 3, 2, 48, 48, generator=g)


def _export(tmp_path: Path, name: str = "tiny-test", model=None, **kw):
    model = model if model is not None else _tiny()
    args = {"prep": PrepConfig(img_size=48), "classes": CLASSES, "description": "a test model",
            "provenance": {"script": "tests/test_pretrained.py", "seed": 0}, "metrics": {"uf1": 0.5}}
    args.update(kw)
    return export_pretrained(name, model, weights_dir=tmp_path, **args), model


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_NAME).read_text())


def test_round_trip_identical_logits_and_info(tmp_path):
    prep = PrepConfig(img_size=48, face="none", normalisation="unit")
    path, model = _export(tmp_path, prep=prep)
    assert path == tmp_path / "tiny-test.pt" and path.is_file()
    # tensors only: loads with weights_only=True as a flat dict[str, Tensor]
    state = torch.load(path, weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    assert set(state) == set(model.state_dict())

    loaded, info = load_pretrained("tiny-test", weights_dir=tmp_path)
    assert not loaded.training
    video, special = _inputs()
    with torch.no_grad():
        want, got = model(video, special), loaded(video, special)
    assert torch.equal(want, got)
    assert isinstance(info["prep"], PrepConfig) and info["prep"] == prep
    assert info["classes"] == CLASSES
    assert info["model_config"] == model.config.to_dict()
    assert info["name"] == "tiny-test" and info["description"] == "a test model"
    assert info["provenance"] == {"script": "tests/test_pretrained.py", "seed": 0}
    assert info["metrics"] == {"uf1": 0.5}
    assert Path(info["file"]) == path
    entry = _manifest(tmp_path)["models"]["tiny-test"]
    assert _manifest(tmp_path)["format"] == MANIFEST_FORMAT
    assert info["sha256"] == entry["sha256"] and entry["bytes"] == path.stat().st_size
    assert entry["prep"] == prep.to_dict() and entry["file"] == "tiny-test.pt"
    assert list_pretrained(weights_dir=tmp_path) == ["tiny-test"]


def test_flow_model_round_trip_and_manifest_update(tmp_path):
    _export(tmp_path, "b-frames")
    flow = _tiny(seed=3, special_input="flow")
    _export(tmp_path, "a-flow", model=flow, prep=default_prep(flow.config, "flow"))
    assert list_pretrained(weights_dir=tmp_path) == ["a-flow", "b-frames"]
    loaded, info = load_pretrained("a-flow", weights_dir=tmp_path)
    assert loaded.config.special_input == "flow" and info["prep"].special == "flow"
    video, special = _inputs(2)
    with torch.no_grad():
        assert torch.equal(flow(video, special), loaded(video, special))
    # re-exporting a name replaces its entry, the others stay
    _export(tmp_path, "b-frames", model=_tiny(seed=5), description="second")
    assert list_pretrained(weights_dir=tmp_path) == ["a-flow", "b-frames"]
    assert load_pretrained("b-frames", weights_dir=tmp_path)[1]["description"] == "second"


def test_default_prep_defers_to_prepconfig_defaults():
    cfg = create_model("hsta-tiny", num_classes=3).config
    prep = default_prep(cfg, "flow")
    assert prep == PrepConfig(img_size=cfg.img_size, num_frames=cfg.num_frames, special="flow")
    assert default_prep(cfg, "frames").special == "frames"


def test_modified_file_is_refused_by_sha256(tmp_path):
    path, _ = _export(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"modified or corrupted.*sha256") as exc:
        load_pretrained("tiny-test", weights_dir=tmp_path)
    entry = _manifest(tmp_path)["models"]["tiny-test"]
    assert entry["sha256"] in str(exc.value)


def test_pickled_object_refused_even_with_matching_hash(tmp_path):
    import hashlib
    path, _ = _export(tmp_path)
    torch.save({"weight": torch.zeros(2), "payload": NotATensor(7)}, path)
    manifest = _manifest(tmp_path)
    manifest["models"]["tiny-test"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"refused to load .*pickled object.*NotATensor"):
        load_pretrained("tiny-test", weights_dir=tmp_path)


def test_weights_not_matching_config_refused(tmp_path):
    _export(tmp_path)
    manifest = _manifest(tmp_path)
    manifest["models"]["tiny-test"]["model_config"]["embed_dim"] = 32
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="do not match the model configuration"):
        load_pretrained("tiny-test", weights_dir=tmp_path)


def test_unknown_name_lists_available(tmp_path):
    _export(tmp_path, "tiny-one")
    _export(tmp_path, "tiny-two")
    with pytest.raises(ConfigError, match=r"unknown pretrained model 'nope'.*tiny-one.*tiny-two"):
        load_pretrained("nope", weights_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown pretrained model"):
        load_pretrained("nope", weights_dir=tmp_path / "empty")


def test_missing_file_named(tmp_path):
    path, _ = _export(tmp_path)
    path.unlink()
    with pytest.raises(CheckpointError, match=r"not found.*tiny-test\.pt"):
        load_pretrained("tiny-test", weights_dir=tmp_path)


def test_list_pretrained_empty_dir(tmp_path):
    assert list_pretrained(weights_dir=tmp_path) == []
    assert list_pretrained(weights_dir=tmp_path / "does-not-exist") == []


def test_size_limit_refused_and_nothing_written(tmp_path):
    with pytest.raises(ConfigError, match="over the limit"):
        _export(tmp_path, max_bytes=10_000)
    assert list(tmp_path.iterdir()) == []
    # hsta-tiny fits the default 3 MB limit
    path, _ = _export(tmp_path)
    assert path.stat().st_size <= MAX_BYTES


@pytest.mark.parametrize("bad", ["Tiny", "-tiny", "tiny/../x", "tiny model", ""])
def test_bad_name_refused(tmp_path, bad):
    with pytest.raises(ConfigError, match="must match"):
        _export(tmp_path, bad)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_mismatched_prep_and_classes(tmp_path):
    with pytest.raises(ConfigError, match="does not fit the model"):
        _export(tmp_path, prep=PrepConfig(img_size=64))
    with pytest.raises(ConfigError, match="special_input"):
        _export(tmp_path, prep=PrepConfig(img_size=48, special="flow"))
    with pytest.raises(ConfigError, match="3 distinct names"):
        _export(tmp_path, classes=["a", "b"])
    with pytest.raises(ConfigError, match="plain JSON"):
        _export(tmp_path, metrics={"uf1": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_shipped_weights_load_and_fit():
    """Every model in the package's own manifest loads (sha256 checked) and fits its metadata."""
    if not (WEIGHTS_DIR / MANIFEST_NAME).is_file():
        pytest.skip(f"the package ships no pretrained weights yet ({WEIGHTS_DIR / MANIFEST_NAME} is absent)")
    names = list_pretrained()
    assert names, f"{WEIGHTS_DIR / MANIFEST_NAME} lists no models"
    for name in names:
        model, info = load_pretrained(name)
        assert info["prep"].img_size == model.config.img_size, name
        assert info["prep"].num_frames == model.config.num_frames, name
        assert len(info["classes"]) == model.config.num_classes, name
        assert Path(info["file"]).stat().st_size <= 3_000_000, name
        assert info["provenance"] and info["metrics"], name
        video = torch.zeros(1, 3, model.config.num_frames, model.config.img_size, model.config.img_size)
        special = torch.zeros(1, 3, 2, model.config.special_img_size, model.config.special_img_size)
        with torch.no_grad():
            assert model(video, special).shape == (1, model.config.num_classes), name
