"""Gradient and perturbation attributions with Captum, over both inputs at once.

Every method attributes the logit of ``target`` (default: the predicted class) to the
``video`` (B, C, T, H, W) and ``special`` (B, C, 2, H', W') inputs together (Captum's tuple
inputs), and returns an `Attribution` whose tensors have exactly the inputs' shapes.

- ``integrated_gradients``: IG from a baseline clip (the onset frame held still, or zeros)
  with a memory-bounded ``internal_batch_size``; ``noise_tunnel=`` wraps it in SmoothGrad.
- ``saliency``: plain input gradients (optionally SmoothGrad).
- ``occlusion``: slide a tubelet-sized window (one token's footprint) over each input.
- ``layer_gradcam``: Grad-CAM on a USTA block's patch tokens viewed as (D, t, h, w).
- ``feature_ablation``: replace whole facial regions by the baseline (the onset face).

The "onset" baseline fits micro-expressions: it is the same face with no movement, so
the attribution measures what the *movement* contributed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from captum.attr import FeatureAblation, IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion, Saliency
from einops import rearrange
from torch import nn

from ..errors import ConfigError

BASELINES = ("onset", "zeros")
NOISE_TUNNELS = (None, "smoothgrad", "smoothgrad_sq", "vargrad")


@dataclass
class Attribution:
    """Attributions of one method: ``inputs[modality]`` has the shape of that input (B, C, T, H, W)."""

    method: str
    inputs: dict[str, torch.Tensor]
    target: torch.Tensor
    extra: dict = field(default_factory=dict)

    @property
    def video(self) -> torch.Tensor | None:
        return self.inputs.get("video")

    @property
    def special(self) -> torch.Tensor | None:
        return self.inputs.get("special")

    def map(self, modality: str, reduce: str = "abs") -> torch.Tensor:
        """A per-pixel map (B, T, H, W): channels summed after ``reduce`` ('abs', 'positive', 'signed')."""
        if modality not in self.inputs:
            raise ConfigError(f"no {modality!r} attribution (have {sorted(self.inputs)})")
        a = self.inputs[modality]
        if reduce == "abs":
            a = a.abs()
        elif reduce == "positive":
            a = a.clamp_min(0)
        elif reduce != "signed":
            raise ConfigError(f"reduce must be 'abs', 'positive' or 'signed', got {reduce!r}")
        return a.sum(1)


# --------------------------------------------------------------------------- plumbing
def _modalities(model: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(model, "modalities", ("video", "special")))


class _TupleForward(nn.Module):
    """``forward(*inputs)`` in the model's modality order -> logits; Captum's forward_func."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.mods = _modalities(model)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        kw = {"video": None, "special": None}
        kw.update(zip(self.mods, xs, strict=True))
        return self.model(kw["video"], kw["special"])


def _prepare(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
             target: int | Sequence[int] | torch.Tensor | None):
    """Batch the inputs, move them to the model's device, pick targets (predicted class by default)."""
    given = {"video": video, "special": special}
    mods = _modalities(model)
    for m in mods:
        if given[m] is None:
            raise ConfigError(f"the model uses the {m!r} input; pass it")
    xs = []
    dev = next(model.parameters()).device
    for m in mods:
        x = given[m]
        if x.ndim == 4:
            x = x[None]
        xs.append(x.detach().to(dev, torch.float32))
    fwd = _TupleForward(model)
    if target is None:
        with torch.no_grad():
            target = fwd(*xs).argmax(-1)
    target = torch.as_tensor(target, device=dev).long().reshape(-1)
    if target.numel() == 1 and xs[0].shape[0] > 1:
        target = target.expand(xs[0].shape[0])
    return mods, tuple(xs), fwd, target


def _baseline(kind: str | float, modality: str, x: torch.Tensor, motion: bool) -> torch.Tensor:
    """The 'no movement' reference for one input (B, C, T, H, W).

    'onset': every frame replaced by the first (for video the first sampled frame, the onset, or
    zeros in the difference representation, where that frame is onset - onset; for special data
    the onset frame, and a zero second frame when it holds motion: flow, or apex - onset).
    'zeros' or a number: constant.
    """
    if kind == "onset":
        base = x[:, :, :1].expand_as(x).clone()
        if modality == "special" and motion:
            base[:, :, 1] = 0.0
        return base
    if kind == "zeros":
        return torch.zeros_like(x)
    if isinstance(kind, int | float):
        return torch.full_like(x, float(kind))
    raise ConfigError(f"unknown baseline {kind!r}; use one of {BASELINES} or a number")


