"""Benchmark: registration against SynthME's true head motion (issue 26, "registration that never hurts").

    .venv/bin/python benchmarks/registration.py                 # evaluation seeds, writes docs/results/registration.md
    .venv/bin/python benchmarks/registration.py --dev           # development seeds (the ones choices were made on)
    .venv/bin/python benchmarks/registration.py --clips 12 --out ''   # a quick look, nothing written

SynthME knows every frame's head drift (px) and rotation (degrees) about the face centre, so the true
warp from the onset crop to any other frame's crop is known. Each clip is taken through the pipeline's
own steps (`detect_face` on the onset, crop and resize to ``PrepConfig().work_size``, the pool frames
and the apex the pipeline registers), each frame is registered to the onset by each strategy, and the
error of a warp is the **mean displacement error over a 9 x 9 grid of points on the inner 80 % of the
crop** (work-size px) against the true head warp. A clip's error is the largest over its frames.
"none" is the identity (no registration): its error is the head motion itself.

Strategies: ``plain`` (ECC over the whole face), ``robust`` (ECC re-estimated without the pixels that
still move), ``checked`` (`register_image(check=True)`: robust, with implausible estimates detected and
replaced, the fallback recorded). Three distractor levels (head drift / rotation / noise / flicker):
``light``, ``benchmark`` (`BENCHMARK_CONFIG`'s), ``stronger`` (0.8 px / 0.4 deg / 1.8 / 0.02, the
issue's). Evaluation seeds 9101-9103 were not used while choosing the checks (development: 8101-8103).

Targets (issue 26): 95th percentile of the clip error at most 0.25 px at the stronger level, and no clip
whose registered error exceeds its unregistered error by more than 0.1 px. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from hsta_edu.data.prep import PrepConfig, detect_face, register_image
from hsta_edu.data.prep.crops import resize_crop
from hsta_edu.data.prep.sampling import uniform_positions
from hsta_edu.data.synth import (
    BENCHMARK_CONFIG,
    DISTRACTOR_LEVELS,
    head_warp,
    make_subject,
    render_clip,
    warp_error,
)
from hsta_edu.io import atomic_write_text
from hsta_edu.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]

LEVELS = DISTRACTOR_LEVELS
EVAL_SEEDS = {"light": 9101, "benchmark": 9102, "stronger": 9103}
DEV_SEEDS = {"light": 8101, "benchmark": 8102, "stronger": 8103}
STRATEGIES = {
    "none": None,
    "plain": dict(robust=0),
    "robust": dict(),
    "checked": dict(check=True),
}
TARGET_P95, TARGET_WORSE = 0.25, 0.1


def clip_errors(cfg, subject, label: str, k: int, prep: PrepConfig) -> dict[str, list[float]]:
    """Per registered frame (pool frames after the onset, then the apex): the error of every strategy."""
    sc = render_clip(cfg, subject, label, k, distractors=True)
    n = len(sc.frames)
    i_ap = int(sc.apex - sc.onset)
    targets = [int(i) for i in uniform_positions(0, n - 1, prep.pool_size) if i > 0] + [i_ap]
    box = detect_face(sc.frames[0], prep)
    size = prep.work_size
    crops = {i: resize_crop(box.crop(sc.frames[i]), size) for i in {0, *targets}}
    out: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    out["fallback"] = []
    for i in targets:
        true = head_warp(sc, subject, i, (box.x, box.y, box.w, box.h), size)
        for name, kw in STRATEGIES.items():
            if kw is None:
                out[name].append(warp_error(np.eye(2, 3), true, size))
                continue
            reg = register_image(crops[0], crops[i], prep.register, **kw)
            out[name].append(warp_error(reg.warp, true, size))
            if name == "checked":
                out["fallback"].append(reg.source)
    return out


def run_level(level: str, seed: int, clips: int, prep: PrepConfig, progress: bool) -> list[dict]:
    cfg = BENCHMARK_CONFIG.replace(seed=seed, n_subjects=max(1, -(-clips // (3 * 3))), clips_per_class=3,
                                   **LEVELS[level])
    keys = [(s, label, k) for s in range(cfg.n_subjects) for label in cfg.classes
            for k in range(cfg.clips_per_class)][:clips]
    subjects: dict[int, object] = {}
    rows = []
    for s, label, k in progress_bar(keys, desc=level, enabled=progress, unit="clip"):
        subj = subjects.setdefault(s, make_subject(cfg, s))
        errs = clip_errors(cfg, subj, label, k, prep)
        rows.append({"level": level, "subject": s, "label": label, "clip": k, **errs})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per level and strategy: median / p95 / max of the clip error (largest over the clip's frames), and
    the clips whose registered error exceeds the unregistered one by more than `TARGET_WORSE`."""
    out: dict[str, dict] = {}
    for level in LEVELS:
        lv = [r for r in rows if r["level"] == level]
        if not lv:
            continue
        none = np.array([max(r["none"]) for r in lv])
        out[level] = {"clips": len(lv), "frames": sum(len(r["none"]) for r in lv)}
        for name in STRATEGIES:
            e = np.array([max(r[name]) for r in lv])
            # frame by frame: how much worse than doing nothing
            worse = np.array([max(np.subtract(r[name], r["none"])) for r in lv])
            out[level][name] = {"median": float(np.median(e)), "p95": float(np.quantile(e, 0.95)),
                                "max": float(e.max()), "worse_clips": int(np.sum(worse > TARGET_WORSE)),
                                "max_worse": float(worse.max())}
        if "checked" in STRATEGIES:
            sources = [s for r in lv for s in r["fallback"]]
            out[level]["checked"]["sources"] = {s: sources.count(s) for s in sorted(set(sources))}
        out[level]["none"]["median_true_motion"] = float(np.median(none))
    return out


