import pytest
import torch

import hsta_edu
from hsta_edu import create_model, list_presets
from hsta_edu.errors import ConfigError, DataError


def _inputs(model, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, *model.input_shape("video"), generator=g),
            torch.randn(batch, *model.input_shape("special"), generator=g))


def test_presets_listed():
    assert list_presets() == ["hsta-base", "hsta-small", "hsta-tiny"]


def test_base_has_exactly_the_papers_parameter_count():
    model = create_model("hsta-base")
    assert sum(p.numel() for p in model.parameters()) == 81_887_623
    assert model.input_shape("video") == (3, 6, 224, 224)
    assert model.token_grid("video") == (3, 14, 14) and model.token_grid("special") == (1, 18, 18)


@pytest.mark.parametrize("name", ["hsta-tiny", "hsta-small", "hsta-base"])
def test_preset_shapes(name):
    model = create_model(name, num_classes=5).eval()
    video, special = _inputs(model, batch=1)
    with torch.no_grad():
        assert model(video, special).shape == (1, 5)


ABLATIONS = {
    "full": {},
    "no_usta": {"video_blocks": 0, "special_blocks": 0},
    "no_csta": {"use_csta": False},
    "neither": {"video_blocks": 0, "special_blocks": 0, "use_csta": False},
    "video_only": {"modalities": ("video",)},
    "special_only": {"modalities": ("special",)},
    "flow": {"special_input": "flow"},
}


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablation_shapes_and_attention(ablation):
    model = create_model("hsta-tiny", num_classes=3, **ABLATIONS[ablation]).eval()
    video, special = _inputs(model)
    with torch.no_grad():
        logits, maps = model(video, special, return_attention=True)
    assert logits.shape == (2, 3)
    cfg = model.config
    for stage in maps.usta:
        for m in model.modalities:
            assert len(stage[m]) == cfg.branch(m)[6]
            n = 1 + model.embed[m].num_patches
            for a in stage[m]:
                assert a.shape == (2, cfg.branch(m)[4], n, n)
    for stage in maps.csta:
        assert bool(stage) == cfg.csta_active


def test_single_branch_ignores_missing_input():
    model = create_model("hsta-tiny", num_classes=3, modalities=("video",)).eval()
    video, _ = _inputs(model)
    assert model(video, None).shape == (2, 3)
    assert model.head.in_features == model.config.embed_dim


def test_csta_is_the_only_bridge_between_modalities():
    """Without CSTA, the video [CLS] never sees the special input; with it, it does."""
    for use_csta, should_change in ((False, False), (True, True)):
        torch.manual_seed(0)
        model = create_model("hsta-tiny", num_classes=3, use_csta=use_csta).eval()
        video, special = _inputs(model)
        feats = {}
        hook = model.norm["video"].register_forward_hook(lambda mod, i, o, f=feats: f.__setitem__("v", o))
        with torch.no_grad():
            model(video, special)
            first = feats["v"].clone()
            model(video, special + 1.0)
        hook.remove()
        assert (not torch.allclose(first, feats["v"])) == should_change


def test_gradient_reaches_every_parameter():
    model = create_model("hsta-tiny", num_classes=3).train()
    video, special = _inputs(model)
    model(video, special).logsumexp(-1).sum().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []


def test_deterministic_under_a_seed():
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = create_model("hsta-tiny", num_classes=3, drop_rate=0.1, drop_path_rate=0.1).train()
        video, special = _inputs(model)
        outs.append(model(video, special))
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)


def test_impossible_configurations_fail_clearly():
    with pytest.raises(ConfigError, match="not divisible by patch size 7"):
        create_model("hsta-tiny", patch_size=7)
    with pytest.raises(ConfigError, match="num_frames=5"):
        create_model("hsta-tiny", num_frames=5)
    with pytest.raises(ConfigError, match="modalities"):
        create_model("hsta-tiny", modalities=("audio",))
    with pytest.raises(ConfigError, match="unknown model option"):
        create_model("hsta-tiny", num_layers=3)
    with pytest.raises(ConfigError, match="unknown preset"):
        create_model("hsta-huge")
    with pytest.raises(ConfigError, match="embed_dim 65"):
        create_model("hsta-tiny", embed_dim=65)


def test_bad_inputs_fail_clearly():
    model = create_model("hsta-tiny", num_classes=3)
    video, special = _inputs(model)
    with pytest.raises(DataError, match=r"video input must have shape \(B, 3, 6, 48, 48\)"):
        model(video[:, :, :4], special)
    bad = special.clone()
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="special input contains NaN"):
        model(video, bad)


def test_top_level_exports():
    assert hsta_edu.create_model is create_model
    cfg = hsta_edu.HSTAConfig.from_dict(create_model("hsta-tiny").config.to_dict())
    assert cfg == create_model("hsta-tiny").config
