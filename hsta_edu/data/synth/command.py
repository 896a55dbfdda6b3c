"""The ``synth`` command: one set of options for ``python -m hsta_edu.data.synth`` and ``hsta-edu synth``.

`add_synth_arguments` puts the options on a parser, `synth_config` turns parsed options into a
`SynthConfig` (a preset plus overrides) and `run_synth` writes the corpus. The two entry points
differ only in their default preset (``samples`` here, ``benchmark`` for ``hsta-edu synth``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ...errors import HSTAError
from .aus import SCHEMES
from .config import PRESETS, SynthConfig
from .corpus import generate_synthme, write_samples_readme


def add_synth_arguments(p: argparse.ArgumentParser, *, default_preset: str) -> None:
    """The options of the synth command: --out, --preset, overrides of the preset, --overwrite, --no-progress."""
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", choices=sorted(PRESETS), default=default_preset,
                   help=f"starting config (default {default_preset}); the options below override it")
    p.add_argument("--subjects", type=int, help="override n_subjects")
    p.add_argument("--clips-per-class", type=int, help="override clips_per_class")
    p.add_argument("--scheme", choices=sorted(SCHEMES), help="override scheme (class set)")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--overwrite", action="store_true", help="regenerate a corpus already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def synth_config(args: argparse.Namespace) -> SynthConfig:
    """The preset named by ``args.preset`` with the overrides given on the command line."""
    changes = {k: v for k, v in (("n_subjects", args.subjects), ("clips_per_class", args.clips_per_class),
                                 ("scheme", args.scheme), ("seed", args.seed)) if v is not None}
    cfg = PRESETS[args.preset]
    return cfg.replace(**changes) if changes else cfg


def run_synth(args: argparse.Namespace) -> Path:
    """Write the corpus the options describe (plus data_samples' README for the samples preset); returns it."""
    cfg = synth_config(args)
    out = generate_synthme(args.out, cfg, overwrite=args.overwrite, progress=not args.no_progress)
    if args.preset == "samples":
        write_samples_readme(out, cfg)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"SynthME written to {out} ({cfg.n_subjects} subjects x {len(cfg.classes)} classes x "
          f"{cfg.clips_per_class} clips, {size / 1e6:.1f} MB)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hsta_edu.data.synth``: generate a SynthME corpus; returns the exit status.

    As with ``hsta-edu``, an error of the package ends it with a one-line message and status 2.
    """
    p = argparse.ArgumentParser(prog="python -m hsta_edu.data.synth",
                                description="Generate a SynthME corpus in CASME II's layout.")
    add_synth_arguments(p, default_preset="samples")
    args = p.parse_args(argv)
    try:
        run_synth(args)
    except HSTAError as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0
