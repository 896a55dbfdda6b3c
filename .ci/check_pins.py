"""Fails (exit 1) unless every `name==version` pin of a constraints file is what is installed.

    python .ci/check_pins.py .ci/oldest-constraints.txt

Used by `make test-oldest`: a constraint only bounds what pip installs, so a package that was already in
the venv at another version, or one the extras stopped asking for, would otherwise pass unnoticed. A
local version label (torch's "+cu121") is ignored. Prints one line with every pinned version.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version


def pins(path: Path) -> dict[str, str]:
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():   # a pin for another Python
            continue
        spec = list(req.specifier)
        if len(spec) != 1 or spec[0].operator != "==":
            raise SystemExit(f"{path}: {line!r} is not a single == pin")
        out[req.name] = spec[0].version
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else ".ci/oldest-constraints.txt")
    wrong, seen = [], []
    for name, want in pins(path).items():
        try:
            have = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (pinned {want})")
            continue
        seen.append(f"{name} {have}")
        if Version(Version(have).public) != Version(want):
            wrong.append(f"{name}: {have} installed, pinned {want}")
    print(f"{path}: " + ", ".join(seen))
    if wrong:
        print(f"{path}: {len(wrong)} installed version(s) differ from the pins:", *wrong, sep="\n  ")
        return 1
    print(f"{path}: all {len(seen)} pins installed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
