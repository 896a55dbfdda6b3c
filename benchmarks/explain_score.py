"""How well do explanations find the real movement? Scored on SynthME, where it is known.

Trains (or loads) an ``hsta-tiny`` on SynthME subjects, then, on held-out subjects, computes
every explanation method's map and scores it against the true moving regions (the union of
the clip's action-unit masks, mapped through the same face crop and resize as the frames):

- mass share: the share of the map's mass inside the regions (chance: their area share);
- pointing game: whether the map's maximum falls inside the regions (grown by ``--tolerance``
  px), chance: the grown regions' area share.

Each method's map is the mean of its video and special-data maps (each summed over time
and normalised), scored in the image plane. Attributions target the true class.

    python benchmarks/explain_score.py [--json] [--data DIR] [--model FILE] [--epochs 20]
    python benchmarks/explain_score.py --pretrained hsta-tiny-synthme --data .cache/synthme_benchmark --clips 0

With ``--pretrained NAME`` the shipped model (`hsta_edu.load_pretrained`) is scored with the
preprocessing it was trained with, on every subject of ``--data`` (it was trained on other SynthME
identities, so all of them are held out).

The last line with ``--json`` is one JSON object: {method: {mass_share, chance, pointing_game, ...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.explain import METHODS, explain_maps, score_method
from hsta_edu.explain.score import SCORE_OPTIONS, score_explanations, score_table, synthme_mask

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_WORK = ROOT / ".cache" / "explain_score"
OPTIONS = SCORE_OPTIONS
# The sanity check of Adebayo et al. (2018): a method whose maps barely change when the model's
# weights are random is showing the input (here: where it differs from the onset), not the model.
CONTROL_METHODS = ("integrated_gradients", "occlusion")


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def get_data(path: Path | None, work: Path) -> Path:
    if path is not None:
        return path
    folder = work / "synthme"
    if not (folder / "synthme.json").is_file():
        from hsta_edu.data.synth import BENCHMARK_CONFIG, generate_synthme
        log(f"generating SynthME (benchmark config) in {folder} ...")
        generate_synthme(folder, BENCHMARK_CONFIG, overwrite=True, progress=False)
    return folder


def split_subjects(ds: MERDataset, n_test: int) -> tuple[list[int], list[int]]:
    subjects = sorted({c.subject for c in ds.index.clips})
    test = set(subjects[-n_test:])
    tr = [i for i, c in enumerate(ds.index.clips) if c.subject not in test]
    te = [i for i, c in enumerate(ds.index.clips) if c.subject in test]
    return tr, te


def get_model(ds: MERDataset, train_idx: list[int], model_path: Path, epochs: int, retrain: bool, seed: int,
              special_input: str = "flow"):
    from hsta_edu.model import load_model, save_model
    from hsta_edu.training import recipe, set_seed, train
    if model_path.is_file() and not retrain:
        log(f"loading {model_path}")
        model, _ = load_model(model_path)
        return model.eval(), None
    set_seed(seed)
    model = create_model("hsta-tiny", num_classes=len(ds.classes), special_input=special_input)
    cfg = recipe("fast", epochs=epochs, seed=seed, progress=False)
    t0 = time.time()
    result = train(model, ds.subset(train_idx, train=True), cfg)
    log(f"trained {epochs} epochs in {time.time() - t0:.0f} s on {result.device}")
    model = result.model.cpu().eval()
    save_model(model_path, model, preset="hsta-tiny", classes=ds.classes)
    return model, result


def accuracy(model, ds: MERDataset, idx: list[int]) -> float:
    hits = 0
    with torch.no_grad():
        for i in idx:
            v, s, y = ds[i]
            hits += int(model(v[None], s[None]).argmax(-1).item() == int(y))
    return hits / max(len(idx), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="SynthME folder (default: generate one)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder for the data, cache and model")
    ap.add_argument("--model", type=Path, default=None, help="trained model file (default: WORK/hsta-tiny.pt)")
    ap.add_argument("--retrain", action="store_true", help="train even if the model file exists")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--pretrained", default=None, help="score a shipped model (hsta_edu.list_pretrained())")
    ap.add_argument("--frames", action="store_true",
                    help="special input = onset + apex frames (default: onset + optical flow, which "
                         "hsta-tiny learns in minutes on SynthME; from frames it stays near chance)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy box)")
    ap.add_argument("--test-subjects", type=int, default=3, help="held-out subjects whose clips are scored")
    ap.add_argument("--clips", type=int, default=36, help="score at most this many held-out clips (0: all)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--tolerance", type=int, default=2, help="pointing-game tolerance in input pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-control", action="store_true", help="skip the untrained-model control")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t_start = time.time()
    torch.set_num_threads(args.threads)
    special = "frames" if args.frames else "flow"

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    data = get_data(args.data, args.work)
    index = load_dataset(data, scheme="megc3")
    pretrained = None
    if args.pretrained:
        from hsta_edu import load_pretrained
        model, pretrained = load_pretrained(args.pretrained)
        prep, special = pretrained["prep"], pretrained["prep"].special
    else:
        prep = PrepConfig.for_model(create_model("hsta-tiny", special_input=special).config)
    ds = MERDataset(index, prep, cache_dir=args.work / "prep_cache")
    ds.preload(progress=False)
    if pretrained is not None:
        train_idx, test_idx = [], list(range(len(ds)))
    else:
        train_idx, test_idx = split_subjects(ds, args.test_subjects)
    if args.clips:
        test_idx = test_idx[:: max(1, len(test_idx) // args.clips)][: args.clips]
    if pretrained is None:
        model, _ = get_model(ds, train_idx, args.model or args.work / f"hsta-tiny-{special}.pt", args.epochs,
                             args.retrain, args.seed, special)
    acc = accuracy(model, ds, test_idx)
    log(f"held-out accuracy {acc:.3f} on {len(test_idx)} clips (chance {1 / len(ds.classes):.3f})")

    masks = [synthme_mask(ds, i) for i in test_idx]
    scores = score_explanations(model, ds, test_idx, methods, tolerance=args.tolerance, options=OPTIONS)
    reference = scores.pop("movement")
    scores = {m: {k: round(v, 4) if isinstance(v, float) else v for k, v in sc.items()} for m, sc in scores.items()}
    control = {}
    if not args.no_control:
        torch.manual_seed(args.seed + 1)
        untrained = create_model("hsta-tiny", num_classes=len(ds.classes), special_input=special).eval()
        for m in [c for c in CONTROL_METHODS if c in methods]:
            hs = []
            for i in test_idx:
                v, s, y = ds[i]
                maps = explain_maps(untrained, v[None], s[None], m, int(y), **OPTIONS.get(m, {}))
                planes = [x[0].sum(0).numpy() for x in maps.values()]
                hs.append(np.mean([p / max(p.sum(), 1e-12) for p in planes], axis=0))
            control[m] = score_method(hs, masks, args.tolerance)

    name = args.pretrained or "hsta-tiny"
    print(f"{name} ({special}) on SynthME {data}: {len(train_idx) or 'other subjects for'} training clips, "
          f"{len(test_idx)} held-out clips scored "
          f"(subjects {sorted({ds.index.clips[i].subject for i in test_idx})}); held-out accuracy {acc:.3f}")
    print(score_table(scores))
    print(f"{'(|apex - onset|)' if special == 'frames' else '(|flow|)':<22} {reference['mass_share']:>10.3f} {reference['chance']:>7.3f} "
          f"{reference['mass_share'] / reference['chance']:>8.2f} {reference['pointing_game']:>9.3f} "
          f"{reference['pointing_chance']:>7.3f}   <- model-free reference, not an explanation")
    for m, c in control.items():
        short = {"integrated_gradients": "IG"}.get(m, m)
        print(f"{short + ' (untrained)':<22} {c['mass_share']:>10.3f} {c['chance']:>7.3f} "
              f"{c['mass_share'] / c['chance']:>8.2f} {c['pointing_game']:>9.3f} {c['pointing_chance']:>7.3f}"
              f"   <- same method, random weights (control)")
    print(f"total {time.time() - t_start:.0f} s")
    if args.json:
        print(json.dumps(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
