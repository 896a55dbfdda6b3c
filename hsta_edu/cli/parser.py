"""The argument parser of ``hsta-edu``: one group of options per concept, shared by the subcommands."""

from __future__ import annotations

import argparse


def _add_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", required=required, help="dataset folder or name (casme2, samm, ..., data_samples)")
    p.add_argument("--scheme", default=None,
                   help="label scheme: native, megc2019 (= megc3: the MEGC2019 3-class sets, as in the paper's "
                        "Table 5), broad3 (every negative emotion negative), objective, emotion7; loader default")
    p.add_argument("--macro-extra", action="store_true",
                   help="CAS(ME)^3: add its macro-expressions as extra TRAINING data (never tested; the paper's "
                        "Table 7); needs --scheme objective")
    p.add_argument("--cache", default=None, help="preprocessing cache folder (default: none, decode in memory)")
    p.add_argument("--face", default=None, choices=("haar", "box", "none"), help="face crop mode (prep default)")
    p.add_argument("--prep", dest="prep_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any PrepConfig option, e.g. --prep representation=frames --prep magnify=0 --prep flip=false "
                        "(repeatable; each value is read as its field's type)")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="hsta-tiny", help="model preset: hsta-tiny, hsta-small, hsta-base")
    p.add_argument("--no-usta", action="store_true", help="ablation: no USTA blocks (embeddings + CSTA only)")
    p.add_argument("--no-csta", action="store_true", help="ablation: no CSTA [CLS] exchange")
    p.add_argument("--video-only", action="store_true", help="ablation: the video branch alone")
    p.add_argument("--special-only", action="store_true", help="ablation: the special-data branch alone")
    p.add_argument("--flow", action="store_true", help="special data = onset + optical flow onset->apex")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any HSTAConfig override, e.g. --set drop_rate=0.1 --set use_csta=false --set "
                        "modalities=video (repeatable; each value is read as its field's type: true/false, "
                        "numbers, none, comma-separated tuples)")


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default=None, choices=("paper", "reference", "fast"),
                   help="training recipe (default: fast for hsta-tiny, paper otherwise)")
    p.add_argument("--epochs", type=int, help="passes over the training clips (given alone: exactly this many, "
                   "--min-steps off)")
    p.add_argument("--min-steps", type=int, help="raise the epochs until each run makes this many optimiser steps "
                   "(the fast recipe's default keeps small corpora training as long as the benchmark; 0 = off)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--loss", choices=("ce", "mse"))
    p.add_argument("--layer-decay", type=float)
    p.add_argument("--drop-path", type=float)
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--pretrain-epochs", type=int,
                   help="self-supervised epochs (masked reconstruction, labels unused) on the clips each run "
                        "trains on before fine-tuning: in LOSO/k-fold, each fold's own training clips")
    p.add_argument("--no-balanced", action="store_true", help="plain shuffling instead of balanced sampling")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"))
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest for hsta-tiny on a busy shared CPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_protocol(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="run folder (default: runs/<data>-<protocol>-<preset>[-ablation])")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only the i-th of n slices of the folds, balanced by fold size (fold i alone "
                        "when n >= the number of folds): your own job array, several GPUs; 'auto' reads "
                        "SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run the folds in N processes on this machine (each with its share of the cores)")
    c = p.add_argument_group("cluster (--launcher: one submitit job per fold; pip install \"hsta_edu[cluster]\")")
    c.add_argument("--launcher", choices=("slurm", "local"), default=None,
                   help="slurm: a Slurm job array, one task per fold; local: the same jobs as local processes")
    c.add_argument("--partition", default=None, help="Slurm partition")
    c.add_argument("--gpus", type=int, default=None, help="GPUs per fold task (Slurm)")
    c.add_argument("--time", type=int, default=240, help="time limit per fold task, minutes (default 240)")
    c.add_argument("--cpus-per-task", type=int, default=4, help="CPU cores per fold task (default 4)")
    c.add_argument("--mem-gb", type=int, default=None, help="memory per fold task, GB (Slurm)")
    c.add_argument("--array-parallelism", type=int, default=None, help="at most this many tasks at once (Slurm)")
    c.add_argument("--slurm-folder", default=None, help="submitit's logs and pickles (default: RUN_DIR/slurm)")
    c.add_argument("--wait", action="store_true", help="with --launcher slurm: wait for the tasks, then merge")
    p.add_argument("--val-subjects", type=float, default=0.0,
                   help="pick the epoch on this fraction in (0, 1) (or whole number >= 1) of held-out TRAINING "
                        "subjects; 0 = fixed epoch budget (default)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each fold's last checkpoint")
    p.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="write a fold's checkpoint at most this often, and after its last epoch; a killed "
                        "fold resumes from it (default 60; 0 = after every epoch)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run folder's results first (a folder holding another run is refused otherwise)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """``synth``, ``prepare`` and ``train``."""
    from ..data.synth import add_synth_arguments
    p = sub.add_parser("synth", help="generate a SynthME corpus (CASME II layout)")
    add_synth_arguments(p, default_preset="benchmark")  # the options of python -m hsta_edu.data.synth

    p = sub.add_parser("prepare", help="preprocess every clip into the cache")
    _add_data(p)
    _add_model(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="train on a whole dataset (optionally with held-out validation subjects)")
    _add_data(p)
    _add_model(p)
    _add_train(p)
    p.add_argument("--out", default=None, help="output folder (model.pt, history.csv, history.png)")
    p.add_argument("--val-subjects", type=float, default=0.0,
                   help="hold out this fraction in (0, 1) (or whole number >= 1) of the subjects for validation "
                        "and keep the best epoch on them; 0 = none (default)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the output folder's model and checkpoint first (another run's are refused otherwise)")
    p.add_argument("--pretrained-video", default=None, help="local VideoMAE-style checkpoint for the video branch")
    _add_init(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("pretrain", help="self-supervised pretraining by masked reconstruction (labels unused)")
    _add_data(p)
    _add_model(p)
    p.add_argument("--out", default=None, help="output folder (pretrained.pt, pretrain_summary.json, loss.png)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--mask-ratio", type=float, default=0.75,
                   help="share of the spatial positions hidden in every clip, at every time step (tube masking)")
    p.add_argument("--target", choices=("normalised", "pixels"), default="normalised",
                   help="what a hidden tubelet is rebuilt as: its pixels standardised per tubelet (VideoMAE) "
                        "or the pixels as the model sees them")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true")


def _add_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("--init", default=None, metavar="NAME_OR_PATH",
                   help="start from self-supervised weights: a file (`hsta-edu pretrain`'s pretrained.pt) or the "
                        "name of shipped ones (hsta_edu.list_self_supervised()); embeddings and USTA loaded, CSTA "
                        "and the head fresh")


def _add_protocol_commands(sub: argparse._SubParsersAction) -> None:
    """``loso``, ``lodo`` and ``kfold``."""
    for name, help_ in (("loso", "leave-one-subject-out evaluation"),
                        ("lodo", "leave-one-dataset-out evaluation on the composite (train on two corpora, "
                                 "test on the third)"),
                        ("kfold", "k-fold evaluation (subject-grouped; --sample-level for the paper's split)")):
        p = sub.add_parser(name, help=help_)
        _add_data(p)
        _add_model(p)
        _add_train(p)
        _add_protocol(p)
        _add_init(p)
        if name == "kfold":
            p.add_argument("--k", type=int, default=5)
            p.add_argument("--sample-level", action="store_true",
                           help="the paper's clip-level split (mixes subjects between train and test!)")


def _add_result_commands(sub: argparse._SubParsersAction) -> None:
    """``report``, ``explain`` and ``demo``."""
    p = sub.add_parser("report", help="merge a run folder's folds into metrics, figure and report")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("explain", help="attention / attribution maps of one clip from a trained model")
    p.add_argument("--model", required=True,
                   help="model.pt written by `hsta-edu train`, or a pretrained name (hsta_edu.list_pretrained())")
    _add_data(p)
    p.add_argument("--clip", default=None, help="clip uid (dataset/subject/clip_id) or index; default: first")
    p.add_argument("--method", default="rollout", help="rollout, cls, csta, integrated_gradients, ...")
    p.add_argument("--modality", default="video", choices=("video", "special"))
    p.add_argument("--out", default="explain.png")

    p = sub.add_parser("demo", help="the pretrained hsta-tiny scored on data_samples/ (unseen subjects; seconds)")
    p.add_argument("--data", default="data_samples")
    p.add_argument("--model", default="hsta-tiny-synthme", help="a name from hsta_edu.list_pretrained()")
    p.add_argument("--loso", action="store_true", help="also run a LOSO from scratch on --data (minutes)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of the --loso run")
    p.add_argument("--out", default=None, help="run folder (default: a temporary folder)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    """The ``hsta-edu`` parser; its description is the first paragraph of the package docstring."""
    from . import __doc__ as doc
    parser = argparse.ArgumentParser(prog="hsta-edu", description=doc.split("\n\n")[0].replace("``", ""),
                                     epilog="`hsta-edu COMMAND --help` for a command's options; errors end with "
                                            "one line and exit status 2")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_protocol_commands(sub)
    _add_result_commands(sub)
    return parser
