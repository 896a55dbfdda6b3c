"""Tiny HSTA configurations the tests share: ``create_model("hsta-tiny", **CONFIG)``.

Each is written here once; a test that needs a variant overrides keys (``{**CONFIG, "embed_dim": 48}``).
They are read-only mappings, so no test can change another test's model by accident.

Import them as ``from tests.configs import ...``: the absolute form also works in the scripts the
SIGKILL tests run in a subprocess (they import a test module as a top-level module).
"""

from __future__ import annotations

from types import MappingProxyType

# 16 px frames and 8 px patches (2x2 patches), 2 video frames, width 32, 2 heads; the preset's
# stages (2 stages of 1 video + 1 special block). Used for training/checkpoint tests.
TINY_16PX_2FRAMES = MappingProxyType(dict(
    num_classes=3, img_size=16, special_img_size=16, patch_size=8, special_patch_size=8, num_frames=2,
    embed_dim=32, special_embed_dim=32, num_heads=2, special_num_heads=2))

# The same with a single stage: the fastest model there is, for LOSO runs and the bad-input cases.
TINY_16PX_2FRAMES_1STAGE = MappingProxyType({**TINY_16PX_2FRAMES, "num_stages": 1})

# 16 px frames, 8 px patches, 4 video frames -> token grids (2, 2, 2) and (1, 2, 2); width 16;
# 2 stages of 2 video + 1 special blocks; no drop path (deterministic). Used for explanations.
TINY_16PX_4FRAMES = MappingProxyType(dict(
    num_classes=3, img_size=16, special_img_size=16, patch_size=8, special_patch_size=8, num_frames=4,
    embed_dim=16, special_embed_dim=16, num_heads=2, special_num_heads=2,
    num_stages=2, video_blocks=2, special_blocks=1, drop_path_rate=0.0))

# A small model in the reference implementation's config format (what `load_reference_checkpoint`
# reads): 48 px frames, patches 12 (special) / 16 (video), widths 48 / 96, 3 heads, stages of 1 + 2
# blocks, 2 special / 6 video frames, 3 classes. Its weights come from
# `tests.model.reference_forward.random_reference_state_dict`. Nested values are lists, as in the
# reference's JSON; copy (`dict(SMALL_REFERENCE_48PX)`) before saving it into a checkpoint.
SMALL_REFERENCE_48PX = MappingProxyType({
    "img_size": [48, 48], "patch_size": [12, 16], "embed_dim": [48, 96], "num_heads": [3, 3],
    "mlp_ratio": [4, 4, 1], "depth": [[1, 2, 0], [1, 2, 0]], "all_frames": [2, 6], "num_classes": 3,
    "model_header_mode": 2, "tubelet_size": 2})
