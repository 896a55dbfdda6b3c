"""The package stays readable: files and functions of bounded size, and benchmarks and tests
that do not reach into each other (issue 13's limits, kept true)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = sorted((ROOT / "hsta_edu").rglob("*.py"))
MAX_FILE_LINES, MAX_FUNCTION_LINES = 500, 80


def test_no_file_over_500_lines():
    big = {p.relative_to(ROOT).as_posix(): n for p in PACKAGE
           if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert not big, f"files over {MAX_FILE_LINES} lines: {big}"


def _long_functions(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            head = "\n".join(lines[max(node.lineno - 2, 0):node.lineno + 2])
            if n > MAX_FUNCTION_LINES and "# long:" not in head:
                out.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_function_over_80_lines_without_a_reason():
    long = [f for p in PACKAGE for f in _long_functions(p)]
    assert not long, ("functions over 80 lines (or say why in a '# long: ...' comment at the def): "
                      f"{long}")


def test_benchmarks_and_tests_do_not_reach_into_each_other():
    bad = []
    for p in sorted((ROOT / "benchmarks").glob("*.py")):
        text = p.read_text()
        if "sys.path" in text or re.search(r"^\s*(from|import)\s+tests\b", text, re.M):
            bad.append(p.name)
    for p in sorted((ROOT / "tests").rglob("*.py")):
        if re.search(r"^\s*(from|import)\s+benchmarks\b", p.read_text(), re.M):
            bad.append(p.relative_to(ROOT).as_posix())
    assert not bad, f"benchmarks editing sys.path or importing tests, or tests importing benchmarks: {bad}"
