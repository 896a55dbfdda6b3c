"""Bad inputs, tried for real: what the user sees for each (issue 7's table).

``CASES`` (``cases.CASES`` then ``run_cases.RUN_CASES``) is the one list of bad inputs and ``cases.run_case`` records what one gives;
tests/test_bad_inputs.py checks every outcome, ``table`` turns the outcomes into the table of the
README (section "When the input is bad") and docs/results/bad_inputs.md. Regenerate both from the
repository root with

    python -m tests.bad_inputs            # --check: compare only, exit 1 if a file is stale
"""

from .cases import CASES as LIBRARY_CASES
from .cases import Case, Outcome, run_all, run_case
from .run_cases import RUN_CASES
from .table import table

CASES = LIBRARY_CASES + RUN_CASES   # the runs' cases (issue 16) after the inputs' (issue 7)

__all__ = ["CASES", "Case", "Outcome", "run_all", "run_case", "table"]
