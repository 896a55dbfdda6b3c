import json

import pytest
import torch

import hsta_edu
from hsta_edu import create_model, list_presets
from hsta_edu.errors import ConfigError, DataError
from hsta_edu.model import ABLATIONS as MODEL_ABLATIONS
from hsta_edu.model import ablation_overrides
from hsta_edu.model.hsta import HSTA, HSTAConfig, preset_config

TINY_PARAMS = 285_059   # hsta-tiny, 3 classes: the count before per-stage blocks existed


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


# the model's ablation table (the command line's flags), the full model and USTA and CSTA both off
ABLATIONS = {"full": {}, **MODEL_ABLATIONS, "neither": ablation_overrides(no_usta=True, no_csta=True)}


def test_ablation_table_is_the_papers():
    assert MODEL_ABLATIONS == {
        "no_usta": {"video_blocks": 0, "special_blocks": 0},
        "no_csta": {"use_csta": False},
        "video_only": {"modalities": ("video",)},
        "special_only": {"modalities": ("special",)},
        "flow": {"special_input": "flow"},
    }
    assert ablation_overrides() == {}
    assert ablation_overrides(no_usta=True, no_csta=True) == {"video_blocks": 0, "special_blocks": 0,
                                                              "use_csta": False}
    assert ablation_overrides(special_only=True, flow=True) == {"modalities": ("special",),
                                                                "special_input": "flow"}
    with pytest.raises(ConfigError, match="exclude each other"):
        ablation_overrides(video_only=True, special_only=True)


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablation_shapes_and_attention(ablation):
    model = create_model("hsta-tiny", num_classes=3, **ABLATIONS[ablation]).eval()
    video, special = _inputs(model)
    with torch.no_grad():
        logits, maps = model(video, special, return_attention=True)
    assert logits.shape == (2, 3)
    cfg = model.config
    for k, stage in enumerate(maps.usta):
        for m in model.modalities:
            assert len(stage[m]) == cfg.branch(m).blocks[k]
            n = 1 + model.embed[m].num_patches
            for a in stage[m]:
                assert a.shape == (2, cfg.branch(m).heads, n, n)
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


# ----------------------------------------------------------------------------- blocks per stage

def test_per_stage_blocks_three_ways_and_uniform_collapse():
    pairs = HSTAConfig(num_stages=3, special_blocks=(2, 1, 1), video_blocks=(1, 3, 1))
    short = HSTAConfig(stage_blocks=((2, 1), (1, 3), (1, 1)))
    assert pairs == short and short.stage_blocks is None and short.num_stages == 3
    assert short.depths == ((2, 1), (1, 3), (1, 1)) and short.blocks("video") == (1, 3, 1)
    assert short.branch("special").blocks == (2, 1, 1)
    # a uniform list is the short form: equal configs, the same saved dict
    assert HSTAConfig(num_stages=4, video_blocks=[2, 2, 2, 2]) == HSTAConfig()
    assert HSTAConfig(stage_blocks=[[1, 2]] * 4).to_dict() == HSTAConfig().to_dict()
    d = short.to_dict()
    assert d["video_blocks"] == [1, 3, 1] and "stage_blocks" not in d
    assert HSTAConfig.from_dict(json.loads(json.dumps(d))) == short


def test_presets_and_state_dict_names_unchanged():
    base = preset_config("hsta-base")
    assert (base.num_stages, base.special_blocks, base.video_blocks) == (4, 1, 2)
    assert base.depths == ((1, 2),) * 4
    model = create_model("hsta-tiny", num_classes=3)
    assert sum(p.numel() for p in model.parameters()) == TINY_PARAMS
    keys = set(model.state_dict())
    assert "stages.1.usta.video.blocks.0.attn.qkv.weight" in keys
    assert not any(".blocks.1." in k for k in keys)   # hsta-tiny: one block per stage and modality


def test_uneven_model_builds_named_blocks_and_forward():
    model = create_model("hsta-tiny", num_classes=3, stage_blocks=((2, 0), (0, 3))).eval()
    keys = set(model.state_dict())
    assert "stages.0.usta.special.blocks.1.mlp.fc1.weight" in keys
    assert not any(k.startswith("stages.0.usta.video.blocks.") for k in keys)
    assert "stages.1.usta.video.blocks.2.norm1.weight" in keys
    video, special = _inputs(model)
    with torch.no_grad():
        _, maps = model(video, special, return_attention=True)
    assert [len(s["special"]) for s in maps.usta] == [2, 0] and [len(s["video"]) for s in maps.usta] == [0, 3]
    # stochastic depth rises over each branch's blocks in order, across stages
    model = create_model("hsta-tiny", num_classes=3, stage_blocks=((2, 1), (1, 3)), drop_path_rate=0.3)
    rates = [b.drop_path.p if hasattr(b.drop_path, "p") else 0.0
             for st in model.stages for b in st.usta["video"].blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])


@pytest.mark.parametrize("ablation", ["no_usta", "neither", "no_csta", "video_only"])
def test_ablations_stay_one_option_on_uneven_models(ablation):
    cfg = preset_config("hsta-tiny", num_classes=3, stage_blocks=((2, 1), (1, 3)), **ABLATIONS[ablation])
    assert cfg.num_stages == 2
    if "video_blocks" in ABLATIONS[ablation]:
        assert cfg.depths == ((0, 0), (0, 0))
    model = HSTA(cfg).eval()
    video, special = _inputs(model)
    with torch.no_grad():
        assert model(video, special).shape == (2, 3)


@pytest.mark.parametrize("kw, needle", [
    ({"num_stages": 3, "video_blocks": (1, 2)}, "has 2 entries but num_stages=3"),
    ({"video_blocks": -1}, "non-negative"),
    ({"special_blocks": (1, -1, 1, 1)}, "non-negative integers"),
    ({"video_blocks": "two"}, "non-negative integers"),
    ({"stage_blocks": ((1, 2, 3),)}, "one \\(special_blocks, video_blocks\\) pair"),
    ({"stage_blocks": 3}, "pair per stage"),
    ({"mlp_ratio": 0}, "mlp_ratio must be a positive number"),
    ({"num_stages": True}, "num_stages"),
])
def test_bad_block_configs_fail_clearly(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        HSTAConfig(**kw)
