"""Benchmark: the learning curve of hsta-tiny from frames: pooled LOSO UF1 against training size (issue 26).

    .venv/bin/python benchmarks/learning_curve.py --shard 0/2 & .venv/bin/python benchmarks/learning_curve.py --shard 1/2
    .venv/bin/python benchmarks/learning_curve.py --report                # table and figure from finished runs
    .venv/bin/python benchmarks/learning_curve.py --subjects 4 --per-class 4 --levels benchmark --seeds 7301
    .venv/bin/python benchmarks/learning_curve.py --dev ...               # development seeds (choices are made there)
    .venv/bin/python benchmarks/learning_curve.py --dev --variant ls --set label_smoothing=0.1   # a candidate change

Grid: subjects 4 / 6 / 8 / 10 / 12, clips per class and subject 4 / 6 / 8, distractor levels ``benchmark``
and ``stronger`` (`hsta_edu.data.synth.DISTRACTOR_LEVELS`), two SynthME seeds per point. One corpus of 12
subjects x 8 clips per class is generated per (level, seed) into ``.cache/learning_curve/`` and each point
takes the first subjects and the first clips of each subject and class of it (nested, so one preprocessing
cache serves every point). Each point is a LOSO over its subjects with the library's defaults
(`PrepConfig()`, recipe ``fast``: 30 epochs, raised to at least 500 optimiser steps per fold by its
``min_steps``; training seed 0), exactly what ``hsta-edu loso --data DIR`` does, and is
recorded in ``runs/learning_curve/<level>-d<seed>-s<subjects>-k<per class>`` (resumable; processes given
``--shard i/n`` share the folds). Evaluation seeds 7301 / 7302 were used by no development step; the
development seeds (``--dev``) are 7201 / 7202. The report (``docs/results/learning_curve.md`` and
``docs/results/learning_curve.png``) is rebuilt from the complete runs, with the spread over seeds.
Last line printed: one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.synth import BENCHMARK_CONFIG, DISTRACTOR_LEVELS, ensure_synthme
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.errors import ConfigError
from hsta_edu.evaluate import LOSO, merge_run
from hsta_edu.evaluate.curve import MEASURED, REAL_CORPORA
from hsta_edu.fingerprint import model_identity
from hsta_edu.io import atomic_write_text
from hsta_edu.model import ABLATIONS
from hsta_edu.runs import run_protocol
from hsta_edu.training import TrainConfig, recipe
from hsta_edu.training.pretrain import init_identity, initialised_model
from hsta_edu.typed_fields import parse_assignments
from hsta_edu.viz import plot_learning_curve, save_figure

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = (4, 6, 8, 10, 12)
PER_CLASS = (4, 6, 8)
LEVELS = ("benchmark", "stronger")
EVAL_SEEDS = (7301, 7302)
DEV_SEEDS = (7201, 7202)


def corpus(level: str, seed: int) -> Path:
    """The (level, seed) corpus, 12 subjects x 8 clips per class, generated when absent."""
    out = ROOT / ".cache" / "learning_curve" / f"{level}-d{seed}"
    cfg = BENCHMARK_CONFIG.replace(seed=seed, n_subjects=max(SUBJECTS), clips_per_class=max(PER_CLASS),
                                   **DISTRACTOR_LEVELS[level])
    ensure_synthme(out, cfg)          # shards started together: one generates, the others wait
    return out


def subset(index, subjects: int, per_class: int):
    """The first ``subjects`` subjects and, of each subject and class, the first ``per_class`` clips."""
    keep_subjects = sorted({c.subject for c in index.clips})[:subjects]
    seen: dict[tuple[str, str], int] = {}
    clips = []
    for c in sorted(index.clips, key=lambda c: (c.subject, c.label, c.clip_id)):
        key = (c.subject, c.label)
        if c.subject in keep_subjects and seen.get(key, 0) < per_class:
            seen[key] = seen.get(key, 0) + 1
            clips.append(c)
    short = {k: v for k, v in seen.items() if v < per_class}
    if short or len(keep_subjects) < subjects:
        raise SystemExit(f"corpus {index.root} is too small for {subjects} subjects x {per_class} clips: {short}")
    return dataclasses.replace(index, clips=clips)


def run_dir(runs: Path, level: str, seed: int, subjects: int, per_class: int, init: str | None = None,
            video_only: bool = False, variant: str | None = None) -> Path:
    return runs / (f"{level}-d{seed}-s{subjects}-k{per_class}{'-init' if init else ''}{'-video' if video_only else ''}"
                   + (f"-v{variant}" if variant else ""))


def run_point(level: str, seed: int, subjects: int, per_class: int, args: argparse.Namespace) -> None:
    data = corpus(level, seed)
    index = subset(load_dataset(data, scheme="megc3"), subjects, per_class)
    over = {"num_classes": len(index.classes), **(ABLATIONS["video_only"] if args.video_only else {})}
    prep = PrepConfig.for_model(create_model("hsta-tiny", **over).config, **args.prep_overrides)
    test_ds = MERDataset(index, prep, args.cache, train=False).preload(progress=args.progress)
    cfg = recipe("fast", seed=0, progress=args.progress, **args.train_overrides)
    t = time.time()
    init = args.init
    result = run_protocol(test_ds, LOSO(), partial(initialised_model, "hsta-tiny", over, init), cfg,
                          run_dir(Path(args.runs), level, seed, subjects, per_class, init, args.video_only,
                                  args.variant),
                          train_dataset=test_ds.train_view(), shard=args.shard, progress=args.progress,
                          info={"data": str(data), "level": level, "corpus_seed": seed, "subjects": subjects,
                                "per_class": per_class, "preset": "hsta-tiny", "prep": prep.to_dict(),
                                "recipe": "fast", "init": init, "branch": "video" if args.video_only else "both",
                                "variant": args.variant, "train_overrides": args.train_overrides,
                                "prep_overrides": args.prep_overrides,
                                "model": {**model_identity(create_model("hsta-tiny", **over)),
                                          **init_identity(init)}})
    state = f"UF1 {result.metrics['uf1']:.4f}" if result.complete else f"{len(result.folds_done)}/{subjects} folds"
    print(f"{level} seed {seed} {subjects} subjects x {per_class}: {state} ({time.time() - t:.0f} s)", flush=True)


def collect(runs: Path) -> list[dict]:
    rows = []
    for d in sorted(runs.glob("*-d*-s*-k*")):
        if not (d / "config.json").exists():
            continue
        res = merge_run(d, write=False)
        if not res.complete:
            continue
        info = json.loads((d / "config.json").read_text()).get("info", {})
        if "level" not in info:
            continue
        m = res.metrics
        rows.append({"level": info["level"], "init": bool(info.get("init")),
                     **({"init_from": str(info["init"])} if info.get("init") else {}),
                     "branch": info.get("branch", "both"),
                     **({"variant": info["variant"]} if info.get("variant") else {}),
                     "seed": info["corpus_seed"],
                     "subjects": info["subjects"],
                     "per_class": info["per_class"], "clips": m["n_samples"], "uf1": m["uf1"], "uar": m["uar"],
                     "seconds": m["fold_seconds"]})
    return rows


def _points(rows: list[dict]) -> dict[tuple[str, int, int], list[dict]]:
    out: dict[tuple[str, int, int], list[dict]] = {}
    for r in rows:
        name = (r["level"] + (" + init" if r["init"] else "") + (" (video branch only)" if r["branch"] == "video" else "")
                + (f" [{r['variant']}]" if r.get("variant") else ""))
        out.setdefault((name, r["subjects"], r["per_class"]), []).append(r)
    return out


def titles() -> dict[str, str]:
    """A panel title per level: its distractors."""
    out = {}
    for level in LEVELS:
        knobs = DISTRACTOR_LEVELS[level]
        out[level] = (f"{level} distractors (drift {knobs['head_drift']} px, "
                      f"rotation {knobs['head_rotation']} deg, noise {knobs['noise']})")
    return out


def figure(rows: list[dict], path: str) -> None:
    """UF1 against clips per LOSO run (`hsta_edu.viz.plot_learning_curve`): a panel per level, a line per
    clips-per-class and start, seed spread as bars, real corpora marked."""
    order = {lv: i for i, lv in enumerate(LEVELS)}
    rows = sorted((r for r in rows if r["branch"] == "both" and not r.get("variant")),   # ablations, variants: table only
                  key=lambda r: (order[r["level"]], r["init"], r["per_class"], r["clips"]))
    fig = plot_learning_curve(rows, marks=REAL_CORPORA, titles=titles())
    fig.suptitle("hsta-tiny from frames on SynthME: how many clips does it need?", fontsize=10)
    save_figure(fig, path, dpi=110)


def _row_key(r: dict) -> tuple:
    return (r["level"], bool(r["init"]), r.get("branch", "both"), r.get("variant"), r["seed"], r["subjects"],
            r["per_class"])


def recorded_rows() -> list[dict]:
    """The evaluation rows of the shipped record (`MEASURED`) when they were measured with today's recipe
    and preparation; [] otherwise. Run folders are scratch (a new machine starts without them), so the
    report keeps what the record holds and replaces only the points measured again."""
    if not MEASURED.is_file():
        return []
    rec = json.loads(MEASURED.read_text())
    same_prep = rec.get("prep", PrepConfig().to_dict()) == PrepConfig().to_dict()
    if rec.get("recipe") != json.loads(json.dumps(recipe("fast").recipe_dict())) or not same_prep:
        print(f"note: {MEASURED} was measured with another recipe or preparation; its rows are not kept")
        return []
    return list(rec.get("rows", []))


def report(args: argparse.Namespace) -> dict:
    rows = collect(Path(args.runs))
    if not args.dev:
        fresh = {_row_key(r) for r in rows}
        kept = [r for r in recorded_rows() if _row_key(r) not in fresh]
        if kept:
            print(f"kept {len(kept)} rows of {MEASURED} not measured again in {args.runs}")
        rows = rows + kept
    pts = _points(rows)
    lines = ["# Learning curve: hsta-tiny from frames against training size (SynthME)", "",
             "Measured by `benchmarks/learning_curve.py`: each point is a LOSO over its subjects (pooled UF1; "
             "`PrepConfig()` defaults, recipe `fast` (30 epochs, raised to at least "
             f"{recipe('fast').min_steps} optimiser steps per fold), training seed 0) on the first subjects and clips of a "
             "12 x 8 SynthME corpus per distractor level and seed. Seeds: " +
             ", ".join(str(s) for s in (DEV_SEEDS if args.dev else EVAL_SEEDS)) + ".", "",
             "| level | subjects | clips per class | clips | UF1 mean | UF1 per seed | fold s (sum) |",
             "|---|---|---|---|---|---|---|"]
    for (level, s, k), rs in sorted(pts.items(), key=lambda kv: (LEVELS.index(kv[0][0].split(' ')[0]), kv[0][0], kv[0][1], kv[0][2])):
        u = [r["uf1"] for r in sorted(rs, key=lambda r: r["seed"])]
        lines.append(f"| {level} | {s} | {k} | {rs[0]['clips']} | {np.mean(u):.3f} | "
                     + " / ".join(f"{x:.3f}" for x in u) + f" | {sum(r['seconds'] for r in rs):.0f} |")
    grid = len(SUBJECTS) * len(PER_CLASS)
    for level in LEVELS:   # a level whose grid is not complete says so (the runs resume where they stopped)
        done = {(r["subjects"], r["per_class"]) for r in rows
                if r["level"] == level and not r["init"] and r["branch"] == "both" and not r.get("variant")}
        if done and len(done) < grid:
            lines.append(f"\n{level}: {len(done)} of the {grid} points measured so far (resume: "
                         f"`benchmarks/learning_curve.py --levels {level} --shard i/2`).")
    inits = sorted({r["init_from"] for r in rows if r.get("init_from")})
    if inits:
        lines.append("\n'+ init': every fold starts from the self-supervised weights " + ", ".join(f"`{i}`" for i in inits)
                     + " (`--init`; embeddings and USTA loaded, CSTA and head fresh) and is then trained exactly as "
                     "the from-scratch point beside it.")
    text = "\n".join(lines) + "\n\n![learning curve](learning_curve.png)\n"
    print(text)
    if args.doc and rows:
        atomic_write_text(args.doc, text)
        figure(rows, args.figure)
        print(f"wrote {args.doc} and {args.figure}")
        if not args.dev:   # the evaluation curve ships with the package: notebook 04 draws it from there
            atomic_write_text(MEASURED, json.dumps({
                "source": "benchmarks/learning_curve.py", "seeds": list(EVAL_SEEDS),
                "recipe": recipe("fast").recipe_dict(), "prep": PrepConfig().to_dict(), "titles": titles(),
                "rows": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]},
                indent=1) + "\n")
            print(f"wrote {MEASURED}")
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", default=",".join(map(str, SUBJECTS)))
    ap.add_argument("--per-class", default=",".join(map(str, PER_CLASS)))
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--seeds", default=None, help="corpus seeds (default: the evaluation seeds, or --dev's)")
    ap.add_argument("--dev", action="store_true", help="development seeds and runs/learning_curve_dev")
    ap.add_argument("--shard", default=None, help="i/n: the i-th of n balanced slices of each run's folds")
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "prep"))
    ap.add_argument("--runs", default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--report", action="store_true", help="only rebuild the report from finished runs")
    ap.add_argument("--doc", default=None, help="report file ('' to skip writing)")
    ap.add_argument("--figure", default=None)
    ap.add_argument("--init", default=None, help="self-supervised weights (`hsta-edu pretrain`) to start every fold from")
    ap.add_argument("--video-only", action="store_true", help="the video branch alone (the issue's ablation target)")
    ap.add_argument("--variant", default=None, help="name of a candidate change (runs in <run>-v<name>; table only)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="train_set",
                    help="a TrainConfig field of the variant (repeatable)")
    ap.add_argument("--prep", action="append", default=[], metavar="KEY=VALUE", dest="prep_set",
                    help="a PrepConfig field of the variant (repeatable)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        args.train_overrides = parse_assignments(TrainConfig, args.train_set, flag="--set", what="TrainConfig")
        args.prep_overrides = parse_assignments(PrepConfig, args.prep_set, flag="--prep", what="PrepConfig")
    except ConfigError as e:
        ap.error(str(e))
    if (args.train_overrides or args.prep_overrides) and not args.variant:
        ap.error("--set / --prep change the recipe: name the variant with --variant NAME")
    tag = "learning_curve_dev" if args.dev else "learning_curve"
    args.runs = args.runs or str(ROOT / "runs" / tag)
    where = Path(args.runs) if args.dev else ROOT / "docs" / "results"     # development results stay out of docs/
    args.doc = str(where / f"{tag}.md") if args.doc is None else args.doc
    args.figure = args.figure or str(where / f"{tag}.png")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(DEV_SEEDS if args.dev else EVAL_SEEDS)
    torch.set_num_threads(args.threads)
    if not args.report:
        levels = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
        for lv in levels:
            if lv not in DISTRACTOR_LEVELS:
                ap.error(f"unknown level {lv!r}; choose from {list(DISTRACTOR_LEVELS)}")
        # small runs first: a partial grid is still a curve
        grid = sorted(((lv, seed, s, k) for lv in levels for seed in seeds
                       for s in (int(x) for x in args.subjects.split(","))
                       for k in (int(x) for x in args.per_class.split(","))), key=lambda p: (p[2] * p[3], p))
        for point in grid:
            run_point(*point, args)
        if args.shard:
            return 0
    out = report(args)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
