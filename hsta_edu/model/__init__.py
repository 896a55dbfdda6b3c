"""The HSTA model: tubelet embeddings, USTA blocks, CSTA [CLS] exchange, K stages, head; its presets and
the paper's ablations; and its weights (`checkpoints`: save/load, reference-implementation and VideoMAE
checkpoints). `HSTA`, `HSTAConfig`, `create_model` and `list_presets` are public at the top (``from hsta_edu
import create_model``); every other public name of the model is imported from here."""

from .checkpoints import (
    LoadReport,
    ReferenceInputAdapter,
    config_from_reference,
    convert_reference_state_dict,
    load_model,
    load_reference_checkpoint,
    load_video_pretrained,
    reference_depths,
    reference_image_sizes,
    rename_reference_key,
    save_model,
    split_reference_input,
)
from .hsta import ABLATIONS, HSTA, AttentionMaps, HSTAConfig, ablation_overrides, create_model, list_presets  # noqa: F401 - public at the top, `hsta_edu`

__all__ = ["AttentionMaps", "ABLATIONS", "ablation_overrides", "save_model", "load_model",
           "load_video_pretrained", "LoadReport", "load_reference_checkpoint", "ReferenceInputAdapter",
           "config_from_reference", "reference_depths", "reference_image_sizes", "rename_reference_key",
           "convert_reference_state_dict", "split_reference_input"]