def special_holds_motion(model: nn.Module, video: torch.Tensor | None = None) -> bool:
    """Whether the special data's second frame is motion (flow, or apex - onset in the difference
    representation) rather than the apex image: from the model's config and, when the model carries
    the `PrepConfig` it was trained with (``model.prep_config``, set by `load_pretrained`), its
    representation; otherwise a video whose first frame is exactly zero is taken as differences."""
    if getattr(getattr(model, "config", None), "special_input", "frames") == "flow":
        return True
    prep = getattr(model, "prep_config", None)
    if prep is not None:
        return getattr(prep, "representation", "frames") == "difference"
    return video is not None and bool((video[:, :, 0] == 0).all())


def _baselines(model: nn.Module, mods: tuple[str, ...], xs: tuple[torch.Tensor, ...], kind: str | float):
    video = xs[mods.index("video")] if "video" in mods else None
    motion = special_holds_motion(model, video)
    return tuple(_baseline(kind, m, x, motion) for m, x in zip(mods, xs, strict=True))


def onset_baseline(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None
                   ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The 'no movement' inputs the attributions start from (``baseline="onset"``), as (video, special):
    the onset held still; in the difference representation zero video and (onset, 0) special data."""
    mods = tuple(m for m, x in (("video", video), ("special", special)) if x is not None)
    xs = tuple(x for x in (video, special) if x is not None)
    base = dict(zip(mods, _baselines(model, mods, xs, "onset"), strict=True))
    return base.get("video"), base.get("special")


class _eval_mode:
    """Context: the model in eval mode (no dropout / drop-path noise in attributions), restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was = model, model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was)


def _wrap(method: str, mods, attrs, target, **extra) -> Attribution:
    if torch.is_tensor(attrs):
        attrs = (attrs,)
    return Attribution(method, {m: a.detach() for m, a in zip(mods, attrs, strict=True)}, target.detach(),
                       dict(extra))


def _with_noise(attributor, noise_tunnel: str | None, nt_samples: int, stdevs: float, xs, batch: int | None):
    """Wrap a Captum attributor in a NoiseTunnel; noise std = ``stdevs`` x each input's value range."""
    if noise_tunnel not in NOISE_TUNNELS:
        raise ConfigError(f"noise_tunnel must be one of {NOISE_TUNNELS}, got {noise_tunnel!r}")
    if noise_tunnel is None:
        return attributor, {}
    sd = tuple(float(stdevs * (x.detach().max() - x.detach().min()).clamp_min(1e-6)) for x in xs)
    return NoiseTunnel(attributor), dict(nt_type=noise_tunnel, nt_samples=nt_samples, stdevs=sd,
                                         nt_samples_batch_size=batch)


# --------------------------------------------------------------------------- methods
# many parameters: Captum's own keyword-only options (steps, batch, noise tunnel), passed through
def integrated_gradients(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
                         target: int | torch.Tensor | None = None, *, baseline: str | float = "onset",
                         n_steps: int = 32, internal_batch_size: int | None = None,
                         noise_tunnel: str | None = None, nt_samples: int = 8,
                         stdevs: float = 0.05) -> Attribution:
    """Integrated Gradients over both inputs from ``baseline`` ('onset' or 'zeros').

    ``internal_batch_size`` bounds memory: at most that many interpolated clips per forward
    (default: 8 steps x batch). ``extra['delta']`` is the completeness error per sample.
    """
    mods, xs, fwd, target = _prepare(model, video, special, target)
    base = _baselines(model, mods, xs, baseline)
    ibs = internal_batch_size or 8 * xs[0].shape[0]
    with _eval_mode(model):
        attributor, nt = _with_noise(IntegratedGradients(fwd), noise_tunnel, nt_samples, stdevs, xs, 1)
        if nt:
            attrs = attributor.attribute(xs, baselines=base, target=target, n_steps=n_steps,
                                         internal_batch_size=ibs, **nt)
            delta = None
        else:
            attrs, delta = attributor.attribute(xs, baselines=base, target=target, n_steps=n_steps,
                                                internal_batch_size=ibs, return_convergence_delta=True)
    name = "integrated_gradients" + (f"+{noise_tunnel}" if noise_tunnel else "")
    return _wrap(name, mods, attrs, target, delta=None if delta is None else delta.detach(), baseline=baseline)


def saliency(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
             target: int | torch.Tensor | None = None, *, noise_tunnel: str | None = None,
             nt_samples: int = 8, stdevs: float = 0.05) -> Attribution:
    """|d logit / d input| for both inputs (SmoothGrad with ``noise_tunnel='smoothgrad'``)."""
    mods, xs, fwd, target = _prepare(model, video, special, target)
    xs = tuple(x.requires_grad_() for x in xs)
    with _eval_mode(model):
        attributor, nt = _with_noise(Saliency(fwd), noise_tunnel, nt_samples, stdevs, xs, 4)
        attrs = attributor.attribute(xs, target=target, **(nt or {"abs": True}))
    return _wrap("saliency" + (f"+{noise_tunnel}" if noise_tunnel else ""), mods, attrs, target)


