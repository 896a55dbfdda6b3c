"""`PrepConfig`: how clips become tensors, and the names its options may take."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...errors import ConfigError, check_fields
from ...typed_fields import check_field_types

FACE_MODES = ("haar", "box", "none")
SPECIAL_MODES = ("frames", "flow")
FLOW_METHODS = ("dis", "tvl1", "farneback")
NORMALISATIONS = ("imagenet", "unit", "standard")
REGISTRATIONS = ("none", "translation", "euclidean", "affine")
REPRESENTATIONS = ("frames", "difference")


@dataclass(frozen=True)
class PrepConfig:
    """How clips become tensors. Validated on creation (ConfigError names the bad value).

    - ``img_size``: side of the square crops fed to the model (H = W).
    - ``num_frames``: T, frames sampled uniformly from onset to offset (even: tubelet 2).
    - ``face``: "haar" (OpenCV Haar cascade on the onset frame; falls back to ``box`` or a
      centre crop when no face is found, recorded in the clip's info), "box" (the fixed
      ``box`` = (x, y, w, h) in frame pixels), or "none" (the whole frame).
    - ``special``: "frames" (onset, apex) or "flow" (onset, flow onset->apex by ``flow``).
    - ``normalisation``: "imagenet" (mean/std), "unit" ([0, 1]) or "standard" ([-1, 1]).
    - ``pool_factor``: frames kept between two sampled positions for train-time jitter.
    - ``flow_clip``: flow values (percent of the image width) are clipped to +-this.

    Micro-expression steps (see docs/results/frames.md for what each one does to learning):

    - ``register``: align every pool frame and the apex to the onset frame before anything else
      (OpenCV ``findTransformECC`` on the face crop at ``work_size`` px): "none", "translation",
      "euclidean" (shift + rotation, the default: head drift is rigid) or "affine". The residual
      per clip is recorded in the prepared clip's ``info["registration"]``.
    - ``register_check`` (default on): never trust one estimate (`register_image(check=True)`): no motion,
      plain and robust ECC and each shrunk towards no motion compete on the still face, an implausible
      one is refused, and the record names the winner. ``benchmarks/registration.py`` measures it against
      SynthME's true head motion (no clip made worse than unregistered by more than 0.1 px); off, the
      robust ECC estimate is kept as it is (the shipped pretrained models were prepared that way).
    - ``work_size``: side at which registration and magnification run (crops are then resized
      to ``img_size``); sub-pixel motion is better measured and magnified before downsampling.
    - ``magnify``: linear Eulerian magnification factor alpha (0 = off) with the onset frame as the
      temporal reference, on a ``magnify_levels``-level Laplacian pyramid; levels whose wavelength
      is below ``magnify_cutoff`` px are attenuated (Wu et al. 2012).
    - ``representation``: "frames" (the images themselves) or "difference": the video frames and the
      apex become (frame - onset) x ``difference_scale`` in normalised units; the onset stays an image.
    - ``clip_norm``: standardise each clip's images by the clip's own mean and std (per channel).
    - train-time augmentation, the same for every frame of a clip: ``flip`` (horizontal),
      ``shift`` (up to this many px, integer), ``photometric`` (gain and offset jitter, relative).
    - ``special_size``: side of the special tensor when it differs from ``img_size`` (None: the
      same). The special frames are prepared at ``img_size`` and their top-left ``special_size``
      px are kept, which is what the reference's strided special tubelet reads (``hsta-base``:
      216 of 224).

    `PrepConfig.for_model(model)` gives the preparation a model needs (sizes, frame count,
    special input; a pretrained model's own preprocessing) with any other option as override.
    """
    img_size: int = 224
    num_frames: int = 6
    face: str = "haar"
    box: tuple[int, int, int, int] | None = None
    face_margin: float = 0.1
    special: str = "frames"
    flow: str = "dis"
    normalisation: str = "imagenet"
    pool_factor: int = 2
    jitter: bool = True
    flow_clip: float = 20.0
    register: str = "euclidean"
    register_check: bool = True
    work_size: int = 96
    magnify: float = 8.0
    magnify_levels: int = 3
    magnify_cutoff: float = 16.0
    representation: str = "difference"
    difference_scale: float = 8.0
    clip_norm: bool = False
    flip: bool = True
    shift: int = 2
    photometric: float = 0.1
    special_size: int | None = None

    def __post_init__(self) -> None:
        check_field_types(self)   # the annotations above: flip="false" or magnify=nan is refused, named
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"PrepConfig.{name}={getattr(self, name)!r}: {why}")
        if not isinstance(self.img_size, (int, np.integer)) or self.img_size < 8:
            raise bad("img_size", "must be an int >= 8")
        if not isinstance(self.num_frames, (int, np.integer)) or self.num_frames < 1:
            raise bad("num_frames", "must be an int >= 1")
        if self.face not in FACE_MODES:
            raise bad("face", f"must be one of {FACE_MODES}")
        if self.box is not None:
            if len(self.box) != 4 or any(int(v) != v for v in self.box) or self.box[2] <= 0 or self.box[3] <= 0:
                raise bad("box", "must be (x, y, w, h) integers with w, h > 0")
            object.__setattr__(self, "box", tuple(int(v) for v in self.box))
        if self.face == "box" and self.box is None:
            raise bad("box", "face='box' needs a box (x, y, w, h)")
        if not 0.0 <= self.face_margin <= 1.0:
            raise bad("face_margin", "must be in [0, 1]")
        if self.special not in SPECIAL_MODES:
            raise bad("special", f"must be one of {SPECIAL_MODES}")
        if self.flow not in FLOW_METHODS:
            raise bad("flow", f"must be one of {FLOW_METHODS}")
        if self.normalisation not in NORMALISATIONS:
            raise bad("normalisation", f"must be one of {NORMALISATIONS}")
        if not isinstance(self.pool_factor, (int, np.integer)) or self.pool_factor < 1:
            raise bad("pool_factor", "must be an int >= 1")
        if not self.flow_clip > 0:
            raise bad("flow_clip", "must be > 0")
        if self.register not in REGISTRATIONS:
            raise bad("register", f"must be one of {REGISTRATIONS}")
        if not isinstance(self.work_size, (int, np.integer)) or self.work_size < 8:
            raise bad("work_size", "must be an int >= 8")
        if not isinstance(self.magnify, (int, float)) or not 0 <= self.magnify <= 100:
            raise bad("magnify", "must be a factor in [0, 100] (0 = off)")
        if not isinstance(self.magnify_levels, (int, np.integer)) or self.magnify_levels < 1:
            raise bad("magnify_levels", "must be an int >= 1")
        if self.magnify and max(self.work_size, self.img_size) < 2 ** (self.magnify_levels + 1):
            raise bad("magnify_levels", f"too many pyramid levels for {max(self.work_size, self.img_size)} px")
        if not self.magnify_cutoff > 0:
            raise bad("magnify_cutoff", "must be > 0 (px)")
        if self.representation not in REPRESENTATIONS:
            raise bad("representation", f"must be one of {REPRESENTATIONS}")
        if not isinstance(self.difference_scale, (int, float)) or not self.difference_scale > 0:
            raise bad("difference_scale", "must be > 0")
        if not isinstance(self.shift, (int, np.integer)) or self.shift < 0:
            raise bad("shift", "must be an int >= 0 (px)")
        if not 0 <= self.photometric < 1:
            raise bad("photometric", "must be in [0, 1)")
        if self.special_size is not None:
            if not isinstance(self.special_size, (int, np.integer)) or not 8 <= self.special_size <= self.img_size:
                raise bad("special_size", f"must be None or an int in 8..img_size ({self.img_size})")
            if self.special_size == self.img_size:
                object.__setattr__(self, "special_size", None)

    #: the fields that follow the model's configuration (see `for_model`)
    MODEL_FIELDS = ("img_size", "num_frames", "special", "special_size")

    @classmethod
    def for_model(cls, model_or_config: Any, **overrides: Any) -> PrepConfig:
        """The preparation ``model_or_config`` (an HSTA model or its HSTAConfig) takes.

        Sizes, frame count and special input come from the configuration's ``img_size``,
        ``special_img_size``, ``num_frames`` and ``special_input`` (read as attributes: the data
        layer never imports the model). A model that carries its own ``prep_config`` (a
        pretrained one) starts from it; any other PrepConfig option is an override
        (ConfigError for unknown names, or for one that would contradict the model)."""
        config = getattr(model_or_config, "config", model_or_config)
        missing = [a for a in ("img_size", "special_img_size", "num_frames", "special_input")
                   if not hasattr(config, a)]
        if missing:
            raise ConfigError(f"PrepConfig.for_model needs a model or model configuration; "
                              f"{type(config).__name__} has no {missing}")
        check_fields(cls, overrides, "PrepConfig option(s)")
        clash = sorted(set(overrides) & set(cls.MODEL_FIELDS))
        if clash:
            raise ConfigError(f"PrepConfig.for_model: {clash} follow the model (change the model's "
                              "img_size, special_img_size, num_frames or special_input instead)")
        if config.special_img_size > config.img_size:
            raise ConfigError(f"special_img_size {config.special_img_size} > img_size {config.img_size}: "
                              "the special frames are cut from frames prepared at img_size")
        base = getattr(model_or_config, "prep_config", None)
        start = base.to_dict() if isinstance(base, PrepConfig) else {}
        follow = {"img_size": int(config.img_size), "num_frames": int(config.num_frames),
                  "special": str(config.special_input), "special_size": int(config.special_img_size)}
        return cls.from_dict({**start, **follow, **overrides})

    def replace(self, **changes: Any) -> PrepConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-friendly values (tuples as lists); `from_dict` inverts it."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrepConfig:
        """A PrepConfig from `to_dict` output; ConfigError naming unknown fields or bad values."""
        if not isinstance(d, dict):
            raise ConfigError(f"PrepConfig.from_dict needs a dict, got {type(d).__name__}")
        check_fields(cls, d, "PrepConfig field(s)")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    #: Fields added after records were first stored, with the value every record made before them
    #: meant (a record lacking ``register_check`` predates the checked registration: it registered
    #: unchecked).
    RECORD_DEFAULTS: ClassVar[dict[str, Any]] = {"register_check": False}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> PrepConfig:
        """A PrepConfig from a *stored* record (a model's or a manifest's ``prep``, a full `to_dict`
        of the version that wrote it): a field the record lacks takes the value that version used
        (`RECORD_DEFAULTS`), not today's default, so an old model is prepared as it was trained."""
        if not isinstance(d, dict):
            raise ConfigError(f"PrepConfig.from_record needs a dict, got {type(d).__name__}")
        return cls.from_dict({**cls.RECORD_DEFAULTS, **d})

    @property
    def pool_size(self) -> int:
        """Frames decoded per clip: (T - 1) * pool_factor + 1; every pool_factor-th is a test position."""
        return (self.num_frames - 1) * self.pool_factor + 1

    @property
    def uses_work_size(self) -> bool:
        """Whether crops are processed at ``work_size`` (registration or magnification on)."""
        return self.register != "none" or self.magnify > 0

    def shape_settings(self) -> dict[str, Any]:
        """The settings that decide a `PreparedClip` (the cache key). Assemble-time settings
        (normalisation, representation, clip_norm, jitter and augmentation) do not: they are applied
        to the cached uint8 crops on every access."""
        keys = ("img_size", "num_frames", "face", "box", "face_margin", "special", "flow", "pool_factor",
                "register", "register_check", "work_size", "magnify", "magnify_levels", "magnify_cutoff")
        d = {k: getattr(self, k) for k in keys}
        if self.register == "none" or not self.register_check:
            d.pop("register_check")   # so caches made before the option keep their keys
        if self.special != "flow":
            d.pop("flow")
        if not self.uses_work_size:
            d.pop("work_size")
        if not self.magnify:
            for k in ("magnify", "magnify_levels", "magnify_cutoff"):
                d.pop(k)
        return d
