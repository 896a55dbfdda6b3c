import pytest
import torch

from hsta_edu.errors import ConfigError
from hsta_edu.explain import attention


def test_captured_maps_have_contract_shapes_and_rows_sum_to_one(tiny_model, inputs):
    video, special = inputs
    logits, att = attention.capture_attention(tiny_model, video, special)
    assert logits.shape == (2, 3)
    assert att.grids == {"video": (2, 2, 2), "special": (1, 2, 2)}
    assert attention.num_blocks(att, "video") == [2, 2] and attention.num_blocks(att, "special") == [1, 1]
    maps = attention.usta_maps(att, "video") + attention.usta_maps(att, "special")
    assert len(maps) == 6
    for m in maps:
        assert m.shape[:2] == (2, 2) and m.shape[-1] == m.shape[-2]
        torch.testing.assert_close(m.sum(-1), torch.ones(m.shape[:-1]))
    for stage in att.csta:
        assert stage["video"].shape == (2, 2, 1, 1 + 4)   # video [CLS] reads the 4 special tokens
        assert stage["special"].shape == (2, 2, 1, 1 + 8)
        for m in stage.values():
            torch.testing.assert_close(m.sum(-1), torch.ones(m.shape[:-1]))
    assert tiny_model.training is False


def test_capture_restores_training_mode(tiny_model, inputs):
    tiny_model.train()
    try:
        attention.capture_attention(tiny_model, *inputs)
        assert tiny_model.training
    finally:
        tiny_model.eval()


def test_rollout_matches_hand_computed_two_block_case():
    a1 = torch.tensor([[[[0.5, 0.5], [0.2, 0.8]]]])
    a2 = torch.tensor([[[[1.0, 0.0], [0.4, 0.6]]]])
    # (A + I)/2 per block, then A2' @ A1'
    want = torch.tensor([[[0.75, 0.25], [0.23, 0.77]]])
    torch.testing.assert_close(attention.rollout([a1, a2]), want)


def test_rollout_max_fusion_renormalises_rows_before_identity():
    heads = torch.tensor([[[[0.5, 0.5], [0.2, 0.8]], [[0.9, 0.1], [0.6, 0.4]]]])
    # max -> [[.9,.5],[.6,.8]] -> rows / 1.4 -> (A + I) / 2
    want = torch.tensor([[[23 / 28, 5 / 28], [6 / 28, 22 / 28]]])
    got = attention.rollout([heads], head_fusion="max")
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got.sum(-1), torch.ones(1, 2))
    torch.testing.assert_close(attention.rollout([heads], head_fusion=1), 0.5 * (heads[:, 1] + torch.eye(2)))


def test_discard_keeps_cls_column_and_renormalises():
    a = torch.tensor([[[[0.1, 0.2, 0.3, 0.4]] * 4]])
    r = attention.rollout([a], discard_ratio=0.5, add_identity=False)
    torch.testing.assert_close(r[0, 0], torch.tensor([0.125, 0.0, 0.375, 0.5]))
    with pytest.raises(ConfigError):
        attention.rollout([a], discard_ratio=1.0)


def test_rollout_is_identity_for_identity_attention_and_rejects_empty():
    eye = torch.eye(5).expand(1, 3, 5, 5)
    torch.testing.assert_close(attention.rollout([eye, eye]), torch.eye(5)[None])
    with pytest.raises(ConfigError):
        attention.rollout([])


def test_token_grid_round_trip_and_known_positions():
    lay = attention.TokenLayout((3, 6, 6), (2, 8, 8))
    assert lay.input_size == (6, 48, 48) and lay.num_tokens == 108
    assert lay.token_to_position(1) == (slice(0, 2), slice(0, 8), slice(0, 8))
    assert lay.token_to_position(7) == (slice(0, 2), slice(8, 16), slice(0, 8))      # next row
    assert lay.token_to_position(37) == (slice(2, 4), slice(0, 8), slice(0, 8))     # next tubelet
    for tok in range(1, lay.num_tokens + 1):
        f, r, c = lay.token_to_position(tok)
        assert lay.position_to_token(f.start, r.start, c.start) == tok
        assert lay.position_to_token(f.stop - 1, r.stop - 1, c.stop - 1) == tok
        assert lay.cell_to_token(*lay.token_to_cell(tok)) == tok
    toks = torch.arange(1, 109)
    assert torch.equal(lay.cell_to_token(*lay.token_to_cell(toks)), toks)
    with pytest.raises(ConfigError):
        lay.token_to_cell(0)          # [CLS] has no position
    with pytest.raises(ConfigError):
        lay.position_to_token(6, 0, 0)


def test_to_frames_puts_each_token_on_its_footprint():
    lay = attention.TokenLayout.from_input((2, 2, 2), (4, 16, 16))
    assert lay.patch == (2, 8, 8)
    values = torch.arange(1.0, 9.0)[None]                     # token k (1-based) has value k
    frames = lay.to_frames(values)
    assert frames.shape == (1, 4, 16, 16)
    for tok in range(1, 9):
        f, r, c = lay.token_to_position(tok)
        assert torch.all(frames[0, f, r, c] == tok)
    torch.testing.assert_close(lay.pool_frames(frames), values * 2 * 8 * 8)
    assert lay.to_frames(values, smooth=True).shape == (1, 4, 16, 16)


@pytest.mark.parametrize("method", attention.ATTENTION_METHODS)
@pytest.mark.parametrize("modality", ["video", "special"])
def test_attention_maps_align_with_frames(tiny_model, inputs, method, modality):
    _, att = attention.capture_attention(tiny_model, *inputs)
    m = attention.attention_map(att, modality, method, head="max")
    T = 4 if modality == "video" else 2
    assert m.shape == (2, T, 16, 16)
    assert (m >= 0).all()
    torch.testing.assert_close(m.sum((1, 2, 3)), torch.ones(2))


def test_rollout_tokens_follow_the_rolled_out_cls_row(tiny_model, inputs):
    _, att = attention.capture_attention(tiny_model, *inputs)
    r = attention.rollout(attention.usta_maps(att, "video"))
    row = r[:, 0, 1:] / r[:, 0, 1:].sum(-1, keepdim=True)
    torch.testing.assert_close(attention.rollout_tokens(att, "video"), row)
    w, self_w = attention.csta_tokens(att, "video", stage=0)
    raw = att.csta[0]["video"].mean(1)[:, 0]
    torch.testing.assert_close(self_w, raw[:, 0])
    torch.testing.assert_close(w, raw[:, 1:] / raw[:, 1:].sum(-1, keepdim=True))
    assert w.shape == (2, 4)   # on the special modality's grid


def test_bad_choices_raise_config_error(tiny_model, inputs):
    _, att = attention.capture_attention(tiny_model, *inputs)
    with pytest.raises(ConfigError):
        attention.attention_map(att, "audio")
    with pytest.raises(ConfigError):
        attention.attention_map(att, "video", "attention", block=5)
    with pytest.raises(ConfigError):
        attention.fuse_heads(att.usta[0]["video"][0], head=9)
    with pytest.raises(ConfigError):
        attention.fuse_heads(att.usta[0]["video"][0], head="median")
