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


# ------------------------------------------------------------------ one public path per name (issue 25)
import ast  # noqa: E402
from collections import defaultdict  # noqa: E402

PACKAGE = sorted((ROOT / "hsta_edu").rglob("*.py"))
MAX_PARAMETERS = 8


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _all_lists() -> dict[str, list[str]]:
    """{public name: modules whose ``__all__`` lists it}."""
    out: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                for name in ast.literal_eval(node.value):
                    out[name].append(_module_name(path))
    return out


def test_no_module_imports_an_underscore_name_from_another_module():
    bad = []
    for path in PACKAGE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and _absolute(path, node).startswith("hsta_edu"):
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}" for a in node.names
                        if a.name.startswith("_") and not (a.name.startswith("__") and a.name.endswith("__"))]
    assert not bad, f"underscore names imported across modules: {bad}"


def test_each_public_name_has_exactly_one_documented_path():
    """A name is public where one ``__all__`` lists it, and only there (scikit-learn's convention:
    the package exports it once; the module that defines it does not list it again)."""
    twice = {name: mods for name, mods in _all_lists().items() if len(mods) > 1}
    assert not twice, f"names listed in more than one __all__: {twice}"


def test_every_listed_name_is_importable_from_its_path():
    import importlib

    missing = [f"{mod}.{name}" for name, mods in _all_lists().items() for mod in mods
               if not hasattr(importlib.import_module(mod), name)]
    assert not missing, f"__all__ lists names the module does not have: {missing}"


def test_no_sys_modules_aliasing():
    bad = [str(p.relative_to(ROOT)) for p in PACKAGE
           if re.search(r"sys\.modules\s*\[[^\]]*\]\s*=|sys\.modules\.(setdefault|update)\(", p.read_text())]
    assert not bad, f"modules registering aliases in sys.modules: {bad}"


def test_no_function_takes_more_than_8_parameters_without_a_reason():
    long = []
    for path in PACKAGE:
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                bound = bool(a.args) and a.args[0].arg in ("self", "cls")
                n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - int(bound)
                head = "\n".join(lines[max(node.lineno - 2, 0):node.lineno + 1])
                if n > MAX_PARAMETERS and "# many parameters:" not in head:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n})")
    assert not long, f"functions with more than {MAX_PARAMETERS} parameters (say why in a '# many parameters: ...' comment): {long}"


def test_tests_mirror_the_packages():
    """Each package of hsta_edu has its folder of tests under the same name (tests/runs/ tests runs/)."""
    packages = sorted(p.parent.name for p in (ROOT / "hsta_edu").glob("*/__init__.py"))
    missing = [p for p in packages if not list((ROOT / "tests" / p).glob("test_*.py"))]
    assert len(packages) >= 7 and not missing, f"packages without tests/<package>/test_*.py: {missing}"
