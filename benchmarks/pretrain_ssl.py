"""Reproduce the self-supervised weights shipped in hsta_edu/weights/: hsta-tiny's encoders (tubelet
embeddings, USTA blocks, branch norms) pretrained by masked reconstruction on SynthME clips, labels unused.

    .venv/bin/python benchmarks/pretrain_ssl.py                 # writes hsta_edu/weights/<NAME>.pt + manifest
    .venv/bin/python benchmarks/pretrain_ssl.py --dry-run       # data_samples/, 1 epoch, a temporary folder
    .venv/bin/python benchmarks/pretrain_ssl.py --from-run runs/ssl_dev_e200   # ship a finished run of RECIPE

Data: a SynthME corpus made with ``BENCHMARK_CONFIG.replace(seed=5151, n_subjects=24, clips_per_class=8)``
at the ``stronger`` distractor level (generated into ``.cache/ssl_dev_data`` when absent). Its seed is
none of those any figure of the project is measured on (`EVALUATION_SEEDS`, checked at start), so its
identities are disjoint from every evaluation corpus; its labels are never read. It is also the corpus
the development probes of ``benchmarks/learning_curve_notes.md`` pretrained on, so those probes
measured these very weights. Pretraining: ``hsta-edu pretrain`` (`hsta_edu.training.pretrain`) with
`RECIPE`, then `hsta_edu.pretrained.export_self_supervised` ships the file with its manifest entry
(sha256, preparation, the pretraining record, provenance). Use: ``--init hsta-tiny-mae-synthme``.
Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from train_pretrained import _git_commit  # the sibling script's provenance helper (same ROOT)

import hsta_edu
from hsta_edu.cli import main as cli
from hsta_edu.data.synth import BENCHMARK_CONFIG, DISTRACTOR_LEVELS, TUTORIAL_SEEDS, ensure_synthme
from hsta_edu.pretrained import WEIGHTS_DIR, export_self_supervised, list_self_supervised

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ what is shipped (edit here)

NAME = "hsta-tiny-mae-synthme"
PRESET = "hsta-tiny"
DATA_CONFIG = BENCHMARK_CONFIG.replace(seed=5151, n_subjects=24, clips_per_class=8, **DISTRACTOR_LEVELS["stronger"])
DATA_DIR = ROOT / ".cache" / "ssl_dev_data"
#: `hsta-edu pretrain` options (the masked-reconstruction recipe; `PretrainConfig` defaults otherwise)
RECIPE = {"epochs": 200, "target": "normalised", "seed": 0}
#: every SynthME seed a published figure is measured on: data_samples, the LOSO benchmark and its
#: other-identities corpus, the supervised pretrained models' corpus, the preprocessing study's
#: development corpus, the learning curve's evaluation and development seeds, the registration
#: benchmark's seeds
EVALUATION_SEEDS = (2024, 7, 31, 4242, 1007, 7301, 7302, 7201, 7202, 8101, 8102, 8103, 9101, 9102, 9103,
                    *TUTORIAL_SEEDS)
DESCRIPTION = ("hsta-tiny (48 px, 6 frames; special data = onset + apex frames) encoders pretrained without labels by "
               "masked reconstruction (VideoMAE's tube masking, 75 %) on 576 synthetic SynthME clips of 24 identities "
               "that no evaluation uses; embeddings, USTA and branch norms only: fine-tune with --init.")


def _check_run(out: Path, ap: argparse.ArgumentParser) -> None:
    """A finished pretraining run is shipped only when it is `RECIPE` on `DATA_CONFIG`'s corpus."""
    from hsta_edu.data.synth import read_marker
    from hsta_edu.io import safe_torch_load

    meta = safe_torch_load(out / "pretrained.pt").get("meta", {})
    rec = meta.get("recipe") or {}
    want = {"epochs": RECIPE["epochs"], "norm_target": RECIPE["target"] == "normalised", "seed": RECIPE["seed"]}
    got = {k: rec.get(k) for k in want}
    if got != want or meta.get("preset") != PRESET:
        ap.error(f"{out}: its pretraining was {got} with {meta.get('preset')}, not RECIPE {want} with {PRESET}")
    data = Path(meta.get("data", ""))
    data = data if data.is_absolute() else ROOT / data
    if read_marker(data)["config"] != DATA_CONFIG.to_dict():
        ap.error(f"{out} pretrained on {data}, which is not the DATA_CONFIG corpus")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="1 epoch on data_samples/ into a temporary weights folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "prep"))
    ap.add_argument("--out", default=str(ROOT / "runs" / "pretrain_ssl"), help="the pretraining run's folder")
    ap.add_argument("--from-run", default=None, help="ship the finished `hsta-edu pretrain` run in this folder instead "
                    "of pretraining again (it must be RECIPE on the DATA_CONFIG corpus: checked)")
    args = ap.parse_args(argv)
    if DATA_CONFIG.seed in EVALUATION_SEEDS:
        ap.error(f"seed {DATA_CONFIG.seed} is an evaluation seed: the shipped encoders must not have seen "
                 "an evaluation corpus's identities")
    command = shlex.join(["python", "benchmarks/pretrain_ssl.py", *(sys.argv[1:] if argv is None else argv)])
    t0 = time.time()
    tmp = tempfile.TemporaryDirectory() if args.dry_run else None
    if args.dry_run:
        data, out, weights, epochs = ROOT / "data_samples", Path(tmp.name) / "run", Path(tmp.name) / "weights", 1
        weights.mkdir()
    else:
        data, out, weights, epochs = DATA_DIR, Path(args.out), WEIGHTS_DIR, RECIPE["epochs"]
        ensure_synthme(data, DATA_CONFIG, progress=True)
    pretrain_cmd = ["pretrain", "--data", str(data), "--cache", args.cache, "--out", str(out), "--preset", PRESET,
                    "--epochs", str(epochs), "--target", RECIPE["target"], "--seed", str(RECIPE["seed"]),
                    "--threads", str(args.threads), "--no-progress"]
    if args.from_run:
        out = Path(args.from_run)
        _check_run(out, ap)
    else:
        rc = cli(pretrain_cmd)
        if rc != 0:
            print(f"hsta-edu pretrain failed (exit {rc})", file=sys.stderr)
            return rc
    summary = json.loads((out / "pretrain_summary.json").read_text())
    provenance = {
        "script": "benchmarks/pretrain_ssl.py", "command": command, "dry_run": bool(args.dry_run),
        "pretraining_run": str(out) if args.from_run else None,
        "data": {"path": "data_samples" if args.dry_run else ".cache/ssl_dev_data",
                 "synth_config": None if args.dry_run else DATA_CONFIG.to_dict(), "labels": "unused"},
        "recipe": dict(RECIPE, epochs=epochs), "seconds_total": None if args.from_run else round(time.time() - t0, 1),
        "torch": torch.__version__, "torch_threads": args.threads, "python": platform.python_version(),
        "hsta_edu": hsta_edu.__version__, "git_commit": _git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = export_self_supervised(NAME, out / "pretrained.pt", description=DESCRIPTION, provenance=provenance,
                                  weights_dir=weights)
    shipped = list_self_supervised(weights_dir=weights)
    result = {"name": NAME, "file": str(path), "bytes": path.stat().st_size, "epochs": summary["epochs"],
              "first_loss": summary["first_loss"], "final_loss": summary["final_loss"],
              "n_clips": summary["n_clips"], "seconds": round(summary["seconds"], 1), "shipped": shipped}
    print(f"[{NAME}] {summary['epochs']} epochs on {summary['n_clips']} clips: loss {summary['first_loss']:.3f} -> "
          f"{summary['final_loss']:.3f} ({summary['seconds']:.0f} s) -> {path}", flush=True)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
