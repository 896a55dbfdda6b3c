"""Corpus fixtures for the tests: the miniature builders now live in the library.

`hsta_edu.data.examples` builds faithful miniature copies of each corpus (also
used by notebook 06); this module re-exports it under the names the tests use.
"""

from hsta_edu.data.examples import *  # noqa: F401,F403
