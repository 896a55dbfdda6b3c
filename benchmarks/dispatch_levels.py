"""Benchmark: do the shipped pretrained models predict the same under every CPU dispatch level?

    .venv/bin/python benchmarks/dispatch_levels.py                       # data_samples/ + SynthME benchmark
    .venv/bin/python benchmarks/dispatch_levels.py --data data_samples   # one folder only
    .venv/bin/python benchmarks/dispatch_levels.py --write-reference     # refresh tests/pretrained_predictions.json

torch and OpenCV pick their SIMD kernels by CPU at run time (``ATEN_CPU_CAPABILITY``,
``OPENCV_CPU_DISABLE``), so floats differ in the last bits between machines. Each level this CPU can
run (`levels`) predicts in a process of its own: every pretrained model (`hsta_edu.list_pretrained`)
on every folder, with the model's own preprocessing. The report compares every level with the native
one: clips whose predicted class differs, and the largest difference of a probability.

``--write-reference`` stores the native predictions on ``data_samples/`` (classes and probabilities,
rounded) in ``tests/pretrained_predictions.json`` (it needs data_samples/ among the folders); tests/test_dispatch_levels.py checks, in the normal suite and
again in the portability leg (``make test-portable``, lowest dispatch), that every clip's predicted
class equals the stored one and that no probability moved by more than the test's `PROB_TOLERANCE`.

Exit status 1 when any clip of any folder gets another class at any level than at the native one
(the shipped models' portability, which the README states for data_samples/ and the benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "pretrained_predictions.json"
BENCHMARK_DIR = ROOT / ".cache" / "synthme_benchmark"

#: OpenCV's dispatched features above SSE4.2, by the names its OPENCV_CPU_DISABLE accepts on x86-64
#: (an unknown name is a warning, not an error; the KNL/KNM variants warn on CPUs without them)
OPENCV_ABOVE_SSE42 = ("AVX,FP16,FMA3,AVX2,AVX512F,AVX512-COMMON,AVX512-SKX,AVX512-CLX,AVX512-CNL,AVX512-ICL,"
                      "AVX512BW,AVX512CD,AVX512DQ,AVX512VL")
#: the lowest dispatch level of both libraries (what the Makefile's test-portable target sets too)
LOWEST = {"ATEN_CPU_CAPABILITY": "default", "OPENCV_CPU_DISABLE": OPENCV_ABOVE_SSE42}


def levels() -> dict[str, dict[str, str]]:
    """Dispatch levels this CPU can run, as environment overrides: native (nothing forced), ``avx2``
    (torch AVX2, OpenCV without AVX-512) when the CPU has AVX-512, and ``lowest``."""
    import torch
    native = torch.backends.cpu.get_cpu_capability().lower()
    out: dict[str, dict[str, str]] = {f"native ({native})": {}}
    if native.startswith("avx512"):
        out["avx2"] = {"ATEN_CPU_CAPABILITY": "avx2",
                       "OPENCV_CPU_DISABLE": "AVX512F,AVX512-COMMON,AVX512-SKX,AVX512-CLX,AVX512-CNL,AVX512-ICL,"
                                             "AVX512BW,AVX512CD,AVX512DQ,AVX512VL"}
    out["lowest"] = dict(LOWEST)
    return out


def ensure_benchmark() -> Path:
    """The SynthME benchmark corpus (`BENCHMARK_CONFIG`), generated into .cache/ when absent."""
    from hsta_edu.data.synth import BENCHMARK_CONFIG, MARKER_FILE, generate_synthme
    if not (BENCHMARK_DIR / MARKER_FILE).is_file():
        generate_synthme(BENCHMARK_DIR, BENCHMARK_CONFIG, overwrite=True, progress=False)
    return BENCHMARK_DIR


def predictions(folders: dict[str, Path]) -> dict:
    """{model: {folder name: {uid: [class, [probabilities]]}}} of every pretrained model, in this process."""
    import torch

    from hsta_edu import list_pretrained
    from hsta_edu.pretrained import predict_pretrained

    torch.set_num_threads(1)
    out: dict = {"capability": torch.backends.cpu.get_cpu_capability(), "models": {}}
    for name in list_pretrained():
        out["models"][name] = {}
        for label, folder in folders.items():
            _, _, pred = predict_pretrained(name, folder)
            out["models"][name][label] = {u: [int(c), [round(float(p), 5) for p in probs]]
                                          for u, c, probs in zip(pred["uids"], pred["pred"], pred["prob"], strict=True)}
    return out


def predict_under(env: dict[str, str], folders: dict[str, Path]) -> dict:
    """`predictions` in a fresh process with ``env`` set (the dispatch level is fixed at import)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker",
           *[f"{k}={v}" for k, v in folders.items()]]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} under {env} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(ref: dict, got: dict) -> dict:
    """Per model and folder: number of clips, clips whose class differs, largest probability change."""
    rows = {}
    for name, per_folder in ref["models"].items():
        for folder, clips in per_folder.items():
            other = got["models"][name][folder]
            if set(other) != set(clips):
                raise ValueError(f"{name} on {folder}: the clips differ between the runs")
            changed = sorted(u for u in clips if clips[u][0] != other[u][0])
            dp = max(abs(a - b) for u in clips for a, b in zip(clips[u][1], other[u][1], strict=True))
            rows[(name, folder)] = {"clips": len(clips), "changed": changed, "max_dprob": dp}
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", default=None,
                    help="folder(s) to predict (default: data_samples/ and the SynthME benchmark)")
    ap.add_argument("--write-reference", action="store_true", help=f"store the native predictions in {REFERENCE}")
    ap.add_argument("--worker", nargs="*", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:   # one level, in this process: NAME=FOLDER pairs
        print(json.dumps(predictions(dict(item.split("=", 1) for item in args.worker))))
        return 0
    folders = {Path(d).name: Path(d) for d in args.data} if args.data else \
        {"data_samples": ROOT / "data_samples", "synthme_benchmark": ensure_benchmark()}
    runs = {}
    for level, env in levels().items():
        t0 = time.time()
        runs[level] = predict_under(env, folders)
        print(f"{level}: predicted in {time.time() - t0:.0f} s", file=sys.stderr)
    native = next(iter(runs))
    report = {}
    for level, got in runs.items():
        if level == native:
            continue
        for (name, folder), row in compare(runs[native], got).items():
            print(f"{level:>8} vs {native}: {name:<24} {folder:<18} {row['clips']:>4} clips, "
                  f"{len(row['changed'])} other classes, largest probability change {row['max_dprob']:.5f}")
            report[f"{level}|{name}|{folder}"] = {**row, "changed": row["changed"][:10]}
    if args.write_reference:   # the test checks data_samples/ (seconds); the benchmark stays this script's
        kept = {"capability": runs[native]["capability"],
                "models": {m: {"data_samples": f["data_samples"]} for m, f in runs[native]["models"].items()}}
        REFERENCE.write_text(json.dumps(kept, indent=0, sort_keys=True) + "\n")
        print(f"wrote {REFERENCE.relative_to(ROOT)}", file=sys.stderr)
    print(json.dumps(report))
    changed = {k: len(r["changed"]) for k, r in report.items() if r["changed"]}
    if changed:   # the property README's "Across CPUs" states: a class that moves is a failure, not a figure
        print(f"FAILED: other classes at another dispatch level: {changed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
