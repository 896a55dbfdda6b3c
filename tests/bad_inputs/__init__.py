"""Bad inputs, tried for real: what the user sees for each (issue 7's table).

``CASES`` (``cases.CASES``, ``run_cases.RUN_CASES``, then issue 24's ``cases_options.OPTION_CASES`` and
``cases_runs.RUN_CASES``: typed options, output folders, metrics and one-line errors) is the one list of bad inputs and ``cases.run_case`` records what one gives;
tests/test_bad_inputs.py checks every outcome, ``table`` turns the outcomes into the table of the
README (section "When the input is bad") and docs/results/bad_inputs.md. Regenerate both from the
repository root with

    python -m tests.bad_inputs            # --check: compare only, exit 1 if a file is stale
"""

from .cases import CASES as LIBRARY_CASES
from .cases import Case, Outcome, run_all, run_case
from .cases_options import OPTION_CASES
from .cases_runs import RUN_CASES as FOLDER_CASES
from .run_cases import RUN_CASES
from .table import table

# the inputs' (issue 7), the runs' (issue 16), then issue 24's typed options and folders, metrics, errors
CASES = LIBRARY_CASES + RUN_CASES + OPTION_CASES + FOLDER_CASES

__all__ = ["CASES", "Case", "Outcome", "run_all", "run_case", "table"]
