"""Checkpoints of the authors' reference implementation, in an hsta_edu model: the public entry point.

    >>> from hsta_edu.compat import load_reference_checkpoint       # doctest: +SKIP
    >>> model = load_reference_checkpoint("checkpoint-best.pth", config=reference_config)  # doctest: +SKIP

The code lives with the rest of the weights handling in `hsta_edu.model.checkpoints`; this
module is the one name to import it by. (``hsta_edu.model.compat``, where it lived before,
is kept as an alias of `hsta_edu.model.checkpoints` so old imports still work.)
"""

from .model.checkpoints import (
    config_from_reference,
    convert_reference_state_dict,
    load_reference_checkpoint,
    reference_depths,
    reference_image_sizes,
    rename_reference_key,
    split_reference_input,
)

__all__ = [
    "load_reference_checkpoint", "config_from_reference", "reference_depths", "reference_image_sizes",
    "rename_reference_key", "convert_reference_state_dict", "split_reference_input",
]
