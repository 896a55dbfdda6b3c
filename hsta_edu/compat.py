"""Reference-implementation compatibility (``hsta_edu.compat.load_reference_checkpoint``)."""

from .model.compat import (  # noqa: F401
    config_from_reference,
    convert_reference_state_dict,
    load_reference_checkpoint,
    rename_reference_key,
    split_reference_input,
)
