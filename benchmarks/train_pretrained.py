"""Reproduce the pretrained weights shipped in hsta_edu/weights/ (hsta-tiny trained on SynthME).

    .venv/bin/python benchmarks/train_pretrained.py --name all --threads 2     # writes hsta_edu/weights/
    .venv/bin/python benchmarks/train_pretrained.py --name hsta-tiny-synthme-flow
    .venv/bin/python benchmarks/train_pretrained.py --dry-run                  # end-to-end check, seconds

Data: a SynthME corpus made with ``BENCHMARK_CONFIG.replace(seed=4242)`` (generated into
``.cache/synthme_pretrain`` when absent; a few minutes once). Its seed differs from
data_samples' (2024), the LOSO benchmark's (7) and the development set's (1007), so its
subjects are none of those. Split: the last 3 subjects (sorted by subject id) are held out,
the others train. Training: the library's ``fast`` recipe (seed 0, fixed epoch budget, no
epoch selection), then held-out accuracy / UF1 / UAR, then `hsta_edu.pretrained.export_pretrained`
writes ``<name>.pt`` and its manifest entry (provenance: this command, the data config, the
subjects, the recipe, torch version, date; metrics: the held-out scores). The written file
is loaded back with `load_pretrained` and must give the same held-out logits.

``--dry-run`` trains 1 epoch on 2 subjects of ``data_samples/`` (1 train, 1 held out) into a
temporary weights folder: it checks the whole path without touching the shipped weights.
Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import hsta_edu
from hsta_edu import create_model, load_pretrained
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.synth import BENCHMARK_CONFIG, MARKER_FILE, SynthConfig, generate_synthme, read_marker
from hsta_edu.data.torch_data import MERDataset, SpecialCrop
from hsta_edu.errors import DataError
from hsta_edu.evaluate import compute_metrics
from hsta_edu.pretrained import WEIGHTS_DIR, default_prep, export_pretrained
from hsta_edu.training import predict, recipe, set_seed, train

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ what is shipped (edit here)

PRESET = "hsta-tiny"
DATA_CONFIG = BENCHMARK_CONFIG.replace(seed=4242, n_subjects=24)   # identities disjoint from data_samples / benchmark / dev
SCHEME = "megc3"
N_HELDOUT = 4                                       # last subjects (sorted by id) held out
SEED = 0                                            # model initialisation and training
RECIPE = "fast"

PRETRAINED: dict[str, dict] = {
    "hsta-tiny-synthme": {
        "special": "frames",                        # special data = onset + apex frames
        "model": {},                                # create_model overrides (besides num_classes)
        "recipe": {},                               # TrainConfig overrides of the recipe
        "description": "hsta-tiny (48 px, 6 frames) trained from scratch on synthetic SynthME faces "
                       "(3 classes: negative, positive, surprise); special data = onset + apex frames. "
                       "A teaching model: it has never seen a real face.",
    },
    "hsta-tiny-synthme-flow": {
        "special": "flow",                          # special data = onset + optical flow onset->apex
        "model": {"special_input": "flow"},
        "recipe": {},
        "description": "hsta-tiny (48 px, 6 frames) trained from scratch on synthetic SynthME faces "
                       "(3 classes: negative, positive, surprise); special data = onset + DIS optical flow "
                       "onset->apex. A teaching model: it has never seen a real face.",
    },
}


# ------------------------------------------------------------------ helpers

def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _corpus(data: Path, dry_run: bool, progress: bool) -> dict:
    """Make sure the corpus exists (generate it unless dry-run); returns its marker."""
    if not (data / MARKER_FILE).exists():
        if dry_run:
            raise DataError(f"--dry-run never generates a corpus, and {data} holds none ({MARKER_FILE} missing)")
        print(f"generating SynthME corpus ({DATA_CONFIG.n_subjects} subjects, seed {DATA_CONFIG.seed}) "
              f"into {data} ...", flush=True)
        generate_synthme(data, DATA_CONFIG, overwrite=True, progress=True)
    marker = read_marker(data)
    if not dry_run and SynthConfig.from_dict(marker["config"]) != DATA_CONFIG:
        raise DataError(f"{data} holds a SynthME corpus made with another config than "
                        f"BENCHMARK_CONFIG.replace(seed={DATA_CONFIG.seed}): {marker['config']}; "
                        "delete it or pass another --data")
    return marker


def _split(index, dry_run: bool) -> tuple[list[str], list[str], list[int], list[int]]:
    subjects = sorted({c.group for c in index.clips})
    if dry_run:
        subjects = subjects[:2]
    n_held = 1 if dry_run else N_HELDOUT
    if len(subjects) <= n_held:
        raise DataError(f"{index.name}: {len(subjects)} subjects, need more than the {n_held} held out")
    train_subj, held_subj = subjects[:-n_held], subjects[-n_held:]
    train_idx = [i for i, c in enumerate(index.clips) if c.group in train_subj]
    held_idx = [i for i, c in enumerate(index.clips) if c.group in held_subj]
    return train_subj, held_subj, train_idx, held_idx


def build_one(name: str, args: argparse.Namespace, data: Path, marker: dict, index, cache: Path,
              weights_dir: Path, command: str) -> dict:
    spec = PRETRAINED[name]
    train_subj, held_subj, train_idx, held_idx = _split(index, args.dry_run)

    set_seed(SEED)  # repeatable initialisation
    model = create_model(PRESET, num_classes=len(index.classes), **spec["model"])
    model_cfg = model.config
    prep = default_prep(model_cfg, spec["special"])

    t0 = time.time()
    full = MERDataset(index, prep, cache, train=False)
    full.subset(train_idx + held_idx).preload(progress=args.progress)
    train_ds = full.subset(train_idx, train=True)
    held_ds = full.subset(held_idx, train=False)
    if model_cfg.special_img_size != model_cfg.img_size:
        train_ds, held_ds = SpecialCrop(train_ds, model_cfg.special_img_size), \
            SpecialCrop(held_ds, model_cfg.special_img_size)
    prep_s = time.time() - t0

    overrides = dict(spec["recipe"])
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.dry_run:
        overrides["epochs"] = 1
    cfg = recipe(RECIPE, seed=SEED, progress=args.progress, **overrides)
    print(f"[{name}] training {PRESET} ({spec['special']}) on {len(train_ds)} clips of {len(train_subj)} "
          f"subjects for {cfg.epochs} epochs; {len(held_ds)} held-out clips of {held_subj}", flush=True)
    result = train(model, train_ds, cfg, desc=name)
    pred = predict(model, held_ds, batch_size=32, device=cfg.device, amp=cfg.amp)
    y_true = np.asarray(held_ds.labels, dtype=np.int64)
    m = compute_metrics(y_true, pred["pred"], index.classes)
    metrics = {"split": "held-out subjects", "accuracy": m["accuracy"], "uf1": m["uf1"], "uar": m["uar"],
               "n_heldout": int(len(y_true)), "confusion": m["confusion"],
               "train_accuracy_last_epoch": float(result.history["acc"].iloc[-1]),
               "train_loss_last_epoch": float(result.history["loss"].iloc[-1])}
    provenance = {
        "script": _rel(Path(__file__)),
        "command": command,
        "dry_run": bool(args.dry_run),
        "data": {"path": _rel(data), "scheme": SCHEME, "synth_config": marker["config"],
                 "generator_version": marker.get("version"), "n_clips": len(index.clips),
                 "classes": list(index.classes)},
        "subjects": {"train": train_subj, "heldout": held_subj},
        "n_train_clips": len(train_idx),
        "model": {"preset": PRESET, "overrides": {"num_classes": len(index.classes), **spec["model"]}},
        "recipe_name": RECIPE,
        "recipe": cfg.to_dict(),
        "seed": SEED,
        "train_seconds": round(result.seconds, 1),
        "prep_seconds": round(prep_s, 1),
        "device": str(result.device),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "hsta_edu": hsta_edu.__version__,
        "git_commit": _git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    model.to("cpu")
    path = export_pretrained(name, model, prep=prep, classes=index.classes, description=spec["description"],
                             provenance=provenance, metrics=metrics, weights_dir=weights_dir)

    # the shipped file must reproduce the trained model exactly
    loaded, info = load_pretrained(name, weights_dir=weights_dir)
    again = predict(loaded, held_ds, batch_size=32, device="cpu", amp="off")
    ref = predict(model, held_ds, batch_size=32, device="cpu", amp="off")
    if not np.array_equal(again["logits"], ref["logits"]):
        raise RuntimeError(f"{path}: the loaded weights do not reproduce the trained model's logits")
    print(f"[{name}] held-out UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f}  acc {m['accuracy']:.4f}  "
          f"(n={len(y_true)}; {result.seconds:.0f} s training) -> {path} ({info['bytes']:,} bytes, "
          f"sha256 {info['sha256'][:12]}...; reload verified)", flush=True)
    return {"name": name, "file": str(path), "bytes": info["bytes"], "sha256": info["sha256"],
            "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n_heldout": int(len(y_true)),
            "epochs": cfg.epochs, "train_seconds": result.seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--name", default="all", choices=[*PRETRAINED, "all"])
    ap.add_argument("--data", default=None,
                    help="SynthME corpus (default .cache/synthme_pretrain, generated when absent; "
                         "with --dry-run: data_samples/)")
    ap.add_argument("--cache", default=None, help="preprocessing cache (default .cache/prep; dry-run: temporary)")
    ap.add_argument("--weights-dir", default=None,
                    help=f"where to write (default the package folder {_rel(WEIGHTS_DIR)}; dry-run: temporary)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch budget")
    ap.add_argument("--dry-run", action="store_true",
                    help="2 subjects of data_samples/, 1 epoch, temporary weights folder: checks the whole path")
    ap.add_argument("--progress", action="store_true", help="progress bars while preparing and training")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join([Path(sys.executable).name, _rel(Path(__file__)),
                          *(sys.argv[1:] if argv is None else argv)])

    tmp = Path(tempfile.mkdtemp(prefix="hsta_pretrained_dry_")) if args.dry_run else None
    if args.data is not None:
        data = Path(args.data)
    else:
        data = ROOT / ("data_samples" if args.dry_run else ".cache/synthme_pretrain")
    cache = Path(args.cache) if args.cache else (tmp / "prep" if tmp else ROOT / ".cache" / "prep")
    weights_dir = Path(args.weights_dir) if args.weights_dir else (tmp / "weights" if tmp else WEIGHTS_DIR)

    marker = _corpus(data, args.dry_run, args.progress)
    index = load_dataset(data, scheme=SCHEME)
    print(f"{index.summary()}; weights -> {weights_dir}", flush=True)
    names = list(PRETRAINED) if args.name == "all" else [args.name]
    rows = [build_one(n, args, data, marker, index, cache, weights_dir, command) for n in names]
    print(json.dumps({"dry_run": args.dry_run, "weights_dir": str(weights_dir), "models": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
