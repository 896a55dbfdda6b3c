"""``python -m hsta_edu.cli ...``: the ``hsta-edu`` command (the ``--jobs`` workers run this way)."""

import sys

from . import main

sys.exit(main())
