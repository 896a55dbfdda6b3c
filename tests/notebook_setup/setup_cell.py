"""Cell 1 of every tutorial notebook is the Colab setup cell: ``hsta_edu.colab.FIRST_CELL``, written once
in hsta_edu/colab.py next to the routine it calls (``hsta_edu.colab.setup``).

    python -m tests.notebook_setup.setup_cell --check   # exit 1 naming each notebook whose cell 1 differs
    python -m tests.notebook_setup.setup_cell --apply   # write FIRST_CELL into cell 1 of every notebook

Only the cell's source and its Colab ``cellView: form`` metadata (Colab shows the cell folded under its
``@title``) are written; the notebook's other cells, outputs and JSON layout stay byte for byte.
hsta_edu/colab.py is read by path, as the cell itself runs it: without importing the package.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLAB_FILE = ROOT / "hsta_edu" / "colab.py"
NOTEBOOKS = tuple(sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")))
SETUP_CELL = 1        # 0-based: after the title cell
MAX_LINES = 9         # the cell stays short: the setup itself is hsta_edu/colab.py


def colab_module() -> dict:
    """hsta_edu/colab.py's globals, run by path (stdlib only at import: nothing of hsta_edu is imported)."""
    return runpy.run_path(str(COLAB_FILE))


def cell_source() -> str:
    """The setup cell's text (a notebook cell carries no final newline)."""
    return colab_module()["FIRST_CELL"].rstrip("\n")


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def setup_cell(nb: dict, path: Path) -> dict:
    """Cell 1 of ``nb``; refuses a notebook whose cell 1 is not a Colab setup cell (never overwrite prose)."""
    cells = nb.get("cells", [])
    cell = cells[SETUP_CELL] if len(cells) > SETUP_CELL else None
    if cell is None or cell.get("cell_type") != "code" or "google.colab" not in _text(cell.get("source", "")):
        raise ValueError(f"{path.name}: cell {SETUP_CELL} is not the Colab setup cell (a code cell that "
                         f"checks 'google.colab'); put the setup cell there first")
    return cell


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb.get("cells", []) if c.get("cell_type") == "code"), None)


def cell_matches(cell: dict, source: str | None = None) -> bool:
    form = cell.get("metadata", {}).get("cellView") == "form"
    return form and _text(cell.get("source", "")) == (cell_source() if source is None else source)


def mismatches(paths: tuple[Path, ...] | list[Path] = NOTEBOOKS) -> list[str]:
    """The notebooks (file names) whose cell 1 is not FIRST_CELL."""
    source = cell_source()
    return [p.name for p in paths
            if not cell_matches(setup_cell(json.loads(p.read_text(encoding="utf-8")), p), source)]


def apply(paths: tuple[Path, ...] | list[Path] = NOTEBOOKS) -> list[str]:
    """Write FIRST_CELL into cell 1 of each notebook; returns the names of those that changed."""
    source, changed = cell_source(), []
    for p in paths:
        nb = json.loads(p.read_text(encoding="utf-8"))
        cell = setup_cell(nb, p)
        if cell_matches(cell, source):
            continue
        cell["source"] = source.splitlines(keepends=True)
        cell.setdefault("metadata", {})["cellView"] = "form"
        # nbformat's own layout, so that only this cell shows in a diff
        p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(p.name)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true",
                      help="fail if a notebook's cell 1 differs from hsta_edu.colab.FIRST_CELL")
    mode.add_argument("--apply", action="store_true",
                      help="write hsta_edu.colab.FIRST_CELL into cell 1 of every notebook")
    args = parser.parse_args(argv)
    try:
        if args.apply:
            done = apply()
            print(f"setup cell written into {', '.join(done)}" if done else "every setup cell is up to date")
            return 0
        bad = mismatches()
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    if bad:
        print(f"cell {SETUP_CELL} differs from hsta_edu.colab.FIRST_CELL in: {', '.join(bad)} "
              f"(python -m tests.notebook_setup.setup_cell --apply)", file=sys.stderr)
        return 1
    print(f"cell {SETUP_CELL} of all {len(NOTEBOOKS)} notebooks is hsta_edu.colab.FIRST_CELL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
