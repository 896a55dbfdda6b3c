"""Corpus fixtures for the tests: the miniature builders now live in the library.

`hsta_edu.data.datasets.examples` builds faithful miniature copies of each corpus (also
used by notebook 06); this module re-exports it under the names the tests use.
"""

from hsta_edu.data.datasets.examples import *  # noqa: F401,F403
from hsta_edu.data.datasets.examples import (  # noqa: F401
    CASME2_COMPOSITE_SUBJECTS,
    CASME2_EMOTIONS,
    CASME2_QUIRKS,
    CASME2_SUBJECTS,
    CASME3_EMOTIONS,
    SAMM_COLUMNS,
    SAMM_COMPOSITE_SUBJECTS,
    SAMM_EMOTIONS,
    SAMM_SUBJECTS,
    SMIC_HS_COUNTS,
    SMIC_HS_SUBJECTS,
    casme2_rows,
    casme3_rows,
    casme3_subjects,
    samm_rows,
    smic_clips,
    write_casme2_xlsx,
    write_samm_xlsx,
)
