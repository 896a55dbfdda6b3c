import math

import torch

from hsta_edu.model.embed import TubeletEmbedding, sinusoid_table


def test_sinusoid_table_formula():
    t = sinusoid_table(5, 6)
    for pos in range(5):
        for j in range(6):
            angle = pos / 10000 ** (2 * (j // 2) / 6)
            expect = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(t[pos, j].item() - expect) < 1e-6


def test_tubelet_tokens_are_ordered_t_h_w():
    emb = TubeletEmbedding(1, 1, img_size=4, patch_size=2, num_frames=4, tubelet_size=2)
    with torch.no_grad():
        emb.proj.weight.fill_(1.0)
        emb.proj.bias.zero_()
        emb.cls_token.zero_()
    x = torch.zeros(1, 1, 4, 4, 4)
    x[0, 0, 2:4, 0:2, 2:4] = 1.0  # second tubelet in time, top row, right column
    tokens = emb(x) - emb.pos_embed
    assert emb.grid == (2, 2, 2) and tokens.shape == (1, 9, 1)
    hot = tokens[0, 1:, 0].nonzero().flatten().tolist()
    assert hot == [1 * 4 + 0 * 2 + 1]  # index (t=1, h=0, w=1) in (t h w) order
    assert "pos_embed" not in emb.state_dict()
