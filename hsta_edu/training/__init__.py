"""Training: the paper's recipe (`recipe`), the loop with checkpoint and resume and `predict` (`loop`),
one fold on several GPUs under torchrun (`distributed`) and the device choice (`device`)."""

from .device import describe_device, pick_device
from .loop import TrainingDiverged, TrainResult, param_groups, predict, set_seed, train
from .recipe import (
    AMP_MODES,
    FROM_SCRATCH_MIN_CLIPS,
    RECIPES,
    RUNTIME_FIELDS,
    TrainConfig,
    WarmupCosine,
    data_size_note,
    recipe,
)

__all__ = ["TrainConfig", "RECIPES", "RUNTIME_FIELDS", "AMP_MODES", "recipe", "WarmupCosine", "TrainResult",
           "train", "predict", "param_groups", "set_seed", "TrainingDiverged",
           "pick_device", "describe_device", "data_size_note", "FROM_SCRATCH_MIN_CLIPS"]
