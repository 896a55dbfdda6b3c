"""`PreparedClip`, what decoding a clip yields (the cacheable part of preprocessing), and
`load_prepared`, which makes it: crops of the frame pool, onset and apex, registered and magnified
when asked for, and the flow in flow mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..clip import Clip
from .config import PrepConfig
from .crops import crop_resize, detect_face, read_frame, resize_crop
from .flow import flow_at
from .registration import align_and_record, magnify_clip
from .sampling import clip_span, uniform_positions


@dataclass
class PreparedClip:
    """What decoding a clip yields, before normalisation: the cacheable part of preprocessing.

    ``pool`` (P, S, S, 3) uint8 crops at P = (T-1)*pool_factor+1 uniform positions onset..offset;
    ``onset``/``apex`` (S, S, 3) uint8; ``flow`` (S, S, 2) float32 px (flow mode) or None;
    ``info``: face box, its source ("haar"/"box"/"centre"/"full"), frame numbers used.
    """
    pool: np.ndarray
    onset: np.ndarray
    apex: np.ndarray
    flow: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def load_prepared(clip: Clip, cfg: PrepConfig) -> PreparedClip:
    """Decode, crop and resize what a clip needs (no cache): see `PreparedClip`.

    With registration or magnification on, the crops are first made at ``cfg.work_size``, aligned to
    the onset and magnified there, then resized to ``cfg.img_size`` (flow, if asked for, is computed
    on the aligned crops)."""
    i_on, i_ap, i_off = clip_span(clip)
    pool_idx = uniform_positions(i_on, i_off, cfg.pool_size)
    first = read_frame(clip.frames[i_on])
    box = detect_face(first, cfg)
    size = cfg.work_size if cfg.uses_work_size else cfg.img_size
    decoded: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in decoded:
            img = first if i == i_on else read_frame(clip.frames[i])
            decoded[i] = crop_resize(img, box, size, Path(clip.frames[i]), first.shape)
        return decoded[i]
    pool = np.stack([get(int(i)) for i in pool_idx])
    onset, apex = get(i_on), get(i_ap)
    info: dict[str, Any] = {}
    flow = None
    if cfg.uses_work_size:
        aligned, info = align_and_record(onset, np.concatenate([pool, apex[None]]), cfg)
        if cfg.special == "flow":   # flow measures the true (registered, unmagnified) motion
            flow = flow_at(resize_crop(onset, cfg.img_size), resize_crop(aligned[-1], cfg.img_size), cfg.img_size,
                            cfg.flow)
        processed = magnify_clip(onset, aligned, cfg, info)
        pool = np.stack([resize_crop(f, cfg.img_size) for f in processed[:-1]])
        onset, apex = resize_crop(onset, cfg.img_size), resize_crop(processed[-1], cfg.img_size)
    elif cfg.special == "flow":
        flow = flow_at(onset, apex, cfg.img_size, cfg.flow)
    info = {"box": [box.x, box.y, box.w, box.h], "face_source": box.source,
            "onset": int(clip.frame_numbers[i_on]), "apex": int(clip.frame_numbers[i_ap]),
            "offset": int(clip.frame_numbers[i_off]),
            "pool_frames": [int(clip.frame_numbers[i]) for i in pool_idx], **info}
    return PreparedClip(pool, onset, apex, flow, info)
