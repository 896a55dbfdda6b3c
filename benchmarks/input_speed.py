"""Input pipeline against model time: what share of a training step goes into feeding the model.

    python benchmarks/input_speed.py [--data data_samples] [--batch 16] [--repeats 5] [--threads 1] [--json]

The training loader exactly as `train` builds it (the in-memory uint8 clips of `MERDataset`, the
train view: temporal jitter, flip, shift, photometric jitter, onset differences; class-balanced
sampling; ``num_workers=0``) is iterated alone for one epoch's batches, and the model step
(hsta-tiny forward + backward + AdamW step) is timed on one such batch, ``--repeats`` times each
after a warm-up. Reported: median (min-max) seconds per step of each, and the input share
input / (input + model). Issue 15's target: at most 20 % for hsta-tiny.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import hsta_edu
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.torch_data import MERDataset, balanced_sampler
from hsta_edu.training import recipe

ROOT = Path(__file__).resolve().parents[1]


def per_step(fn, steps: int, repeats: int) -> list[float]:
    fn()   # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) / steps)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data_samples")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    index = load_dataset(args.data, scheme="megc3")
    model = hsta_edu.create_model("hsta-tiny", num_classes=len(index.classes))
    data = MERDataset(index, PrepConfig.for_model(model)).preload(progress=False).train_view()
    generator = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, sampler=balanced_sampler(data.labels, generator),
                                         generator=generator, num_workers=0)
    steps = len(loader)

    def feed():
        for _ in loader:
            pass

    video, special, label = next(iter(loader))
    cfg = recipe("fast")
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()

    def step_once():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(video, special), label).backward()
        optimizer.step()

    def model_steps():
        for _ in range(steps):
            step_once()

    t_in = per_step(feed, steps, args.repeats)
    t_model = per_step(model_steps, steps, args.repeats)
    m_in, m_model = statistics.median(t_in), statistics.median(t_model)
    share = m_in / (m_in + m_model)
    print(f"{len(data)} clips, batch {args.batch} ({steps} steps an epoch), {args.threads} thread(s), "
          f"{args.repeats} repeats")
    print(f"input per step: {1e3 * m_in:.1f} ms (min {1e3 * min(t_in):.1f}, max {1e3 * max(t_in):.1f})")
    print(f"model per step: {1e3 * m_model:.1f} ms (min {1e3 * min(t_model):.1f}, max {1e3 * max(t_model):.1f})")
    print(f"input share of a step: {share:.1%} (target: at most 20 %)")
    if args.json:
        print(json.dumps({"input_s": t_in, "model_s": t_model, "share": share, "batch": args.batch,
                          "threads": args.threads, "clips": len(data)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
