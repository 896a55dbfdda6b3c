"""Study: what makes hsta-tiny learn micro-expressions from *frames* (the paper's input), under LOSO.

    .venv/bin/python benchmarks/frames_study.py                       # every variant, then the report
    .venv/bin/python benchmarks/frames_study.py --shard 0/2 &         # two processes share the folds
    .venv/bin/python benchmarks/frames_study.py --shard 1/2 ; .venv/bin/python benchmarks/frames_study.py --report

Every variant is a 12-fold LOSO of hsta-tiny on the *development* SynthME corpus
(`BENCHMARK_CONFIG` with seed 1007: the benchmark's generator settings, amplitudes and
distractors, other identities), trained with the library's default frames recipe, and differs
from the chosen defaults (`PrepConfig()`, `recipe("fast")`) in one factor. The defaults were
chosen on this corpus; the benchmark corpus (seed 7, `benchmarks/loso_synthme.py`) was then
measured once with them. Each run is recorded in its own run folder (``runs/frames_study/<variant>``:
config, per-fold predictions, metrics); the report (``docs/results/frames.md`` and
``docs/results/frames.png``) is rebuilt from whatever run folders are complete.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.synth import BENCHMARK_CONFIG, ensure_synthme
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.evaluate import LOSO, merge_run
from hsta_edu.io import atomic_write_text
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe
from hsta_edu.viz import save_figure

ROOT = Path(__file__).resolve().parents[1]

DEV_CONFIG = BENCHMARK_CONFIG.replace(seed=1007)
NO_AUGMENT = {"flip": False, "shift": 0, "photometric": 0.0}

#: variant -> (what it changes, PrepConfig overrides, HSTAConfig overrides). The first is the default.
VARIANTS: dict[str, tuple[str, dict, dict]] = {
    "default": ("chosen defaults", {}, {}),
    "raw-frames": ("the plain input: frames, no registration, no magnification, no augmentation",
                   {"representation": "frames", "register": "none", "magnify": 0.0, **NO_AUGMENT}, {}),
    "frames": ("images instead of differences", {"representation": "frames"}, {}),
    "no-register": ("no registration to the onset", {"register": "none"}, {}),
    "no-magnify": ("no motion magnification", {"magnify": 0.0}, {}),
    "no-augment": ("no clip-level augmentation", NO_AUGMENT, {}),
    "clip-norm": ("+ per-clip normalisation", {"clip_norm": True}, {}),
    "video-only": ("video branch alone (T frames)", {}, {"modalities": ("video",)}),
    "special-only": ("special branch alone (onset + apex)", {}, {"modalities": ("special",)}),
}


def _run_dir(runs: Path, variant: str) -> Path:
    return runs / variant


def run_variant(key: str, args: argparse.Namespace, index, cache: Path) -> None:
    label, prep_over, model_over = VARIANTS[key]
    model_cfg = create_model("hsta-tiny", num_classes=len(index.classes), **model_over).config
    prep = PrepConfig.for_model(model_cfg, **prep_over)
    test_ds = MERDataset(index, prep, cache, train=False).preload(progress=args.progress)
    train_ds = test_ds.train_view()
    cfg = recipe("fast", seed=args.seed, progress=args.progress)
    t = time.time()
    result = run_protocol(test_ds, LOSO(), lambda: create_model("hsta-tiny", num_classes=len(index.classes),
                                                                 **model_over),
                          cfg, _run_dir(Path(args.runs), key), train_dataset=train_ds, shard=args.shard,
                          progress=args.progress,
                          info={"data": str(args.data), "preset": "hsta-tiny", "variant": key, "label": label,
                                "model_overrides": {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in model_over.items()},
                                "prep": prep.to_dict(), "recipe": "fast"})
    state = "done" if result.complete else f"{len(result.folds_done)}/{result.n_folds} folds"
    uf1 = f" UF1 {result.metrics['uf1']:.4f}" if result.complete else ""
    print(f"{key:14s} {state}{uf1} ({time.time() - t:.0f} s this call)", flush=True)


def collect(runs: Path) -> list[dict]:
    rows = []
    for key, (label, prep_over, model_over) in VARIANTS.items():
        run_dir = _run_dir(runs, key)
        if not (run_dir / "config.json").exists():
            continue
        res = merge_run(run_dir, write=False)
        if not res.complete:
            continue
        m = res.metrics
        rows.append({"variant": key, "label": label, "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"],
                     "n_folds": m["n_folds"], "n_samples": m["n_samples"], "seconds": m["fold_seconds"],
                     "prep": prep_over, "model": {k: list(v) if isinstance(v, tuple) else v
                                                  for k, v in model_over.items()}})
    return rows


def figure(rows: list[dict]):
    """Horizontal bars of pooled LOSO UF1 per variant, the default's as a dashed line, chance dotted."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7.5, 0.45 * len(rows) + 1.4))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    colours = ["tab:green" if r["variant"] == "default" else "tab:blue" for r in rows]
    ax.barh(y, [r["uf1"] for r in rows], color=colours)
    for yy, r in zip(y, rows, strict=True):
        ax.text(r["uf1"] + 0.01, yy, f"{r['uf1']:.3f}", va="center", fontsize=8)
    default = next((r["uf1"] for r in rows if r["variant"] == "default"), None)
    if default is not None:
        ax.axvline(default, ls="--", color="tab:green", lw=1, label="defaults")
    ax.axvline(1 / 3, ls=":", color="grey", lw=1, label="chance (3 balanced classes)")
    ax.set_yticks(y, [r["variant"] for r in rows])
    ax.set(xlim=(0, 1.08), xlabel="pooled LOSO UF1 (12 folds, development SynthME corpus)",
           title="hsta-tiny from frames: one factor changed at a time")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def report(args: argparse.Namespace) -> None:
    rows = collect(Path(args.runs))
    if not rows:
        print("no complete variant yet")
        return
    save_figure(figure(rows), args.figure)
    default = next((r for r in rows if r["variant"] == "default"), None)
    prep = PrepConfig()
    cfg = recipe("fast")
    env = {"cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version()}
    lines = [
        "# Frames that learn: the preprocessing study",
        "",
        "Measured by `benchmarks/frames_study.py`: each row is a 12-fold LOSO of hsta-tiny on the development "
        "SynthME corpus (`BENCHMARK_CONFIG` with seed 1007: the benchmark's amplitudes and distractors, other "
        "identities; 288 clips, 3 classes), pooled metrics, one factor changed from the defaults. "
        f"Machine: {env['cores']} cores, torch {env['torch']}.",
        "",
        f"- Defaults (`PrepConfig()`): registration `{prep.register}` to the onset at {prep.work_size} px, "
        f"Eulerian magnification alpha {prep.magnify:g} ({prep.magnify_levels} levels, cutoff "
        f"{prep.magnify_cutoff:g} px), representation `{prep.representation}` x {prep.difference_scale:g}, "
        f"clip-level augmentation flip={prep.flip}, shift={prep.shift} px, photometric={prep.photometric:g}, "
        f"clip_norm={prep.clip_norm}.",
        f"- Recipe `fast`: {cfg.epochs} epochs, batch {cfg.batch_size}, AdamW lr {cfg.lr:g}, weight decay "
        f"{cfg.weight_decay}, {cfg.warmup_epochs:g} warm-up epochs, cosine to {cfg.min_lr:g}, balanced sampling, "
        "cross-entropy, fixed budget (no epoch selection).",
        "",
        "| variant | what changes | UF1 | UAR | accuracy | change in UF1 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        delta = "" if default is None or r is default else f"{r['uf1'] - default['uf1']:+.3f}"
        lines.append(f"| {r['variant']} | {r['label']} | {r['uf1']:.4f} | {r['uar']:.4f} | {r['accuracy']:.4f} "
                     f"| {delta} |")
    lines += ["", "![UF1 per variant](frames.png)", ""]
    notes = Path(args.notes)
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    atomic_write_text(args.doc, "\n".join(lines))
    atomic_write_text(Path(args.runs) / "study.json", json.dumps(rows, indent=1))
    print(f"wrote {args.doc} and {args.figure}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".cache" / "synthme_dev"))
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "prep"))
    ap.add_argument("--runs", default=str(ROOT / "runs" / "frames_study"))
    ap.add_argument("--variants", default="all", help=f"comma list or 'all' of {list(VARIANTS)}")
    ap.add_argument("--shard", default=None, help="i/n: the i-th of n balanced slices of the folds (several processes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="only rebuild the report from finished runs")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "results" / "frames.md"))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "results" / "frames.png"))
    ap.add_argument("--notes", default=str(ROOT / "benchmarks" / "frames_study_notes.md"),
                    help="markdown appended to the report (the screening runs and their reading)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.report:
        data = Path(args.data)
        ensure_synthme(data, DEV_CONFIG, progress=args.progress)     # shards started together: one generates
        index = load_dataset(data, scheme="megc3")
        keys = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",")]
        for key in keys:
            if key not in VARIANTS:
                ap.error(f"unknown variant {key!r}; choose from {list(VARIANTS)}")
            run_variant(key, args, index, Path(args.cache))
        if args.shard:
            return 0
    report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