def _patch_of(model: nn.Module, modality: str) -> tuple[int, int, int]:
    emb = getattr(model, "embed", None)
    if emb is not None and modality in emb:
        return tuple(emb[modality].patch)
    cfg = model.config
    return (cfg.tubelet_size, *(2 * (cfg.branch(modality)[2],)))


def occlusion(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
              target: int | torch.Tensor | None = None, *, baseline: str | float = "onset",
              window: dict[str, Sequence[int]] | None = None, stride: dict[str, Sequence[int]] | None = None,
              perturbations_per_eval: int = 16) -> Attribution:
    """Occlusion: replace one window at a time by the baseline and record the logit drop.

    The default window and stride are one token's footprint (tubelet, ph, pw), over all
    channels, so each occlusion removes exactly one token's worth of input."""
    mods, xs, fwd, target = _prepare(model, video, special, target)
    base = _baselines(model, mods, xs, baseline)
    shapes, strides = [], []
    for m, x in zip(mods, xs, strict=True):
        w = tuple((window or {}).get(m, _patch_of(model, m)))
        s = tuple((stride or {}).get(m, w))
        shapes.append((x.shape[1], *w))
        strides.append((x.shape[1], *s))
    with _eval_mode(model), torch.no_grad():
        attrs = Occlusion(fwd).attribute(xs, sliding_window_shapes=tuple(shapes), strides=tuple(strides),
                                         baselines=base, target=target,
                                         perturbations_per_eval=perturbations_per_eval)
    return _wrap("occlusion", mods, attrs, target, baseline=baseline)


