"""hsta_edu: Hierarchical Space-Time Attention (HSTA) for micro-expression recognition.

A teaching toolkit that really implements the paper: the model (USTA, CSTA, HSTA),
data preparation, training, trustworthy LOSO evaluation and attention explanations.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .model import HSTA, HSTAConfig, create_model, list_presets  # noqa: E402
from .pretrained import list_pretrained, list_self_supervised, load_pretrained  # noqa: E402

__all__ = ["HSTA", "HSTAConfig", "create_model", "list_presets", "list_pretrained", "list_self_supervised",
           "load_pretrained", "__version__"]
