"""The HSTA model: tubelet embeddings, USTA blocks, CSTA [CLS] exchange, K stages, head; and its weights
(`checkpoints`: save/load, reference-implementation and VideoMAE checkpoints)."""

import sys as _sys

from . import checkpoints
from .checkpoints import LoadReport, load_model, load_video_pretrained, save_model
from .hsta import HSTA, AttentionMaps, HSTAConfig, create_model, list_presets

# Backwards compatibility: the reference-checkpoint loader used to be `hsta_edu.model.compat`; it now
# lives in `checkpoints` (public name `hsta_edu.compat`). Registering the old module name as an alias
# keeps `from hsta_edu.model.compat import ...` working without a second file named compat.py.
compat = checkpoints
_sys.modules[f"{__name__}.compat"] = checkpoints

__all__ = ["HSTA", "AttentionMaps", "HSTAConfig", "create_model", "list_presets",
           "save_model", "load_model", "load_video_pretrained", "LoadReport"]
