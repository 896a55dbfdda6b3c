"""Preprocessing throughput and the cache's effect on epoch time, on a SynthME set.

    python benchmarks/prep_speed.py [--subjects 4] [--img-size 48] [--out docs/results/prep_speed.md]

Measures clips/s of `load_prepared` (decode + face box + crop/resize, no cache) with frames only,
DIS flow and TV-L1 flow; then the time of one pass over a `MERDataset` (DataLoader, batch 32):
first epoch (decode + write the disk cache), a new process-like dataset reading the disk cache, and
later epochs served from memory. Prints the figures and writes them as a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from hsta_edu.data.datasets import load_casme2
from hsta_edu.data.prep import PrepConfig, load_prepared
from hsta_edu.data.synth import BENCHMARK_CONFIG, generate_synthme
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.io import atomic_write_text


def throughput(clips, cfg: PrepConfig, limit: int) -> float:
    clips = clips[:limit]
    t = time.perf_counter()
    for c in clips:
        load_prepared(c, cfg)
    return len(clips) / (time.perf_counter() - t)


def epoch_seconds(ds: MERDataset) -> float:
    t = time.perf_counter()
    for _ in DataLoader(ds, batch_size=32, shuffle=False, num_workers=0):
        pass
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--subjects", type=int, default=4)
    p.add_argument("--img-size", type=int, nargs="+", default=[48, 224])
    p.add_argument("--flow-clips", type=int, default=12, help="clips timed for the flow variants")
    p.add_argument("--out", default="docs/results/prep_speed.md")
    args = p.parse_args()
    torch.set_num_threads(1)   # one data thread; tiny tensors only lose from intra-op threads
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BENCHMARK_CONFIG.replace(n_subjects=args.subjects)
        t = time.perf_counter()
        root = generate_synthme(Path(tmp) / "synthme", cfg, progress=False)
        gen_s = time.perf_counter() - t
        index = load_casme2(root, scheme="megc3")
        n = len(index)
        print(f"SynthME: {n} clips ({cfg.frame_size[0]}x{cfg.frame_size[1]} px, {cfg.fps} fps) "
              f"generated in {gen_s:.1f} s")
        rows = []
        for size in args.img_size:
            base = PrepConfig(img_size=size, num_frames=6, face="haar")
            fr = throughput(index.clips, base, n)
            dis = throughput(index.clips, base.replace(special="flow", flow="dis"), args.flow_clips)
            tvl1 = throughput(index.clips, base.replace(special="flow", flow="tvl1"), args.flow_clips)
            cache = Path(tmp) / f"cache{size}"
            ds = MERDataset(index, base, cache_dir=cache, train=True)
            e1 = epoch_seconds(ds)                     # decode + write cache
            e2 = epoch_seconds(ds)                     # in memory
            e3 = epoch_seconds(MERDataset(index, base, cache_dir=cache, train=True))   # from the disk cache
            no_cache = MERDataset(index, base, train=True, in_memory=False)
            e0 = epoch_seconds(no_cache)               # no cache at all: every epoch decodes
            rows.append((size, fr, dis, tvl1, e0, e1, e3, e2))
            print(f"img {size}: frames {fr:.1f} clips/s, DIS flow {dis:.1f}, TV-L1 flow {tvl1:.2f}; epoch "
                  f"no cache {e0:.2f} s, first (build cache) {e1:.2f} s, disk cache {e3:.2f} s, memory {e2:.3f} s")
    lines = [
        "# Preprocessing speed",
        "",
        f"`python benchmarks/prep_speed.py --subjects {args.subjects}` on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, CPU. SynthME (BENCHMARK_CONFIG, {args.subjects} subjects, "
        f"{n} clips of {cfg.frame_size[0]}x{cfg.frame_size[1]} px at {cfg.fps} fps; generated in {gen_s:.1f} s).",
        "Throughput = decode + Haar face box on the onset frame + crop/resize of the frames a clip needs "
        "(pool of 11 frames for T=6) [+ flow onset->apex]. Epoch = one pass of a `MERDataset` "
        "(train mode, DataLoader batch 32, no workers).",
        "",
        "| img size | frames only (clips/s) | + DIS flow (clips/s) | + TV-L1 flow (clips/s) | epoch, no cache (s) "
        "| epoch 1, building cache (s) | epoch, disk cache (s) | epoch, in memory (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, fr, dis, tvl1, e0, e1, e3, e2 in rows:
        lines.append(f"| {size} | {fr:.1f} | {dis:.1f} | {tvl1:.2f} | {e0:.2f} | {e1:.2f} | {e3:.2f} | {e2:.3f} |")
    lines.append("")
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
