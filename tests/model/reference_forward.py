"""An independent, functional re-statement of the reference model's computation, written from
the facts in shared/reference/README.md and working directly on reference-named state dicts.
Used to build the project's own reference-format fixture (no file from shared/ is copied)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def reference_keys(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Every state-dict key and shape of a reference model of config ``cfg``."""
    d, p, ratio = cfg["embed_dim"], cfg["patch_size"], cfg["mlp_ratio"]
    t, c, n_cls = cfg.get("tubelet_size", 2), 3, cfg["num_classes"]
    keys: dict[str, tuple[int, ...]] = {}
    for b in (0, 1):
        keys[f"patch_embed.{b}.proj.weight"] = (d[b], c, t, p[b], p[b])
        keys[f"patch_embed.{b}.proj.bias"] = (d[b],)
    for b in (0, 1):
        keys[f"cls_token.{b}"] = (1, 1, d[b])
    for k, stage in enumerate(cfg["depth"]):
        for b in (0, 1):
            for i in range(stage[b]):
                pre, h = f"blocks.{k}.blocks.{b}.{i}.", int(d[b] * ratio[b])
                keys.update({pre + "norm1.weight": (d[b],), pre + "norm1.bias": (d[b],),
                             pre + "attn.q_bias": (d[b],), pre + "attn.v_bias": (d[b],),
                             pre + "attn.qkv.weight": (3 * d[b], d[b]),
                             pre + "attn.proj.weight": (d[b], d[b]), pre + "attn.proj.bias": (d[b],),
                             pre + "norm2.weight": (d[b],), pre + "norm2.bias": (d[b],),
                             pre + "mlp.fc1.weight": (h, d[b]), pre + "mlp.fc1.bias": (h,),
                             pre + "mlp.fc2.weight": (d[b], h), pre + "mlp.fc2.bias": (d[b],)})
        for i in (0, 1):
            j = 1 - i
            keys.update({f"blocks.{k}.projs.{i}.0.weight": (d[i],), f"blocks.{k}.projs.{i}.0.bias": (d[i],),
                         f"blocks.{k}.projs.{i}.2.weight": (d[j], d[i]), f"blocks.{k}.projs.{i}.2.bias": (d[j],)})
        for i in (0, 1):
            j = 1 - i
            pre = f"blocks.{k}.fusion.{i}."
            keys.update({pre + "norm1.weight": (d[j],), pre + "norm1.bias": (d[j],)})
            for w in ("wq", "wk", "wv", "proj"):
                keys.update({pre + f"attn.{w}.weight": (d[j], d[j]), pre + f"attn.{w}.bias": (d[j],)})
        for i in (0, 1):
            j = 1 - i
            keys.update({f"blocks.{k}.revert_projs.{i}.0.weight": (d[j],),
                         f"blocks.{k}.revert_projs.{i}.0.bias": (d[j],),
                         f"blocks.{k}.revert_projs.{i}.2.weight": (d[i], d[j]),
                         f"blocks.{k}.revert_projs.{i}.2.bias": (d[i],)})
    for b in (0, 1):
        keys[f"norm.{b}.weight"] = (d[b],)
        keys[f"norm.{b}.bias"] = (d[b],)
    keys["head.weight"] = (n_cls, d[0] + d[1])
    keys["head.bias"] = (n_cls,)
    return keys


