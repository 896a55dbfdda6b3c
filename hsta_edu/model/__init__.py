"""The HSTA model: tubelet embeddings, USTA blocks, CSTA [CLS] exchange, K stages, head."""

from .hsta import HSTA, AttentionMaps, HSTAConfig, create_model, list_presets

__all__ = ["HSTA", "AttentionMaps", "HSTAConfig", "create_model", "list_presets"]
