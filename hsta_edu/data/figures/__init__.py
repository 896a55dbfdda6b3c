"""Figures of the data: a clip and its motion, regions, face boxes, sampling, flow and timings, a batch
(`clips`); the micro-expression steps of `prep` (`steps`); class counts (`classes`). Every function
returns a `matplotlib.figure.Figure` built without pyplot's global state."""

from .classes import plot_class_counts
from .clips import (
    flow_error,
    plot_batch,
    plot_clip_frames,
    plot_distractors,
    plot_face_boxes,
    plot_flow_comparison,
    plot_image_grid,
    plot_masks,
    plot_motion_curve,
    plot_sampling,
    plot_timings,
)
from .steps import plot_augmentation, plot_magnification, plot_registration, plot_representations

__all__ = ["plot_image_grid", "plot_clip_frames", "plot_motion_curve", "plot_distractors", "plot_masks",
           "plot_face_boxes", "plot_sampling", "plot_flow_comparison", "plot_timings", "plot_batch",
           "flow_error", "plot_registration", "plot_magnification", "plot_representations",
           "plot_augmentation", "plot_class_counts"]
