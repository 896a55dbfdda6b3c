"""Benchmark: hsta-tiny LOSO on SynthME (12 subjects x 3 classes x 8 clips) and the USTA/CSTA ablations.

    .venv/bin/python benchmarks/loso_synthme.py               # all four variants, writes docs/results/train.md
    .venv/bin/python benchmarks/loso_synthme.py --variants full --threads 1

The corpus is generated with `hsta_edu.data.synth.BENCHMARK_CONFIG` (seed 7) into
``.cache/synthme_benchmark`` when absent. The training recipe is the library's ``fast``
recipe with a fixed epoch budget; it was tuned on a *different* SynthME corpus (same
generator settings, seed 1007: other subjects), never on these test folds. Variants
(the paper's Table 5 ablation): both USTA and CSTA (full model), USTA only (no CSTA), CSTA
only (no USTA blocks), neither. Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from hsta_edu import create_model  # noqa: E402
from hsta_edu.cli import ablation_overrides  # noqa: E402
from hsta_edu.data.datasets import load_dataset  # noqa: E402
from hsta_edu.data.prep import PrepConfig  # noqa: E402
from hsta_edu.data.synth import BENCHMARK_CONFIG, MARKER_FILE, generate_synthme  # noqa: E402
from hsta_edu.data.torch_data import MERDataset  # noqa: E402
from hsta_edu.evaluate import LOSO, run_protocol  # noqa: E402
from hsta_edu.io import atomic_write_text  # noqa: E402
from hsta_edu.train import recipe  # noqa: E402

VARIANTS = {
    "full": ("USTA + CSTA (full HSTA)", {}),
    "usta-only": ("USTA only (no CSTA)", ablation_overrides(no_csta=True)),
    "csta-only": ("CSTA only (no USTA blocks)", ablation_overrides(no_usta=True)),
    "neither": ("neither (embeddings + head)", ablation_overrides(no_usta=True, no_csta=True)),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".cache" / "synthme_benchmark"))
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "prep"))
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench"))
    ap.add_argument("--variants", default="full,usta-only,csta-only,neither")
    ap.add_argument("--epochs", type=int, default=None, help="override the fast recipe's epoch budget")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--special", default="flow", choices=("flow", "frames"),
                    help="special data: onset + flow onset->apex (default) or onset + apex frames")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--fresh", action="store_true", help="delete earlier run folders of these variants first")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "results" / "train.md"), help="'' to skip writing")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    data = Path(args.data)
    t0 = time.time()
    if not (data / MARKER_FILE).exists():
        print(f"generating SynthME benchmark corpus into {data} ...", flush=True)
        generate_synthme(data, BENCHMARK_CONFIG, overwrite=True, progress=args.progress)
    gen_s = time.time() - t0
    t0 = time.time()
    index = load_dataset(data, scheme=json.loads((data / MARKER_FILE).read_text())["scheme"])
    base_over = {"num_classes": len(index.classes), "special_input": args.special}
    model_cfg = create_model("hsta-tiny", **base_over).config
    prep = PrepConfig(img_size=model_cfg.img_size, num_frames=model_cfg.num_frames, special=args.special)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=args.progress)
    train_ds = test_ds.subset(range(len(test_ds)), train=True)
    prep_s = time.time() - t0
    print(f"{index.summary()}; preprocessing {prep_s:.0f} s (cache {args.cache})", flush=True)

    overrides = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("batch_size", args.batch_size))
                 if v is not None}
    cfg = recipe("fast", seed=args.seed, progress=args.progress, **overrides)
    rows = []
    for key in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if key not in VARIANTS:
            ap.error(f"unknown variant {key!r}; choose from {sorted(VARIANTS)}")
        label, model_over = VARIANTS[key]
        run_dir = Path(args.runs) / f"{key}-{args.special}-e{cfg.epochs}-lr{cfg.lr:g}-b{cfg.batch_size}-s{cfg.seed}"
        if args.fresh and run_dir.exists():
            import shutil
            shutil.rmtree(run_dir)
        t = time.time()
        result = run_protocol(test_ds, LOSO(), lambda mo=model_over: create_model("hsta-tiny", **base_over, **mo),
                              cfg, run_dir, train_dataset=train_ds, progress=args.progress,
                              info={"data": str(data), "preset": "hsta-tiny",
                                    "model_overrides": {**base_over, **model_over},
                                    "recipe": "fast"})
        wall = time.time() - t
        m = result.metrics
        n_params = sum(p.numel() for p in create_model("hsta-tiny", **base_over, **model_over).parameters())
        rows.append({"variant": key, "label": label, "uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"],
                     "n_folds": m["n_folds"], "n_samples": m["n_samples"], "params": n_params,
                     "train_seconds": m["fold_seconds"], "wall_seconds": wall, "run_dir": str(run_dir)})
        print(f"{label:32s} UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f}  acc {m['accuracy']:.4f}  "
              f"({m['fold_seconds']:.0f} s of fold training; {wall:.0f} s this call)", flush=True)

    env = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    print()
    print(f"{'variant':32s} {'UF1':>7s} {'UAR':>7s} {'acc':>7s} {'params':>8s} {'train s':>8s}")
    for r in rows:
        print(f"{r['label']:32s} {r['uf1']:7.4f} {r['uar']:7.4f} {r['accuracy']:7.4f} {r['params']:8d} "
              f"{r['train_seconds']:8.0f}")
    if args.doc:
        atomic_write_text(args.doc, _markdown(rows, cfg, env, index.summary(), gen_s, prep_s, args.special))
        print(f"wrote {args.doc}")
    full = next((r for r in rows if r["variant"] == "full"), rows[0])
    print(json.dumps({"special": args.special, "uf1": full["uf1"], "uar": full["uar"], "accuracy": full["accuracy"],
                      "n_folds": full["n_folds"], "n_samples": full["n_samples"],
                      "seconds": full["train_seconds"], "variants": rows, "recipe": cfg.to_dict(), "env": env}))
    return 0


def _markdown(rows, cfg, env, summary, gen_s, prep_s, special) -> str:
    lines = [
        "# Training and LOSO on SynthME (hsta-tiny, CPU)",
        "",
        "Measured by `benchmarks/loso_synthme.py` on the development machine "
        f"({env['cores']} cores, torch {env['torch']} with {env['torch_threads']} thread(s); load average at "
        f"the end {env['load_average']}: this box is shared, so times vary with what else runs).",
        "",
        f"- Data: {summary} (SynthME `BENCHMARK_CONFIG`, seed 7; generating it takes about 3 min once; "
        f"preprocessing {prep_s:.0f} s this call, cached in `.cache/prep`).",
        f"- Model: hsta-tiny, special data = {'onset + DIS optical flow onset->apex' if special == 'flow' else 'onset + apex frames'}.",
        "- Protocol: LOSO (12 folds, one per subject), metrics on the predictions pooled over all folds.",
        f"- Recipe `fast`: {cfg.epochs} epochs (fixed budget, no epoch selection), batch {cfg.batch_size}, AdamW "
        f"lr {cfg.lr:g} with {cfg.warmup_epochs:g} warm-up epochs from {cfg.warmup_lr:g} and cosine decay to "
        f"{cfg.min_lr:g}, weight decay {cfg.weight_decay}, grad clip {cfg.grad_clip}, balanced sampling, "
        f"cross-entropy, seed {cfg.seed}. Chosen on a separate SynthME corpus (seed 1007, other subjects) "
        "with held-out dev subjects, never on these folds.",
        "",
        "| variant | UF1 | UAR | accuracy | parameters | fold training (s) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['label']} | {r['uf1']:.4f} | {r['uar']:.4f} | {r['accuracy']:.4f} | {r['params']:,} | "
              f"{r['train_seconds']:.0f} |" for r in rows]
    lines += [
        "",
        "Run folders (config, per-fold predictions, metrics.json, confusion.png, report.md) are under "
        "`runs/bench/` when the script is run locally; a rerun skips finished folds and only re-merges.",
        "",
        "## Reading the table",
        "",
        "- The target (UF1 >= 0.85) is reached. The 10-minute budget was **not** met here: the full model's "
        "12 folds took about 1030 s of compute while other engineers' jobs kept the 2 cores at a load of "
        "3-8 (the first fold took 156 s at load 8, later folds about 60 s at load 3). Unloaded, the measured "
        "per-sample cost (about 6 ms forward+backward at 2 threads, batch 16) puts a fold at about 25-30 s, "
        "that is about 5-6 min for the 12 folds; this was not measured on an idle machine.",
        "- 'Neither' is at chance by construction: without USTA blocks and without CSTA, the [CLS] tokens "
        "never read a patch token, so the prediction is the same for every clip (the paper's ~16% accuracy "
        "on 7 classes is the same effect).",
        "- With optical flow, this SynthME set is too easy to rank USTA against CSTA: any variant in which "
        "[CLS] can read the flow tokens gets 0.97-0.99. A harder set (smaller amplitudes, more distractors) "
        "or the frames input with longer training is needed to reproduce the paper's ordering.",
        "",
        "## How the recipe was chosen (no test-fold selection)",
        "",
        "On a separate corpus (`SynthConfig` = `BENCHMARK_CONFIG` with seed 1007: other identities), hsta-tiny "
        "was trained on 9 subjects and scored on 3 held-out subjects (`train(..., val_dataset=...)`):",
        "",
        "- special data = onset + apex **frames**: the loss stayed at ln 3 = 1.0986 (chance) for 20 epochs at "
        "lr 1e-3 and for 10 epochs at lr 2e-4; validation UF1 0.17-0.27. The signal is there: a logistic "
        "regression on the apex - onset difference image (48 px) reaches LOSO UF1 0.63 on that corpus, so "
        "frames mode needs more than a few minutes of from-scratch training at this size.",
        "- special data = onset + **optical flow** (DIS) onset->apex: validation UF1 0.54 after 3 epochs, "
        "0.76 after 10 (train accuracy 0.95, still rising); hence flow and a 15-epoch budget at lr 1e-3.",
        "",
        "The benchmark numbers above were then measured once with that recipe. Times are the sum of the "
        "12 folds' training + prediction on this shared 2-core machine (other jobs were running: compare "
        "the load average); `--threads 1` was faster than 2 threads whenever the box was busy.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