class _GridView(nn.Module):
    """An identity on (B, D, t, h, w): the 'layer' Captum hooks, so Grad-CAM sees a conv-like grid."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0


def _block(model: nn.Module, modality: str, stage: int, block: int) -> nn.Module:
    try:
        blocks = model.stages[stage].usta[modality].blocks
    except (IndexError, KeyError, AttributeError) as exc:
        raise ConfigError(f"no USTA of {modality!r} at stage {stage}: {exc}") from None
    if len(blocks) == 0:
        raise ConfigError(f"stage {stage} has no USTA blocks for {modality!r}")
    if not -len(blocks) <= block < len(blocks):
        raise ConfigError(f"block {block} out of range: stage {stage} of {modality!r} has {len(blocks)}")
    return blocks[block]


def layer_gradcam(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
                  target: int | torch.Tensor | None = None, *, stage: int | dict[str, int] = -1,
                  block: int | dict[str, int] = -1, relu: bool = True) -> Attribution:
    """Grad-CAM on a USTA block's output tokens, per modality.

    The block's patch tokens (B, N, D) are viewed as a feature volume (B, D, t, h, w); Grad-CAM
    weights each channel by its mean gradient and sums: a (t, h, w) map, upsampled (nearest,
    one value per tubelet) and broadcast over channels to the input's shape. ``stage`` and
    ``block`` pick the block (an int for both modalities, or a dict modality -> int)."""
    mods, xs, fwd, target = _prepare(model, video, special, target)
    out = []
    with _eval_mode(model):
        for m, x in zip(mods, xs, strict=True):
            t, h, w = model.token_grid(m)
            view = _GridView()

            def hook(_mod, _inp, y, view=view, t=t, h=h, w=w):
                g = view(rearrange(y[:, 1:], "b (t h w) d -> b d t h w", t=t, h=h, w=w))
                return torch.cat([y[:, :1], rearrange(g, "b d t h w -> b (t h w) d")], dim=1)

            st = stage[m] if isinstance(stage, dict) else stage
            bl = block[m] if isinstance(block, dict) else block
            handle = _block(model, m, st, bl).register_forward_hook(hook)
            try:
                cam = LayerGradCam(fwd, view).attribute(xs, target=target, relu_attributions=relu)
            finally:
                handle.remove()
            pt, ph, pw = x.shape[2] // t, x.shape[3] // h, x.shape[4] // w
            cam = cam.repeat_interleave(pt, 2).repeat_interleave(ph, 3).repeat_interleave(pw, 4)
            out.append(cam.expand_as(x) / x.shape[1])
    return _wrap("layer_gradcam", mods, tuple(out), target, stage=stage, block=block)


# --------------------------------------------------------------------------- facial regions
# Regions of an aligned face crop as (name, top, bottom, left, right) fractions of the side,
# in priority order (earlier wins where boxes overlap). "left" is the image's left.
FACE_REGIONS: tuple[tuple[str, float, float, float, float], ...] = (
    ("brow_left", 0.14, 0.32, 0.10, 0.47),
    ("brow_right", 0.14, 0.32, 0.53, 0.90),
    ("eye_left", 0.32, 0.48, 0.10, 0.47),
    ("eye_right", 0.32, 0.48, 0.53, 0.90),
    ("nose", 0.40, 0.64, 0.36, 0.64),
    ("mouth", 0.64, 0.84, 0.24, 0.76),
    ("cheek_left", 0.48, 0.76, 0.04, 0.36),
    ("cheek_right", 0.48, 0.76, 0.64, 0.96),
    ("chin", 0.84, 1.00, 0.24, 0.76),
    ("forehead", 0.00, 0.14, 0.10, 0.90),
)


def facial_regions(height: int, width: int, layout: str = "face", grid: int = 4,
                   ) -> tuple[torch.Tensor, list[str]]:
    """An integer region map (H, W) and the region names.

    ``layout='face'``: the boxes of `FACE_REGIONS` on an aligned face crop (brows, eyes, nose,
    mouth, cheeks, chin, forehead) plus 'rest'; ``layout='grid'``: ``grid x grid`` cells."""
    if layout == "grid":
        rows = torch.arange(height) * grid // height
        cols = torch.arange(width) * grid // width
        names = [f"cell_{r}_{c}" for r in range(grid) for c in range(grid)]
        return rows[:, None] * grid + cols[None, :], names
    if layout != "face":
        raise ConfigError(f"unknown region layout {layout!r}; use 'face' or 'grid'")
    names = [r[0] for r in FACE_REGIONS] + ["rest"]
    mask = torch.full((height, width), len(FACE_REGIONS), dtype=torch.long)
    for i, (_, top, bottom, left, right) in reversed(list(enumerate(FACE_REGIONS))):
        r0, r1 = round(top * height), round(bottom * height)
        c0, c1 = round(left * width), round(right * width)
        mask[r0:r1, c0:c1] = i
    return mask, names


def feature_ablation(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None,
                     target: int | torch.Tensor | None = None, *, baseline: str | float = "onset",
                     regions: str | torch.Tensor = "face", per_tubelet: bool = False,
                     perturbations_per_eval: int = 16) -> Attribution:
    """Ablate facial regions (all frames of a region at once, or per tubelet) and record the logit drop.

    ``regions``: 'face', 'grid' or an integer (H, W) map shared by both inputs (resized by
    nearest neighbour to each input's size). Regions of the two inputs are separate features."""
    mods, xs, fwd, target = _prepare(model, video, special, target)
    base = _baselines(model, mods, xs, baseline)
    masks, offset = [], 0
    for m, x in zip(mods, xs, strict=True):
        H, W = x.shape[-2:]
        if isinstance(regions, str):
            r, _ = facial_regions(H, W, regions)
        else:
            r = torch.as_tensor(regions).long()
            if r.shape != (H, W):
                r = torch.nn.functional.interpolate(r[None, None].float(), size=(H, W), mode="nearest")[0, 0].long()
        _, r = torch.unique(r, return_inverse=True)  # ids 0..k-1
        k = int(r.max()) + 1
        mask = r[None, None, None].expand(1, 1, x.shape[2], H, W).clone()
        if per_tubelet:
            pt = _patch_of(model, m)[0]
            tub = (torch.arange(x.shape[2]) // pt)[None, None, :, None, None]
            mask = mask + k * tub
        masks.append(mask.to(x.device) + offset)
        offset = int(masks[-1].max()) + 1
    with _eval_mode(model), torch.no_grad():
        attrs = FeatureAblation(fwd).attribute(xs, baselines=base, target=target, feature_mask=tuple(masks),
                                               perturbations_per_eval=perturbations_per_eval)
    # Captum writes each feature's score on every element of it; divide by the channel count so
    # a map summed over channels carries the score once per pixel.
    attrs = tuple(a / a.shape[1] for a in attrs)
    return _wrap("feature_ablation", mods, attrs, target, baseline=baseline)


ATTRIBUTION_METHODS: dict[str, Callable[..., Attribution]] = {
    "integrated_gradients": integrated_gradients,
    "saliency": saliency,
    "occlusion": occlusion,
    "layer_gradcam": layer_gradcam,
    "feature_ablation": feature_ablation,
}


def attribute(model: nn.Module, video: torch.Tensor | None, special: torch.Tensor | None, method: str,
              target: int | torch.Tensor | None = None, **kwargs) -> Attribution:
    """Run one of `ATTRIBUTION_METHODS` by name."""
    if method not in ATTRIBUTION_METHODS:
        raise ConfigError(f"unknown attribution method {method!r}; choose one of {sorted(ATTRIBUTION_METHODS)}")
    return ATTRIBUTION_METHODS[method](model, video, special, target, **kwargs)
