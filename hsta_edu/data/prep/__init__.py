"""Preprocessing: from a `Clip`'s frame files to the model's two inputs.

    frames on disk --(face box on the onset frame, same box for the whole clip)--> crops
    crops --(uniform sampling of T frames between onset and offset)--> video   (3, T, S, S)
    onset + apex crops (or onset + optical flow onset->apex)        --> special (3, 2, S, S)

Decoding and cropping are the slow part, so they happen once per clip: a
`PreparedClip` keeps uint8 crops of a *pool* of frames (``pool_factor`` times denser
than the T sampled positions, so training can jitter the positions without decoding
again), the onset and apex crops and, in flow mode, the flow. It is cached on disk
keyed by the clip and the settings that shape it; tensors are assembled from it
(normalisation, sampling) on every access, which is cheap.

Tensor contract (docs/interfaces.md): ``video`` float32 (C=3, T, H, W), ``special`` float32
(3, 2, H, W) with ``special[:, 0]`` the onset frame and ``special[:, 1]`` the apex frame, or in
flow mode the flow onset->apex as (u, v, magnitude) in percent of the image width.

The modules, each importing only those above it:

- ``settings``: `PrepConfig` and the names its options may take (``FACE_MODES`` ...);
- ``crops``: `read_frame`, `FaceBox`, `detect_face`, the crop and resize of every frame;
- ``sampling``: `clip_span`, `uniform_positions`, `sample_pool_positions`;
- ``flow``: `compute_flow`;
- ``registration``: `Registration`, `register_image`, `warp_image`, `align`, `align_and_record`,
  `magnify_clip`, `align_and_magnify`;
- ``prepared``: `PreparedClip`, `load_prepared` (decoding a clip);
- ``tensors``: normalisation, augmentation, `assemble`, `check_tensors`, `prepare_clip`;
- ``cache``: `CacheStats`, `cache_key`, `cache_path`, `load_or_prepare`, `prepare_index`.

This file only re-exports them. Code here uses each name from the module that defines it, so a
test that replaces one (``monkeypatch.setattr``) patches that module, e.g.
``hsta_edu.data.prep.registration.register_image``, not ``hsta_edu.data.prep``.
"""

from .cache import PREP_VERSION, CacheStats, cache_key, cache_path, load_or_prepare, prepare_index
from .config import (
    FACE_MODES,
    FLOW_METHODS,
    NORMALISATIONS,
    REGISTRATIONS,
    REPRESENTATIONS,
    SPECIAL_MODES,
    PrepConfig,
)
from .crops import FaceBox, detect_face, read_frame
from .flow import compute_flow
from .prepared import PreparedClip, load_prepared
from .registration import (
    Registration,
    align,
    align_and_magnify,
    align_and_record,
    magnify_clip,
    register_image,
    warp_image,
)
from .sampling import clip_span, sample_pool_positions, uniform_positions
from .tensors import IMAGENET_MEAN, IMAGENET_STD, assemble, augment_params, check_tensors, prepare_clip

__all__ = [
    "FACE_MODES", "FLOW_METHODS", "IMAGENET_MEAN", "IMAGENET_STD", "NORMALISATIONS", "PREP_VERSION",
    "REGISTRATIONS", "REPRESENTATIONS", "SPECIAL_MODES",
    "CacheStats", "FaceBox", "PrepConfig", "PreparedClip", "Registration",
    "align", "align_and_magnify", "align_and_record", "assemble", "augment_params", "cache_key", "cache_path",
    "check_tensors", "clip_span", "compute_flow", "detect_face", "load_or_prepare", "load_prepared",
    "magnify_clip", "prepare_clip", "prepare_index", "read_frame", "register_image", "sample_pool_positions",
    "uniform_positions", "warp_image",
]
