"""Explanations of HSTA: where and when the model looks, and how well that finds the movement.

- `attention`: capture every USTA / CSTA map, token <-> (frame, row, column), attention rollout.
- `attribution`: Captum methods over both inputs (IG, saliency, occlusion, Grad-CAM, region ablation).
- `methods.explain_maps`: any method by name -> per-modality maps aligned with the frames.
- `plots`: overlays, per-frame importance, methods side by side (matplotlib Figures).
- `internals`: the inputs, tubelets, position table and attention matrices of the USTA/CSTA notebook.
- `widgets.explore`: the ipywidgets explorer (static figure without a widget front end).
- `score`: mass share and pointing game against known regions (SynthME).
"""

from .attention import TokenLayout, attention_map, capture_attention, rollout
from .attribution import Attribution, attribute, facial_regions, onset_baseline
from .methods import METHODS, explain_maps
from .plots import compare_methods, frame_importance, overlay, plot_frame_importance
from .score import mass_share, pointing_hit, score_method
from .widgets import Explorer, explore

__all__ = ["TokenLayout", "attention_map", "capture_attention", "rollout", "Attribution", "attribute",
           "facial_regions", "onset_baseline", "METHODS", "explain_maps", "compare_methods", "frame_importance", "overlay",
           "plot_frame_importance", "mass_share", "pointing_hit", "score_method", "Explorer", "explore"]
