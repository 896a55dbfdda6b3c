"""Tensors from a `PreparedClip`, on every access: temporal sampling, clip-level augmentation at train
time, normalisation, the difference representation, the special input; and the check of the tensor
contract (docs/interfaces.md)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ...errors import DataError
from ..clip import Clip
from .config import PrepConfig
from .prepared import PreparedClip, load_prepared
from .sampling import sample_pool_positions

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=8)
def _norm_affine(mode: str, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, bias) with normalised = uint8 * scale + bias; shaped (3, 1, ...) for ``dims`` dims."""
    if mode == "imagenet":
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    elif mode == "standard":
        mean, std = torch.full((3,), 0.5), torch.full((3,), 0.5)
    else:
        mean, std = torch.zeros(3), torch.ones(3)
    shape = (3,) + (1,) * (dims - 1)
    return (1.0 / (255.0 * std)).view(shape), (-mean / std).view(shape)


def _normalise(x: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 channels-first tensor (3, ...) -> float32 normalised: one fused multiply-add."""
    scale, bias = _norm_affine(mode, x.dim())
    return torch.addcmul(bias, x.float(), scale)


def check_tensors(video: torch.Tensor, special: torch.Tensor, cfg: PrepConfig, where: str,
                  finite: bool = True) -> None:
    """DataError naming ``where`` unless video is (3, T, S, S) and special (3, 2, S, S), float32 and
    (with ``finite``) free of NaN/inf."""
    S, T = cfg.img_size, cfg.num_frames
    P = cfg.special_size or S
    for name, t, shape in (("video", video, (3, T, S, S)), ("special", special, (3, 2, P, P))):
        if tuple(t.shape) != shape:
            raise DataError(f"{where}: {name} has shape {tuple(t.shape)}, expected {shape}")
        if t.dtype != torch.float32:
            raise DataError(f"{where}: {name} has dtype {t.dtype}, expected float32")
        if finite and not torch.isfinite(t).all():
            raise DataError(f"{where}: {name} holds NaN or infinite values")


def augment_params(cfg: PrepConfig, generator: torch.Generator | None = None) -> dict[str, Any]:
    """One draw of the clip-level augmentation (the same for every frame of the clip), as `assemble`
    makes it at train time: keys ``flip``, ``dy``/``dx`` (px), ``gain``/``offset`` when drawn."""
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))
    out: dict[str, Any] = {}
    if cfg.flip and u(0, 1) < 0.5:
        out["flip"] = True
    if cfg.shift:
        dy, dx = (int(v) for v in torch.randint(-cfg.shift, cfg.shift + 1, (2,), generator=generator))
        if dy or dx:
            out["dy"], out["dx"] = dy, dx
    if cfg.photometric:
        out["gain"], out["offset"] = u(1 - cfg.photometric, 1 + cfg.photometric), u(-1, 1) * cfg.photometric * 255
    return out


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate the last two axes by (dy, dx) integer px, edges replicated."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:   # shifted out entirely: every pixel repeats an edge
        iy = (torch.arange(h) - dy).clamp_(0, h - 1)
        ix = (torch.arange(w) - dx).clamp_(0, w - 1)
        return x[..., iy, :][..., ix]
    # crop what stays in view, then replicate the edges into the gap: the same values as gathering
    # x[clamp(i - dy), clamp(j - dx)], with two cheap ops instead of two gathers
    kept = x[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    flat = kept.reshape(-1, 1, *kept.shape[-2:])
    padded = torch.nn.functional.pad(flat, (max(0, dx), max(0, -dx), max(0, dy), max(0, -dy)), mode="replicate")
    return padded.reshape(*x.shape)


def _apply_augment(x: torch.Tensor, aug: dict[str, Any], photometric: bool = True) -> torch.Tensor:
    """Apply one augmentation draw to a channels-first float tensor (3, ..., S, S) in grey levels."""
    if aug.get("flip"):
        x = x.flip(-1)
    if "dy" in aug:
        x = _shift(x, aug["dy"], aug["dx"])
    if photometric and "gain" in aug:
        x = x * aug["gain"] + aug["offset"]
    return x


def _flow_channels(prepared: PreparedClip, scale: float, moved: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, v) in percent of the width (2, S, S) and |flow| (1, S, S) of a prepared clip. The
    magnitude is computed once per clip and kept with it (``torch.norm`` over two channels costs
    more than the rest of a clip's assembly). ``moved``: the flow will be mirrored or shifted, and
    its magnitude is the one of the contiguous channels (``norm`` rounds differently on the
    channels-last view), which is what computing it after the move gives, to the last bit."""
    f = torch.from_numpy(np.ascontiguousarray(prepared.flow)).permute(2, 0, 1) * scale
    key = (scale, moved)
    kept = prepared.__dict__.setdefault("_flow_magnitude", {})
    if key not in kept or kept[key][0] is not prepared.flow:
        kept[key] = (prepared.flow, (f.contiguous() if moved else f).norm(dim=0, keepdim=True))
    return f, kept[key][1]


def assemble(prepared: PreparedClip, cfg: PrepConfig, *, train: bool = False,
             generator: torch.Generator | None = None, where: str = "clip") -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors from a `PreparedClip`: ``video`` (3, T, S, S) and ``special`` (3, 2, S', S'), float32
    (S' = ``special_size`` or S).

    Test time (``train=False``) is deterministic; train time jitters the T positions when
    ``cfg.jitter`` and applies the clip-level augmentation (``flip``, ``shift``, ``photometric``).
    Images are normalised (``cfg.normalisation``, or per clip with ``cfg.clip_norm``); with
    ``representation="difference"`` the video frames and the apex become
    (frame - onset) x ``difference_scale``. Flow channels are (u, v, |flow|) in percent of the width.
    """
    pos = sample_pool_positions(cfg.num_frames, cfg.pool_factor, generator, jitter=train and cfg.jitter)
    if prepared.pool.shape[0] != cfg.pool_size:
        raise DataError(f"{where}: prepared pool has {prepared.pool.shape[0]} frames, expected {cfg.pool_size}")
    aug = augment_params(cfg, generator) if train else {}
    frames = torch.from_numpy(np.ascontiguousarray(prepared.pool[pos])).permute(3, 0, 1, 2)   # 3, T, S, S
    onset = torch.from_numpy(np.ascontiguousarray(prepared.onset)).permute(2, 0, 1)            # 3, S, S
    apex = torch.from_numpy(np.ascontiguousarray(prepared.apex)).permute(2, 0, 1)
    plain = not aug and not cfg.clip_norm
    if plain:
        video, onset_n, apex_n = (_normalise(x, cfg.normalisation) for x in (frames, onset, apex))
    else:
        images = torch.cat([frames, onset[:, None], apex[:, None]], dim=1).float()               # 3, T+2, S, S
        images = _apply_augment(images, aug)
        if cfg.clip_norm:
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            std = images.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
            images = (images - mean) / std
        else:
            scale, bias = _norm_affine(cfg.normalisation, 4)
            images = images * scale + bias
        video, onset_n, apex_n = images[:, :-2], images[:, -2], images[:, -1]
    if cfg.representation == "difference":
        video = (video - onset_n[:, None]) * cfg.difference_scale
        apex_n = (apex_n - onset_n) * cfg.difference_scale
    if cfg.special == "flow":
        if prepared.flow is None:
            raise DataError(f"{where}: flow mode but the prepared clip has no flow")
        moved = bool(aug.get("flip") or "dy" in aug)
        f, magnitude = _flow_channels(prepared, 100.0 / cfg.img_size, moved)
        if moved:   # |flow| is per pixel, so it moves and mirrors with the flow; a mirror negates u only
            f, magnitude = _apply_augment(f, aug, photometric=False), _apply_augment(magnitude, aug, photometric=False)
            if aug.get("flip"):
                f = torch.stack([-f[0], f[1]])
        second = torch.cat([f, magnitude]).clamp_(-cfg.flow_clip, cfg.flow_clip)
        if not torch.isfinite(second.sum()) and not torch.isfinite(second).all():   # a finite sum: all finite
            raise DataError(f"{where}: optical flow holds NaN or infinite values")
    else:
        second = apex_n
    special = torch.stack([onset_n, second], dim=1)
    if cfg.special_size:   # the top-left square the model's strided special tubelet reads
        special = special[..., : cfg.special_size, : cfg.special_size]
    special, video = special.contiguous(), video.contiguous()
    check_tensors(video, special, cfg, where, finite=False)   # built from uint8 (+ checked flow): finite
    return video, special


def prepare_clip(clip: Clip, cfg: PrepConfig, *, train: bool = False,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One clip to the model's inputs: ``(video (3, T, S, S), special (3, 2, S, S))`` float32, no cache."""
    return assemble(load_prepared(clip, cfg), cfg, train=train, generator=generator, where=clip.uid)


def _move_into(dst: np.ndarray, src: np.ndarray, aug: dict[str, Any]) -> None:
    """``dst[...] = src`` moved as `_apply_augment` moves it (mirror, then shift with the edges
    replicated) on the last two axes: slice copies, which also transpose when ``src`` is a
    transposed view. The same pixels as gathering ``src[clamp(i - dy), clamp(j - dx)]``."""
    if aug.get("flip"):
        src = src[..., ::-1]
    dy, dx = aug.get("dy", 0), aug.get("dx", 0)
    h, w = src.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:   # shifted out entirely: every pixel repeats an edge
        iy, ix = np.clip(np.arange(h) - dy, 0, h - 1), np.clip(np.arange(w) - dx, 0, w - 1)
        dst[...] = src[..., iy, :][..., ix]
        return
    r0, r1, c0, c1 = max(dy, 0), h + min(dy, 0), max(dx, 0), w + min(dx, 0)
    dst[..., r0:r1, c0:c1] = src[..., r0 - dy:r1 - dy, c0 - dx:c1 - dx]
    dst[..., r0:r1, :c0] = dst[..., r0:r1, c0:c0 + 1]
    dst[..., r0:r1, c1:] = dst[..., r0:r1, c1 - 1:c1]
    dst[..., :r0, :] = dst[..., r0:r0 + 1, :]
    dst[..., r1:, :] = dst[..., r1 - 1:r1, :]


def _batch_flow(prepared: Sequence[PreparedClip], augs: list[dict[str, Any]], cfg: PrepConfig,
                where: Sequence[str]) -> torch.Tensor:
    """(B, 3, S, S) flow channels (u, v, |flow|) of `assemble`, moved per clip, for a batch."""
    scale, S = 100.0 / cfg.img_size, cfg.img_size
    channels = np.empty((len(prepared), 3, S, S), np.float32)
    for b, (p, aug, name) in enumerate(zip(prepared, augs, where, strict=True)):
        if p.flow is None:
            raise DataError(f"{name}: flow mode but the prepared clip has no flow")
        moved = bool(aug.get("flip") or "dy" in aug)
        _move_into(channels[b, :2], p.flow.transpose(2, 0, 1), aug)
        _move_into(channels[b, 2:], _flow_channels(p, scale, moved)[1].numpy(), aug)
    second = torch.from_numpy(channels)
    second[:, :2].mul_(scale)
    mirrored = [b for b, aug in enumerate(augs) if aug.get("flip")]
    if mirrored:   # a mirror negates u
        second[mirrored, 0] = -second[mirrored, 0]
    second.clamp_(-cfg.flow_clip, cfg.flow_clip)
    if not torch.isfinite(second.sum()):
        bad = next((n for n, s in zip(where, second, strict=True) if not torch.isfinite(s).all()), None)
        if bad is not None:
            raise DataError(f"{bad}: optical flow holds NaN or infinite values")
    return second


def assemble_batch(prepared: Sequence[PreparedClip], cfg: PrepConfig, *, train: bool = False,
                   generator: torch.Generator | None = None,
                   where: Sequence[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`assemble` for a batch of clips at once: ``video`` (B, 3, T, S, S) and ``special``
    (B, 3, 2, S', S'), equal bit for bit to stacking ``assemble`` of each clip in turn, with the
    same random draws in the same order (tested). Mirrors and shifts move the uint8 pixels (which
    commutes with the per-pixel arithmetic) as they are copied channels-first into one batch
    buffer, and every arithmetic step runs once for the batch instead of once per clip.
    ``clip_norm`` (a per-clip statistic) assembles clip by clip."""
    where = [f"clip {b}" for b in range(len(prepared))] if where is None else list(where)
    if not prepared:
        raise DataError("assemble_batch: no clips")
    if cfg.clip_norm:
        pairs = [assemble(p, cfg, train=train, generator=generator, where=w) for p, w in zip(prepared, where, strict=True)]
        return torch.stack([v for v, _ in pairs]), torch.stack([s for _, s in pairs])
    T, S = cfg.num_frames, cfg.img_size
    images = np.empty((len(prepared), 3, T + 2, S, S), np.uint8)
    augs = []
    for b, (p, name) in enumerate(zip(prepared, where, strict=True)):   # the draws of `assemble`, clip by clip
        pos = sample_pool_positions(T, cfg.pool_factor, generator, jitter=train and cfg.jitter)
        if p.pool.shape[0] != cfg.pool_size or p.pool.shape[1:] != (S, S, 3):
            raise DataError(f"{name}: prepared pool has shape {p.pool.shape}, expected {(cfg.pool_size, S, S, 3)}")
        augs.append(augment_params(cfg, generator) if train else {})
        _move_into(images[b, :, :T], p.pool[pos].transpose(3, 0, 1, 2), augs[-1])
        _move_into(images[b, :, T], p.onset.transpose(2, 0, 1), augs[-1])
        _move_into(images[b, :, T + 1], p.apex.transpose(2, 0, 1), augs[-1])
    # in place where the result is the same: a fresh multi-megabyte tensor per step costs page faults
    x = torch.from_numpy(images).float()                                     # B, 3, T+2, S, S
    if train and cfg.photometric:
        gain = torch.tensor([a["gain"] for a in augs], dtype=torch.float32).view(-1, 1, 1, 1, 1)
        offset = torch.tensor([a["offset"] for a in augs], dtype=torch.float32).view(-1, 1, 1, 1, 1)
        x.mul_(gain).add_(offset)
    scale, bias = _norm_affine(cfg.normalisation, 4)
    plain = [b for b, a in enumerate(augs) if not a]   # `assemble`'s undisturbed clips: one fused multiply-add
    if len(plain) == len(augs):
        x = torch.addcmul(bias, x, scale)
    else:
        kept = torch.addcmul(bias, x[plain], scale) if plain else None
        x.mul_(scale).add_(bias)
        if kept is not None:
            x[plain] = kept
    onset_n, apex_n = x[:, :, T], x[:, :, T + 1]
    if cfg.representation == "difference":
        video = torch.sub(x[:, :, :T], onset_n[:, :, None]).mul_(cfg.difference_scale)
        apex_n.sub_(onset_n).mul_(cfg.difference_scale)
    else:
        video = x[:, :, :T].contiguous()
    second = _batch_flow(prepared, augs, cfg, where) if cfg.special == "flow" else apex_n
    special = torch.stack([onset_n, second], dim=2)
    if cfg.special_size:
        special = special[..., : cfg.special_size, : cfg.special_size].contiguous()
    return video, special
