"""Benchmark: hsta-tiny LOSO on SynthME from frames (the paper's input), its branches and ablations.

    .venv/bin/python benchmarks/loso_synthme.py                                  # full model, seeds 0 and 1
    .venv/bin/python benchmarks/loso_synthme.py --variants full,video-only,special-only --seeds 0
    .venv/bin/python benchmarks/loso_synthme.py --shard 0/2 & .venv/bin/python benchmarks/loso_synthme.py --shard 1/2
    .venv/bin/python benchmarks/loso_synthme.py --report                         # table from finished runs

Corpora: ``benchmark`` = `hsta_edu.data.synth.BENCHMARK_CONFIG` (seed 7, 12 subjects x 3 classes x
8 clips); ``lower-amplitude`` = the same knobs with another seed (31) and a somewhat lower amplitude
range (1.2-2.5 px instead of 1.5-3.0), the check that the figure is not one corpus's luck. Each is
generated into ``.cache/`` when absent. Preprocessing is `PrepConfig()`'s defaults and training the
library's ``fast`` recipe, both chosen on the development corpus (seed 1007, see
`benchmarks/frames_study.py`), never on these folds: these runs were made once with them.
Every run is recorded in ``runs/bench/<corpus>-<variant>-s<seed>`` (config, folds, metrics); the
report (``docs/results/train.md``) is rebuilt from the complete ones. Last line printed: one JSON object.
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
from hsta_edu.model import ablation_overrides
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe

ROOT = Path(__file__).resolve().parents[1]

CORPORA = {
    "benchmark": BENCHMARK_CONFIG,
    "lower-amplitude": BENCHMARK_CONFIG.replace(seed=31, amplitude=(1.2, 2.5)),
}

VARIANTS = {
    "full": ("USTA + CSTA (full HSTA), frames", {}),
    "video-only": ("video branch alone (--video-only)", ablation_overrides(video_only=True)),
    "special-only": ("special branch alone (--special-only)", ablation_overrides(special_only=True)),
    "usta-only": ("USTA only (no CSTA)", ablation_overrides(no_csta=True)),
    "csta-only": ("CSTA only (no USTA blocks)", ablation_overrides(no_usta=True)),
    "neither": ("neither (embeddings + head)", ablation_overrides(no_usta=True, no_csta=True)),
    "flow": ("full HSTA, special = onset + optical flow (--flow)", ablation_overrides(flow=True)),
}


def corpus_dir(name: str) -> Path:
    return ROOT / ".cache" / ("synthme_benchmark" if name == "benchmark" else f"synthme_{name}")


def run_dir(runs: Path, corpus: str, variant: str, seed: int) -> Path:
    return runs / f"{corpus}-{variant}-s{seed}"


def run_one(corpus: str, variant: str, seed: int, args: argparse.Namespace) -> None:
    data = corpus_dir(corpus)
    ensure_synthme(data, CORPORA[corpus], progress=args.progress)   # shards started together: one generates
    index = load_dataset(data, scheme="megc3")
    label, model_over = VARIANTS[variant]
    over = {"num_classes": len(index.classes), **model_over}
    model_cfg = create_model("hsta-tiny", **over).config
    prep = PrepConfig.for_model(model_cfg)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=args.progress)
    train_ds = test_ds.subset(range(len(test_ds)), train=True)
    cfg = recipe("fast", seed=seed, progress=args.progress)
    t = time.time()
    result = run_protocol(test_ds, LOSO(), lambda: create_model("hsta-tiny", **over), cfg,
                          run_dir(Path(args.runs), corpus, variant, seed), train_dataset=train_ds,
                          shard=args.shard, progress=args.progress,
                          info={"data": str(data), "corpus": corpus, "synth_config": CORPORA[corpus].to_dict(),
                                "preset": "hsta-tiny", "variant": variant, "label": label,
                                "model_overrides": {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in over.items()},
                                "prep": prep.to_dict(), "recipe": "fast"})
    state = f"UF1 {result.metrics['uf1']:.4f}" if result.complete else f"{len(result.folds_done)}/12 folds"
    print(f"{corpus} {variant} seed {seed}: {state} ({time.time() - t:.0f} s this call)", flush=True)


def collect(runs: Path) -> list[dict]:
    rows = []
    for corpus in CORPORA:
        for variant, (label, _) in VARIANTS.items():
            for d in sorted(runs.glob(f"{corpus}-{variant}-s*")):
                if not (d / "config.json").exists():
                    continue
                res = merge_run(d, write=True)
                if not res.complete:
                    continue
                m = res.metrics
                rows.append({"corpus": corpus, "variant": variant, "label": label, "seed": int(d.name.rsplit("s", 1)[1]),
                             "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n_folds": m["n_folds"],
                             "n_samples": m["n_samples"], "fold_seconds": m["fold_seconds"], "run_dir": str(d)})
    return rows


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f} (1 seed)"
    return f"{np.mean(values):.4f} (min {min(values):.4f}, max {max(values):.4f}; {len(values)} seeds)"


def report(args: argparse.Namespace) -> dict:
    rows = collect(Path(args.runs))
    prep, cfg = PrepConfig(), recipe("fast")
    env = {"cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    lines = [
        "# Training and LOSO on SynthME (hsta-tiny, CPU, from frames)",
        "",
        "Measured by `benchmarks/loso_synthme.py` on the 2-core development machine "
        f"(torch {env['torch']}, one thread per process).",
        "",
        "- Corpora: `benchmark` = SynthME `BENCHMARK_CONFIG` (seed 7; 288 clips, 12 subjects, 3 classes, amplitude "
        "1.5-3 px, head drift and rotation, blinks, flicker, noise, JPEG); `lower-amplitude` = the same knobs, seed 31, "
        "amplitude 1.2-2.5 px.",
        "- Input: the paper's, special = onset + apex, video = 6 frames from onset to offset; preprocessing "
        f"`PrepConfig()` (registration `{prep.register}` to the onset{', checked' if prep.register_check else ''}, "
        f"Eulerian magnification alpha {prep.magnify:g}, "
        f"`{prep.representation}` x {prep.difference_scale:g}, clip-level flip / {prep.shift} px shift / "
        f"{prep.photometric:g} photometric augmentation at train time).",
        f"- Recipe `fast`: {cfg.epochs} epochs (fixed, no epoch selection), batch {cfg.batch_size}, AdamW lr {cfg.lr:g}, "
        f"weight decay {cfg.weight_decay}, balanced sampling, cross-entropy"
        + (f" with label smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else "")
        + ". Preprocessing and recipe were chosen on development corpora (seed 1007, `docs/results/frames.md`; "
        "the checked registration and label smoothing on seeds 7201 / 7202, `benchmarks/learning_curve_notes.md`), "
        "then these runs were made once.",
        "- Protocol: LOSO, 12 folds, metrics on the predictions pooled over all folds. 'fold s' is the sum of the "
        "12 folds' training + prediction time (two processes shared the folds, `--shard`, so the wall time was "
        "about half of it).",
        "",
        "| corpus | variant | seed | UF1 | UAR | accuracy | fold s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['corpus']} | {r['label']} | {r['seed']} | {r['uf1']:.4f} | {r['uar']:.4f} | "
                     f"{r['accuracy']:.4f} | {r['fold_seconds']:.0f} |")
    lines += ["", "## Over seeds", "", "| corpus | variant | UF1 mean (spread) |", "|---|---|---|"]
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["corpus"], r["label"]), []).append(r["uf1"])
    for (corpus, label), vals in groups.items():
        lines.append(f"| {corpus} | {label} | {_spread(vals)} |")
    notes = Path(args.notes)
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    lines.append("")
    if args.doc:
        atomic_write_text(args.doc, "\n".join(lines))
        print(f"wrote {args.doc}")
    for line in lines[lines.index("| corpus | variant | seed | UF1 | UAR | accuracy | fold s |"):]:
        print(line)
    return {"rows": rows, "env": env, "prep": prep.to_dict(), "recipe": cfg.to_dict()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", default="benchmark", help=f"comma list of {list(CORPORA)}")
    ap.add_argument("--variants", default="full", help=f"comma list of {list(VARIANTS)}")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--shard", default=None, help="i/n: the i-th of n balanced slices of the folds (processes share a run)")
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "prep"))
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench"))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--report", action="store_true", help="only rebuild the report from finished runs")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "results" / "train.md"), help="'' to skip writing")
    ap.add_argument("--notes", default=str(ROOT / "benchmarks" / "loso_synthme_notes.md"))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.report:
        for corpus in [c.strip() for c in args.corpora.split(",") if c.strip()]:
            if corpus not in CORPORA:
                ap.error(f"unknown corpus {corpus!r}; choose from {list(CORPORA)}")
            for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
                if variant not in VARIANTS:
                    ap.error(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
                for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
                    run_one(corpus, variant, seed, args)
        if args.shard:
            return 0
    out = report(args)
    print(json.dumps({k: out[k] for k in ("rows", "env")}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
