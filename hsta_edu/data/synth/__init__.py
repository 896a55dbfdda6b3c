"""SynthME: procedural micro-expressions with known ground truth.

The licensed corpora cannot be shipped, so SynthME draws its own faces and moves
them like a micro-expression: action units (AUs) are smooth, local displacement
fields in their facial regions, switched on with a realistic time course (onset ->
apex -> offset, 1/25 to 1/3 s at 200 fps) and a sub-pixel to few-pixel peak
amplitude. Distractors a real recording has (head drift and rotation, blinks,
lighting flicker, sensor noise, JPEG compression) are drawn independently of the
class. Every clip keeps its ground truth (timing, AUs, region masks, the apex
displacement field), so explanations can be *scored*, not only looked at.

`generate_synthme(out_dir, cfg)` writes a corpus in CASME II's layout and
annotation format (see shared/datasets.md), so it flows through the same loader and
preprocessing as real data; `render_clip(cfg, subject, label)` renders one clip in
memory for notebooks. ``python -m hsta_edu.data.synth --out data_samples`` rebuilds
the small set committed to the repository.

Coordinates: images are ``(H, W, 3)`` uint8 RGB; displacement fields are
``(2, H, W)`` float32 holding (dx, dy) in pixels; masks are ``(H, W)`` bool.

Modules, each importing only those above it: ``aus`` (the AU table and the class
recipes), ``config`` (`SynthConfig`, presets), ``faces`` (`Subject`, drawing a face),
``fields`` (AU displacement fields), ``render`` (`render_clip`), ``truth`` (`head_warp`, the true
head motion as a warp, and `warp_error`), ``corpus``
(`generate_synthme`, ground truth on disk), ``command`` (the command-line options shared
with ``hsta-edu synth``). The ``synthme.json`` marker is read by
`hsta_edu.data.datasets.casme2.read_marker`, re-exported here.
"""

from __future__ import annotations

from ..datasets.casme2 import read_marker
from .aus import (
    ACTION_UNITS,
    MEGC3_RECIPES,
    OBJECTIVE7_RECIPES,
    SCHEMES,
    Recipe,
    emotion_to_class,
    format_aus,
)
from .command import add_synth_arguments, run_synth, synth_config
from .config import (
    BENCHMARK_CONFIG,
    DISTRACTOR_LEVELS,
    PRESETS,
    SAMPLES_CONFIG,
    TUTORIAL_CONFIG,
    TUTORIAL_SEEDS,
    SynthConfig,
)
from .corpus import (
    ANNOTATION_FILE,
    FRAMES_DIR,
    GENERATOR_VERSION,
    GROUNDTRUTH_DIR,
    MARKER_FILE,
    OBJECTIVE_FILE,
    SAMPLES_README,
    cache_root,
    ensure_synthme,
    generate_synthme,
    load_groundtruth,
    tutorial_corpus,
    write_samples_readme,
)
from .faces import Subject, make_subject
from .fields import MASK_LEVEL, au_field
from .render import SynthClip, iter_clip_keys, render_clip
from .truth import head_warp, warp_error

__all__ = ["ACTION_UNITS", "Recipe", "MEGC3_RECIPES", "OBJECTIVE7_RECIPES", "SCHEMES", "format_aus",
           "emotion_to_class", "SynthConfig", "SAMPLES_CONFIG", "BENCHMARK_CONFIG", "DISTRACTOR_LEVELS", "PRESETS",
           "Subject",
           "make_subject", "au_field", "MASK_LEVEL", "SynthClip", "render_clip", "iter_clip_keys",
           "generate_synthme", "ensure_synthme", "tutorial_corpus", "cache_root", "TUTORIAL_CONFIG", "TUTORIAL_SEEDS", "load_groundtruth", "read_marker", "write_samples_readme", "SAMPLES_README",
           "GENERATOR_VERSION", "ANNOTATION_FILE", "OBJECTIVE_FILE", "FRAMES_DIR", "GROUNDTRUTH_DIR",
           "MARKER_FILE", "add_synth_arguments", "synth_config", "run_synth", "head_warp", "warp_error"]
