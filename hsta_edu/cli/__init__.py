"""The ``hsta-edu`` command: the whole path from data to metrics, headless.

Subcommands: ``synth`` (generate SynthME), ``prepare`` (preprocess and cache), ``train``,
``loso`` / ``kfold`` (protocol runs into a run folder), ``report`` (merge a run folder),
``explain`` (attention / attribution maps of one clip) and ``demo`` (the pretrained
``hsta-tiny-synthme`` scored on the unseen subjects of ``data_samples/`` in seconds; ``--loso`` adds a
LOSO run from scratch). With ``--json`` a command prints one JSON
object as its last line (``loso``/``kfold``/``demo``: ``uf1``, ``uar``, ``accuracy``,
``n_folds``, ``n_samples``, ``seconds``). Errors of the package end the command with a one-line
message and exit status 2, not a traceback.

Layout: `parser` (the options, `build_parser`), `options` (arguments -> model overrides,
TrainConfig, datasets), `commands` (synth, prepare, train, report, explain), `protocol` (loso,
lodo, kfold; ``--jobs`` runs folds in worker processes), `demo`, `output` (metrics lines, ``--json``).
``python -m hsta_edu.cli`` runs `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial

from ..errors import HSTAError, Interrupted
from .commands import cmd_explain, cmd_prepare, cmd_pretrain, cmd_report, cmd_synth, cmd_train
from .demo import cmd_demo
from .options import args_ablations, check_arguments
from .parser import build_parser
from .protocol import cmd_protocol

__all__ = ["main", "build_parser"]

#: subcommand -> function(args) returning the exit status
COMMANDS: dict[str, Callable] = {
    "synth": cmd_synth,
    "prepare": cmd_prepare,
    "train": cmd_train,
    "pretrain": cmd_pretrain,
    "loso": partial(cmd_protocol, protocol_name="loso"),
    "lodo": partial(cmd_protocol, protocol_name="lodo"),
    "kfold": partial(cmd_protocol, protocol_name="kfold"),
    "report": cmd_report,
    "explain": cmd_explain,
    "demo": cmd_demo,
}


#: the options that name a file or folder: ``~`` in them means the home folder, as in a shell
PATH_OPTIONS = ("data", "out", "cache", "model", "run_dir", "slurm_folder", "pretrained_video", "init")


def _expand_user(args: argparse.Namespace) -> None:
    """``~`` and ``~user`` at the start of a path option expanded (a shell leaves ``--out=~/x`` and a
    quoted ``"~/x"`` as they are); names such as ``--data casme2`` are left alone."""
    for name in PATH_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value.startswith("~"):
            setattr(args, name, os.path.expanduser(value))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hsta-edu``; returns the exit status."""
    args = build_parser().parse_args(argv)
    _expand_user(args)
    if getattr(args, "jobs", 1) > 1 and not getattr(args, "launcher", None):
        from ..runs import warm_workers
        warm_workers()   # the workers' imports, on another core, while this process loads the data
    try:
        if hasattr(args, "video_only"):  # check flag combinations before any data is read
            args_ablations(args)
        check_arguments(args)
        if getattr(args, "threads", None):
            import torch
            torch.set_num_threads(args.threads)
        return COMMANDS[args.command](args)
    except HSTAError as exc:
        print(f"hsta-edu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a file or folder of the user's that no check above foresaw: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"hsta-edu {args.command}: error: {where}{exc.strerror or exc}; check that the path exists and that "
              "you may read (or write) it", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:   # one line, not a traceback: the checkpoints make a rerun resume
        where = f"{exc}" if isinstance(exc, Interrupted) else "interrupted"
        print(f"hsta-edu {args.command}: {where}; finished work is saved: rerun the same command to resume",
              file=sys.stderr)
        return 130
