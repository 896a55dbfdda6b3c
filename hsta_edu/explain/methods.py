"""One entry point for every explanation: ``explain_maps(model, video, special, method)`` returns,
for each modality, a non-negative map (B, T, H, W) aligned with that input's frames and
summing to 1 per clip, whether the method reads attention or attributes with Captum.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from .attention import attention_map, capture_attention
from .attribution import attribute

# name -> (kind, fixed options)
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "rollout": ("attention", {"method": "rollout"}),
    "attention": ("attention", {"method": "attention"}),
    "csta": ("attention", {"method": "csta"}),
    "saliency": ("attribution", {"method": "saliency"}),
    "integrated_gradients": ("attribution", {"method": "integrated_gradients"}),
    "smoothgrad_ig": ("attribution", {"method": "integrated_gradients", "noise_tunnel": "smoothgrad"}),
    "occlusion": ("attribution", {"method": "occlusion"}),
    "layer_gradcam": ("attribution", {"method": "layer_gradcam"}),
    "feature_ablation": ("attribution", {"method": "feature_ablation"}),
}
ATTENTION_OPTIONS = {"stage", "block", "head", "discard_ratio", "smooth"}


def _normalise(m: torch.Tensor) -> torch.Tensor:
    m = m.clamp_min(0)
    return m / m.sum((-3, -2, -1), keepdim=True).clamp_min(1e-12)


def explain_maps(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None, method: str,
                 target: int | torch.Tensor | None = None, *, reduce: str = "abs",
                 **options: Any) -> dict[str, torch.Tensor]:
    """Maps of ``method`` (one of `METHODS`) for every modality of ``model``: {modality: (B, T, H, W)}.

    Attention options: ``stage``, ``block`` (an int, or a dict modality -> int giving maps of
    those modalities only), ``head`` (int or 'mean'/'max'/'min'), ``discard_ratio``.
    Attribution options go to the Captum wrapper (e.g. ``baseline``, ``n_steps``); attribution
    maps are |attribution| summed over channels (``reduce``), then normalised.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown explanation method {method!r}; choose one of {list(METHODS)}")
    kind, fixed = METHODS[method]
    if kind == "attention":
        if target is not None:
            raise ConfigError(f"{method!r} reads attention weights, which do not depend on a target class")
        opts = {k: v for k, v in options.items() if k in ATTENTION_OPTIONS}
        unknown = set(options) - ATTENTION_OPTIONS
        if unknown:
            raise ConfigError(f"unknown option(s) {sorted(unknown)} for {method!r}; use {sorted(ATTENTION_OPTIONS)}")
        _, att = capture_attention(model, video, special)
        block = opts.pop("block", -1)
        if isinstance(block, dict):   # one block per modality (stages may differ between branches)
            return {m: attention_map(att, m, **fixed, **opts, block=block[m]).cpu() for m in att.grids
                    if m in block}
        return {m: attention_map(att, m, **fixed, **opts, block=block).cpu() for m in att.grids}
    opts = {**fixed, **options}
    name = opts.pop("method")
    attr = attribute(model, video, special, name, target, **opts)
    return {m: _normalise(attr.map(m, reduce)).cpu() for m in attr.inputs}
