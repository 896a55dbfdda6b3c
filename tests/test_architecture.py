"""docs/architecture.md stays true: every module and folder it names exists, and every module of
the package is named there (or sits in a folder it names)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
NAMED = set(re.findall(r"`(hsta_edu/[\w/]*?(?:\.py|/))`", DOC))


def test_every_named_module_exists():
    assert len(NAMED) > 20
    missing = sorted(n for n in NAMED if not (ROOT / n).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_module_is_named_or_in_a_named_folder():
    folders = {n for n in NAMED if n.endswith("/")}
    unnamed = []
    for path in sorted((ROOT / "hsta_edu").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name in ("__init__.py", "__main__.py") and rel.rsplit("/", 1)[0] + "/" in folders | {
                n.rsplit("/", 1)[0] + "/" for n in NAMED}:
            continue
        if rel in NAMED or any(rel.startswith(f) for f in folders) or rel == "hsta_edu/__init__.py":
            continue
        unnamed.append(rel)
    assert not unnamed, f"modules missing from docs/architecture.md: {unnamed}"
