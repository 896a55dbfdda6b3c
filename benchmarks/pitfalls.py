"""The three evaluation pitfalls of notebook 04, measured over seeds (the spread the notebook cites).

Each pitfall runs on the SynthME variant built to show it, with the settings of notebook 04's fast
mode's pitfall cells (hsta-tiny from frames, onset + apex as special data, the `fast` recipe at batch 8,
one CPU thread):

- (a) test-set selection: LOSO on ``data_samples`` at 16 epochs (a model near chance), the test
  predictions recorded after every epoch (`trace_test_epochs`); the fixed budget's UF1 against the
  epoch chosen per fold (or pooled) on the test clips.
- (b) clip-level split: `SUBJECT_CORRELATED` (each subject shows one class 4 times, the others once),
  `SampleKFold(4)` against `LOSO()` at 40 epochs, plus the
  face-shortcut classifier (`face_shortcut_scores`), which knows no expression at all.
- (c) random test-time sampling: the shipped ``hsta-tiny-synthme`` on `FAINT` (data_samples' people with
  fainter movements), predicted through the deterministic view and a randomly sampling one.

    python benchmarks/pitfalls.py [--seeds 3] [--repeats 5] [--out docs/results/pitfalls.md] [--json]

About 8 minutes on one CPU thread. The last line with ``--json`` is one JSON object of every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import hsta_edu
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.synth import generate_synthme
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.evaluate import LOSO, SampleKFold
from hsta_edu.evaluate.pitfalls import (
    FAINT,
    SUBJECT_CORRELATED,
    face_shortcut_scores,
    sampling_spread,
    subject_correlated,
    trace_test_epochs,
)
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe

ROOT = Path(__file__).resolve().parents[1]
MODEL = dict(num_classes=3)
BUDGET_A, BUDGET_B = 16, 40      # notebook 04's pitfall budgets (a) and (b), used as they are
BUDGETS_B = (BUDGET_A, BUDGET_B)  # (b) at both: at 16 epochs hsta-tiny has not yet fitted its training clips


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def frames_dataset(root: Path) -> MERDataset:
    prep = PrepConfig.for_model(hsta_edu.create_model("hsta-tiny", **MODEL).config)
    return MERDataset(load_dataset(root, scheme="megc3"), prep).preload(progress=False)


def final_train_accuracy(run_dir: Path) -> float:
    """Mean over folds of the training accuracy in the last epoch (from the fold files' histories)."""
    files = sorted((run_dir / "folds").glob("fold_*.json"))
    return float(np.mean([json.loads(f.read_text())["history"][-1]["acc"] for f in files]))


def model_fn():
    return hsta_edu.create_model("hsta-tiny", **MODEL)


def pitfall_a(seeds: int) -> list[dict]:
    ds = frames_dataset(ROOT / "data_samples")
    rows = []
    for seed in range(seeds):
        cfg = recipe("fast", epochs=BUDGET_A, batch_size=8, seed=seed, progress=False)
        trace = trace_test_epochs(ds, LOSO(), model_fn, cfg, train_dataset=ds.train_view(), progress=False)
        table = trace.table()["UF1"]
        rows.append({"seed": seed, "fixed budget": table.iloc[0], "per fold on test": table.iloc[1],
                     "best pooled epoch": table.iloc[2], "best epoch": int(trace.curve().idxmax())})
        log("a", rows[-1])
    return rows


def pitfall_b(seeds: int, work: Path) -> tuple[list[dict], dict]:
    generate_synthme(work / "correlated", SUBJECT_CORRELATED, overwrite=True, progress=False)
    full = frames_dataset(work / "correlated")
    ds = full.subset(subject_correlated(full.labels, full.groups, favourite=4, other=1))
    onsets = np.stack([ds[i][1][:, 0].flatten().numpy() for i in range(len(ds))])
    protocols = {"SampleKFold(4), by clip": SampleKFold(4), "LOSO, by subject": LOSO()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shortcut = face_shortcut_scores(onsets, ds.labels, ds.groups, protocols, ds.classes)
        rows = []
        for epochs in BUDGETS_B:
            for seed in range(seeds):
                cfg = recipe("fast", epochs=epochs, batch_size=8, seed=seed, progress=False)
                row = {"epochs": epochs, "seed": seed}
                for name, protocol in protocols.items():
                    run = run_protocol(ds, protocol, model_fn, cfg, Path(tempfile.mkdtemp(dir=work)),
                                       train_dataset=ds.train_view())
                    row[name] = run.metrics["uf1"]
                    row[f"{name}: final train accuracy"] = final_train_accuracy(run.run_dir)
                rows.append(row)
                log("b", row)
    return rows, {k: float(v) for k, v in shortcut["UF1"].items()}


def pitfall_c(repeats: int, work: Path) -> dict:
    generate_synthme(work / "faint", FAINT, overwrite=True, progress=False)
    model, info = hsta_edu.load_pretrained("hsta-tiny-synthme")
    ds = MERDataset(load_dataset(work / "faint", scheme="megc3"), info["prep"]).preload(progress=False)
    views = {"deterministic": ds, "random sampling": ds.view(train=True, flip=False, shift=0, photometric=0.0)}
    table = sampling_spread(model, views, ds.labels, ds.classes, repeats=repeats)   # it never saw these people
    log("c", table.to_dict())
    return {k: {c: float(v) for c, v in row.items()} for k, row in table.iterrows()}


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def report(a: list[dict], b: list[dict], shortcut: dict, c: dict, seconds: float, repeats: int) -> str:
    lines = ["# Evaluation pitfalls, measured (benchmarks/pitfalls.py)", "",
             "Notebook 04's three demonstrations, repeated over seeds; each table is one run of "
             "`python benchmarks/pitfalls.py`.", "",
             f"Seeds 0-{len(a) - 1}; mean (min, max) over seeds. {seconds / 60:.1f} min on this machine.", "",
             f"## (a) Test-set selection: LOSO on data_samples, hsta-tiny, {BUDGET_A} epochs", "",
             "| pooled UF1 | over seeds |", "|---|---|"]
    for key in ("fixed budget", "per fold on test", "best pooled epoch"):
        lines.append(f"| {key} | {spread([r[key] for r in a])} |")
    lines += ["", "Best pooled epoch per seed: " + ", ".join(str(r["best epoch"]) for r in a)
              + f" (of {BUDGET_A}).", "",
              "## (b) Clip-level split on SUBJECT_CORRELATED, hsta-tiny", "",
              "| pooled UF1 | epochs | hsta-tiny over seeds | its final train accuracy | face shortcut |",
              "|---|---|---|---|---|"]
    for epochs in BUDGETS_B:
        mine = [r for r in b if r["epochs"] == epochs]
        for key in shortcut:
            lines.append(f"| {key} | {epochs} | {spread([r[key] for r in mine])} | "
                         f"{np.mean([r[key + ': final train accuracy'] for r in mine]):.2f} | {shortcut[key]:.3f} |")
        gaps = [r["SampleKFold(4), by clip"] - r["LOSO, by subject"] for r in mine]
        lines.append(f"| clip-level minus LOSO, per seed | {epochs} | {', '.join(f'{g:+.3f}' for g in gaps)} | | |")
    lines += ["", "The face shortcut names a test clip's subject by its nearest training clip (onset pixels) and "
              "answers that subject's most frequent training label: it knows no expression.", "",
              f"## (c) Random test-time sampling: hsta-tiny-synthme on FAINT ({FAINT.n_subjects * FAINT.clips_per_class * 3} clips, {repeats} repeats)", "",
              "| view | UF1 min | UF1 max | clips whose prediction changes |", "|---|---|---|---|"]
    for view, row in c.items():
        lines.append(f"| {view} | {row['UF1 min']:.3f} | {row['UF1 max']:.3f} | "
                     f"{row['clips whose prediction changes']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "pitfalls.md")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="hsta-pitfalls-") as tmp:
        work = Path(tmp)
        a = pitfall_a(args.seeds)
        b, shortcut = pitfall_b(args.seeds, work)
        c = pitfall_c(args.repeats, work)
    text = report(a, b, shortcut, c, time.time() - t0, args.repeats)
    args.out.write_text(text)
    print(text)
    if args.json:
        print(json.dumps({"a": a, "b": b, "shortcut": shortcut, "c": c}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
