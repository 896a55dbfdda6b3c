"""``demo``: the shipped pretrained model scored on subjects it never saw, in seconds."""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from ..errors import DataError
from .output import emit, print_metrics


def _synth_seed(folder: Any) -> Any:
    """The seed in a SynthME folder's marker, '?' when it has none (or no readable marker)."""
    from ..data.datasets.casme2 import read_marker
    try:
        config = (read_marker(folder) or {}).get("config")
    except DataError:
        return "?"
    return config.get("seed", "?") if isinstance(config, dict) else "?"


def _print_demo(args: argparse.Namespace, info: dict[str, Any], ds: Any, m: dict[str, Any], root: Any) -> None:
    """What the model is, what it is scored on, and its metrics and confusion matrix."""
    import numpy as np

    prov = info["provenance"]
    trained_on = set(prov.get("subjects", {}).get("train", []))
    data_seed = _synth_seed(root or args.data)   # the folder the name resolved to, from any working folder
    print(f"demo: pretrained {args.model} (hsta-tiny, frames: onset + apex, {info['prep'].num_frames} video "
          f"frames; {prov.get('n_train_clips', '?')} training clips of SynthME seed "
          f"{prov.get('data', {}).get('synth_config', {}).get('seed', '?')})")
    print(f"      scored on {len(ds)} clips of {len(set(ds.groups))} subjects in {args.data} (SynthME seed "
          f"{data_seed}): other identities than its {len(trained_on)} training subjects")
    print(f"UF1 {m['uf1']:.4f}  UAR {m['uar']:.4f}  accuracy {m['accuracy']:.4f}  ({len(ds)} clips)")
    cm = np.asarray(m["confusion"])
    print("confusion (rows true, columns predicted): " + ", ".join(
        f"{c}: {list(map(int, row))}" for c, row in zip(ds.classes, cm, strict=True)))


def _demo_loso(args: argparse.Namespace) -> Any:
    """``--loso``: hsta-tiny from scratch, LOSO on the same folder, through the library (what
    ``hsta-edu loso --preset hsta-tiny`` runs with its defaults: recipe ``fast``, the model's own
    preprocessing, the folder's label scheme). Returns the `RunResult`."""
    from .. import create_model
    from ..data.datasets import load_dataset, resolve_data_path
    from ..data.datasets.casme2 import read_marker
    from ..data.prep import PrepConfig
    from ..data.torch_data import MERDataset
    from ..evaluate import LOSO
    from ..runs import run_protocol
    from ..training import recipe

    out = args.out or tempfile.mkdtemp(prefix="hsta-demo-")
    print(f"demo: and from scratch, hsta-tiny LOSO on {args.data} (frames; run folder {out})")
    root = resolve_data_path(args.data)
    index = load_dataset(root, scheme=(read_marker(root) or {}).get("scheme"))   # SynthME names its scheme
    model_fn = lambda: create_model("hsta-tiny", num_classes=len(index.classes))   # noqa: E731
    prep = PrepConfig.for_model(model_fn())
    data = MERDataset(index, prep).preload(progress=not args.no_progress)
    cfg = recipe("fast", progress=not args.no_progress, **({"epochs": args.epochs} if args.epochs else {}))
    result = run_protocol(data, LOSO(), model_fn, cfg, out, train_dataset=data.train_view(),
                          info={"data": str(args.data), "preset": "hsta-tiny", "recipe": "fast",
                                "prep": prep.to_dict()})
    print_metrics({**result.summary(), "n_samples": len(data)})
    return result


def cmd_demo(args: argparse.Namespace) -> int:
    """The headless main job: the shipped hsta-tiny trained on frames, scored on subjects it never saw.

    ``hsta-tiny-synthme`` was trained (benchmarks/train_pretrained.py) on SynthME subjects generated
    with another seed than ``data_samples/``: every clip scored here belongs to a subject outside its
    training set, so the result is subject-independent. It takes seconds; ``--loso`` adds a LOSO run
    from scratch on the same folder for comparison (minutes)."""
    from ..evaluate import compute_metrics
    from ..pretrained import predict_pretrained

    t0 = time.time()
    ds, info, pred = predict_pretrained(args.model, args.data, progress=not args.no_progress)
    m = compute_metrics(ds.labels, pred["pred"], ds.classes)
    _print_demo(args, info, ds, m, ds.index.root)
    summary = {"uf1": m["uf1"], "uar": m["uar"], "accuracy": m["accuracy"], "n_folds": 1, "n_samples": len(ds),
               "seconds": time.time() - t0, "model": args.model, "protocol": "held-out subjects"}
    print(f"({summary['seconds']:.0f} s)")
    if args.loso:
        _demo_loso(args)
    emit(summary, args.json)
    return 0
