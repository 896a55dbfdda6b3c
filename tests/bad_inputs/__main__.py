"""Run every bad-input case and write the table: python -m tests.bad_inputs [--check]

Run from the repository root. Prints the table, writes it into README.md (section "When the input
is bad") and docs/results/bad_inputs.md; ``--readme ''`` or ``--out ''`` skips one. ``--check``
writes nothing and exits 1 if either file does not hold the table of this run.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from hsta_edu.io import atomic_write_text

from . import CASES
from .cases import run_all
from .table import docs_page, table, with_readme_table

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bad_inputs", description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default=str(ROOT / "README.md"), help="README to update ('' to skip)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "bad_inputs.md"),
                    help="results page to write ('' to skip)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from this run")
    args = ap.parse_args(argv)
    text = table(run_all(CASES))
    print(text)
    wanted = {}
    if args.readme:
        wanted[Path(args.readme)] = with_readme_table(Path(args.readme).read_text(encoding="utf-8"), text)
    if args.out:
        wanted[Path(args.out)] = docs_page(text)
    stale = []
    for path, content in wanted.items():
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old == content:
            continue
        stale.append(path)
        if args.check:
            sys.stderr.writelines(difflib.unified_diff(old.splitlines(keepends=True), content.splitlines(keepends=True),
                                                       str(path), f"{path} (this run)"))
        else:
            atomic_write_text(path, content)
    for path in stale:
        print(f"{'differs' if args.check else 'updated'}: {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
