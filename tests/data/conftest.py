"""Corpus fixtures built once per test session in a temporary folder (see fixtures.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("hsta_test_fixtures", Path(__file__).with_name("fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
sys.modules["hsta_test_fixtures"] = fixtures
_spec.loader.exec_module(fixtures)


@pytest.fixture(scope="session")
def fx():
    """The fixture-building module (build_casme2, build_samm, ...)."""
    return fixtures


@pytest.fixture(scope="session")
def composite_root(tmp_path_factory) -> Path:
    """CASME2/, SAMM_v2/, SMIC/ and combined_3class_gt.csv at the official counts. Read-only for tests."""
    root = tmp_path_factory.mktemp("megc2019")
    fixtures.build_composite(root)
    return root


@pytest.fixture(scope="session")
def casme3_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("casme3")
    fixtures.build_casme3(root)
    return root
