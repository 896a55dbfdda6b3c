import pytest
import torch

from hsta_edu import create_model
from hsta_edu.model.layers import Attention, drop_path


def _inputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(3, *model.input_shape("video"), generator=g),
            torch.randn(3, *model.input_shape("special"), generator=g))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fused_and_explicit_paths_agree(mode):
    # In train mode dropout must be off for the two paths to be comparable; in eval mode the
    # configured dropout is inactive by construction.
    rates = dict(drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0) if mode == "train" else \
        dict(drop_rate=0.3, attn_drop_rate=0.3, drop_path_rate=0.3, head_drop_rate=0.3)
    torch.manual_seed(0)
    model = create_model("hsta-tiny", num_classes=4, **rates)
    model.train(mode == "train")
    video, special = _inputs(model)
    fused = model(video, special)
    explicit, maps = model(video, special, return_attention=True)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    fused.sum().backward()
    g1 = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    explicit.sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, g1[n], atol=1e-5, rtol=1e-4)


def test_attention_rows_sum_to_one():
    model = create_model("hsta-tiny", num_classes=3).eval()
    with torch.no_grad():
        _, maps = model(*_inputs(model), return_attention=True)
    every = [a for st in maps.usta for blocks in st.values() for a in blocks] + \
            [a for st in maps.csta for a in st.values()]
    assert len(every) == 2 * 2 + 2 * 2
    for a in every:
        assert (a >= 0).all()
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))


def test_key_has_no_bias():
    attn = Attention(8, 2)
    with torch.no_grad():
        attn.q_bias.fill_(1.0)
        attn.v_bias.fill_(2.0)
    x = torch.randn(1, 3, 8)
    import torch.nn.functional as F
    qkv = F.linear(x, attn.qkv.weight, torch.cat([attn.q_bias, torch.zeros(8), attn.v_bias]))
    assert torch.allclose(qkv[..., 8:16], F.linear(x, attn.qkv.weight[8:16]))


def test_drop_path_keeps_expectation_and_is_identity_in_eval():
    x = torch.ones(20000, 4)
    torch.manual_seed(0)
    y = drop_path(x, 0.25, training=True)
    assert set(y[:, 0].unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}
    assert abs(y.mean().item() - 1.0) < 0.03
    assert torch.equal(drop_path(x, 0.25, training=False), x)
