"""``python -m hsta_edu.cli ...``: the ``hsta-edu`` command."""

import sys

from . import main

sys.exit(main())