def report(summary: dict, args: argparse.Namespace, seconds: float) -> str:
    seeds = DEV_SEEDS if args.dev else EVAL_SEEDS
    lines = [
        "# Registration against the true head motion (SynthME)",
        "",
        f"Measured by `benchmarks/registration.py{' --dev' if args.dev else ''}` "
        f"({platform.machine()}, {os.cpu_count()} cores, OpenCV {cv2.__version__}; {seconds:.0f} s). "
        "Error of a registered frame: the mean distance, over a 9 x 9 grid on the inner 80 % of the "
        f"{PrepConfig().work_size} px work-size crop, between where the estimated and the true head warp send "
        "each point (px). A clip's error is the largest over its registered frames (the pool frames and the "
        "apex the pipeline registers). 'worse' counts clips with a frame whose registered error exceeds "
        f"its unregistered error by more than {TARGET_WORSE} px. Seeds: "
        + ", ".join(f"{k} {v}" for k, v in seeds.items()) + ".",
        "",
        "| level (drift px / rotation deg / noise / flicker) | clips | strategy | median | p95 | max | worse | most worse |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for level, s in summary.items():
        knobs = LEVELS[level]
        tag = f"{level} ({knobs['head_drift']} / {knobs['head_rotation']} / {knobs['noise']} / {knobs['flicker']})"
        for name in STRATEGIES:
            m = s[name]
            lines.append(f"| {tag} | {s['clips']} | {name} | {m['median']:.3f} | {m['p95']:.3f} | {m['max']:.3f} | "
                         f"{m['worse_clips']} | {m['max_worse']:+.3f} |")
    if "checked" not in STRATEGIES:
        return "\n".join(lines) + "\n"
    lines += ["", "Fallbacks of `checked` (registered frames by the estimate kept):", ""]
    for level, s in summary.items():
        lines.append(f"- {level}: " + ", ".join(f"{k} {v}" for k, v in s["checked"]["sources"].items()))
    strong = summary.get("stronger", {}).get("checked")
    if strong:
        worse = sum(s["checked"]["worse_clips"] for s in summary.values())
        lines += ["", f"Targets: p95 at the stronger level {strong['p95']:.3f} px (target <= {TARGET_P95}): "
                  f"{'met' if strong['p95'] <= TARGET_P95 else 'NOT met'}; clips worse than no registration "
                  f"by > {TARGET_WORSE} px over all levels: {worse} (target 0): {'met' if worse == 0 else 'NOT met'}."]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: str) -> None:
    """One panel per level: the distribution (empirical CDF) of the clip error of each strategy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    levels = [lv for lv in LEVELS if any(r["level"] == lv for r in rows)]
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), sharey=True, squeeze=False)
    for ax, level in zip(axes[0], levels, strict=True):
        lv = [r for r in rows if r["level"] == level]
        for name in STRATEGIES:
            e = np.sort([max(r[name]) for r in lv])
            ax.step(e, np.arange(1, len(e) + 1) / len(e), where="post", label=name)
        ax.axvline(TARGET_P95, color="k", ls=":", lw=1)
        ax.axhline(0.95, color="k", ls=":", lw=1)
        knobs = LEVELS[level]
        ax.set_title(f"{level}: drift {knobs['head_drift']} px, rotation {knobs['head_rotation']} deg", fontsize=9)
        ax.set_xlabel("clip error vs true head motion (px, work size)")
        ax.set_xlim(0, 1.5)
    axes[0][0].set_ylabel("share of clips with error <= x")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Registration error on SynthME (dotted: target p95 <= {TARGET_P95} px)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=108, help="clips per level (3 levels)")
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--dev", action="store_true", help="development seeds instead of the evaluation seeds")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "registration.md"), help="'' to skip writing")
    ap.add_argument("--figure", default=str(ROOT / "docs" / "results" / "registration.png"))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    seeds = DEV_SEEDS if args.dev else EVAL_SEEDS
    prep = PrepConfig()
    t = time.time()
    rows = [r for level in args.levels.split(",") for r in run_level(level, seeds[level], args.clips, prep,
                                                                     args.progress)]
    summary = summarise(rows)
    text = report(summary, args, time.time() - t)
    print(text)
    if args.out and not args.dev:
        atomic_write_text(args.out, text + "\n![clip error per strategy](registration.png)\n")
        figure(rows, args.figure)
        print(f"wrote {args.out} and {args.figure}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
