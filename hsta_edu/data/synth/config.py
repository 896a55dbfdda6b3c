"""`SynthConfig`: everything that decides a SynthME corpus, its validation and the presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from .aus import SCHEMES


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides a SynthME corpus; the same config and seed give the same frames.

    Sizes are in pixels of the written frames; ``amplitude`` is the peak displacement
    at the apex (max over the face), ``duration`` the onset->offset time in seconds.
    """
    n_subjects: int = 12
    clips_per_class: int = 8              # per subject and class
    scheme: str = "megc3"                 # "megc3" | "objective7"
    seed: int = 0
    fps: int = 200
    frame_size: tuple[int, int] = (128, 128)   # (H, W)
    face_size: float = 100.0              # face height (forehead to chin) in px
    amplitude: tuple[float, float] = (0.5, 3.0)
    duration: tuple[float, float] = (1 / 25, 1 / 3)
    apex_fraction: tuple[float, float] = (0.3, 0.6)
    head_drift: float = 1.0               # max head translation over a clip, px
    head_rotation: float = 0.5            # max head rotation over a clip, degrees
    blink_prob: float = 0.3               # chance of a (class-independent) blink per clip
    flicker: float = 0.02                 # relative amplitude of lighting gain changes
    noise: float = 2.0                    # sensor noise, std in grey levels
    jpeg_quality: int = 90
    photo_subjects: int = 0               # the first k subjects use skimage's astronaut photo
    first_frame: tuple[int, int] = (20, 400)   # range of the absolute number of a clip's onset frame

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"SynthConfig.{name}={getattr(self, name)!r}: {why}")
        if self.scheme not in SCHEMES:
            raise bad("scheme", f"must be one of {sorted(SCHEMES)}")
        for name in ("n_subjects", "clips_per_class", "fps"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be >= 1")
        if self.n_subjects > 99:
            raise bad("n_subjects", "at most 99 (folders are subNN)")
        if len(self.frame_size) != 2 or min(self.frame_size) < 48:
            raise bad("frame_size", "must be (H, W) with both >= 48")
        if not 0.4 * min(self.frame_size) <= self.face_size <= 0.95 * min(self.frame_size):
            raise bad("face_size", f"must be between 40% and 95% of the frame ({self.frame_size})")
        for name, lo in (("amplitude", 0.0), ("duration", 1e-6), ("apex_fraction", 0.0), ("first_frame", 0)):
            a, b = getattr(self, name)
            if not (lo <= a <= b):
                raise bad(name, f"must be a range (low, high) with {lo} <= low <= high")
        if self.apex_fraction[1] > 1.0:
            raise bad("apex_fraction", "must lie in [0, 1]")
        if self.duration[0] * self.fps < 2:
            raise bad("duration", f"shortest clip must span >= 2 frames at {self.fps} fps")
        for name in ("head_drift", "head_rotation", "flicker", "noise"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0")
        if not 0.0 <= self.blink_prob <= 1.0:
            raise bad("blink_prob", "must be in [0, 1]")
        if not 1 <= self.jpeg_quality <= 100:
            raise bad("jpeg_quality", "must be in [1, 100]")
        if not 0 <= self.photo_subjects <= self.n_subjects:
            raise bad("photo_subjects", f"must be in [0, n_subjects={self.n_subjects}]")

    @property
    def classes(self) -> tuple[str, ...]:
        return SCHEMES[self.scheme][0]

    def replace(self, **changes: Any) -> SynthConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"SynthConfig: unknown fields {sorted(unknown)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


#: The small set committed as data_samples/ (4 subjects x 3 classes x 2 clips, one photo subject).
SAMPLES_CONFIG = SynthConfig(n_subjects=4, clips_per_class=2, seed=2024, frame_size=(112, 112),
                             face_size=88.0, amplitude=(1.5, 3.0), duration=(1 / 25, 1 / 6),
                             photo_subjects=1, jpeg_quality=88)

#: The benchmark of the toolkit: 12 subjects x 3 classes x 8 clips (288 clips). Amplitudes in the
#: upper half of the realistic range so the class signal survives face crop + resize to 48 px.
BENCHMARK_CONFIG = SynthConfig(n_subjects=12, clips_per_class=8, seed=7, amplitude=(1.5, 3.0),
                               head_drift=0.6, head_rotation=0.3, noise=1.5, flicker=0.015)

#: The corpus the notebooks train on (`tutorial_corpus`): the benchmark's faces, amplitudes and distractors,
#: 4 subjects x 3 classes x 6 clips (72 clips), small enough to generate and prepare in a notebook and large
#: enough that hsta-tiny with the flow special input learns to well above chance in a minute of CPU. ``TUTORIAL_SEEDS`` are the two
#: corpus seeds the notebooks' prose reports (the first is the default); no benchmark or shipped model uses them.
TUTORIAL_SEEDS = (4101, 4102)
TUTORIAL_CONFIG = BENCHMARK_CONFIG.replace(n_subjects=4, clips_per_class=6, seed=TUTORIAL_SEEDS[0])

#: Distractor levels the benchmarks compare (`benchmarks/registration.py`, `benchmarks/learning_curve.py`):
#: the ``SynthConfig`` knobs of head drift (px), rotation (degrees), sensor noise and lighting flicker.
#: ``benchmark`` is `BENCHMARK_CONFIG`'s; ``stronger`` is the level issue 26 measured.
DISTRACTOR_LEVELS: dict[str, dict[str, float]] = {
    "light": {"head_drift": 0.3, "head_rotation": 0.15, "noise": 1.0, "flicker": 0.01},
    "benchmark": {"head_drift": BENCHMARK_CONFIG.head_drift, "head_rotation": BENCHMARK_CONFIG.head_rotation,
                  "noise": BENCHMARK_CONFIG.noise, "flicker": BENCHMARK_CONFIG.flicker},
    "stronger": {"head_drift": 0.8, "head_rotation": 0.4, "noise": 1.8, "flicker": 0.02},
}

#: The presets by name (the ``--preset`` of ``python -m hsta_edu.data.synth`` and ``hsta-edu synth``).
PRESETS: dict[str, SynthConfig] = {"samples": SAMPLES_CONFIG, "benchmark": BENCHMARK_CONFIG,
                                   "tutorial": TUTORIAL_CONFIG}
