"""The miniature corpora's former home, kept so that ``from hsta_edu.data.datasets import examples``
and ``hsta_edu.data.datasets.examples.build_examples(...)`` keep working.

The writers live in `hsta_edu.data.examples` (one module per corpus); this module only
re-exports its public names.
"""

from ..examples import *  # noqa: F403
from ..examples import __all__  # noqa: F401