def random_reference_state_dict(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random weights; every 1-D tensor is perturbed so a wrong mapping cannot pass."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in reference_keys(cfg).items():
        if len(shape) == 1:
            base = 1.0 if key.endswith("weight") else 0.0  # every 1-D weight is a LayerNorm's
            sd[key] = base + 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
            sd[key] = torch.randn(shape, generator=g) / math.sqrt(max(fan_in, 1))
    return sd


def _sinusoid(n: int, d: int) -> torch.Tensor:
    table = np.array([[pos / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for pos in range(n)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float32)[None]


def _ln(sd, pre, x):
    return F.layer_norm(x, x.shape[-1:], sd[pre + "weight"], sd[pre + "bias"], eps=1e-6)


def _lin(sd, pre, x):
    return F.linear(x, sd[pre + "weight"], sd.get(pre + "bias"))


def _mha(q, k, v, heads):
    b, nq, dim = q.shape
    hd = dim // heads
    q = q.reshape(b, nq, heads, hd).transpose(1, 2)
    k = k.reshape(b, k.shape[1], heads, hd).transpose(1, 2)
    v = v.reshape(b, v.shape[1], heads, hd).transpose(1, 2)
    attn = torch.softmax(q @ k.transpose(-2, -1) * hd ** -0.5, dim=-1)
    return (attn @ v).transpose(1, 2).reshape(b, nq, dim)


def _block(sd, pre, x, heads):
    y = _ln(sd, pre + "norm1.", x)
    bias = torch.cat([sd[pre + "attn.q_bias"], torch.zeros_like(sd[pre + "attn.q_bias"]), sd[pre + "attn.v_bias"]])
    q, k, v = F.linear(y, sd[pre + "attn.qkv.weight"], bias).chunk(3, dim=-1)
    x = x + _lin(sd, pre + "attn.proj.", _mha(q, k, v, heads))
    y = _ln(sd, pre + "norm2.", x)
    return x + _lin(sd, pre + "mlp.fc2.", F.gelu(_lin(sd, pre + "mlp.fc1.", y)))


def _ln_gelu_lin(sd, pre, x):
    return _lin(sd, pre + "2.", F.gelu(_ln(sd, pre + "0.", x)))


@torch.no_grad()
def reference_forward(sd: dict, cfg: dict, x: torch.Tensor) -> torch.Tensor:
    """Logits of the reference model for its single input x (B, 3, T + 2, H, W)."""
    n_video = cfg["all_frames"][1]
    inputs = [torch.stack([x[:, :, -2], x[:, :, -1]], dim=2), x[:, :, :n_video]]
    tok = []
    for b in (0, 1):
        w = sd[f"patch_embed.{b}.proj.weight"]
        y = F.conv3d(inputs[b], w, sd[f"patch_embed.{b}.proj.bias"], stride=tuple(w.shape[2:]))
        y = y.flatten(2).transpose(1, 2)
        y = torch.cat([sd[f"cls_token.{b}"].expand(x.shape[0], -1, -1), y], dim=1)
        tok.append(y + _sinusoid(y.shape[1], y.shape[2]))
    heads = cfg["num_heads"]
    for k, stage in enumerate(cfg["depth"]):
        for b in (0, 1):
            for i in range(stage[b]):
                tok[b] = _block(sd, f"blocks.{k}.blocks.{b}.{i}.", tok[b], heads[b])
        new = []
        for i in (0, 1):
            j = 1 - i
            c = _ln_gelu_lin(sd, f"blocks.{k}.projs.{i}.", tok[i][:, :1])
            z = torch.cat([c, tok[j][:, 1:]], dim=1)
            pre = f"blocks.{k}.fusion.{i}."
            zn = _ln(sd, pre + "norm1.", z)
            o = _mha(_lin(sd, pre + "attn.wq.", zn[:, :1]), _lin(sd, pre + "attn.wk.", zn),
                     _lin(sd, pre + "attn.wv.", zn), heads[j])
            c = z[:, :1] + _lin(sd, pre + "attn.proj.", o)
            new.append(_ln_gelu_lin(sd, f"blocks.{k}.revert_projs.{i}.", c))
        tok = [torch.cat([new[i], tok[i][:, 1:]], dim=1) for i in (0, 1)]
    cls = torch.cat([_ln(sd, "norm.0.", tok[0][:, 0]), _ln(sd, "norm.1.", tok[1][:, 0])], dim=-1)
    return _lin(sd, "head.", cls)
