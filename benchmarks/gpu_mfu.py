"""Training-step throughput as a fraction of the GPU's dense bf16 peak (MFU), torch.compile off and on.

    python benchmarks/gpu_mfu.py [--preset hsta-base] [--batch 16] [--steps 20] [--compile off,on]
                                 [--peak-tflops X] [--device cuda] [--json]

One training step as `hsta_edu.training.loop` runs it on a GPU: bf16 autocast, forward, cross-entropy,
backward, AdamW (fused on CUDA). Each setting is timed over ``--steps`` steps after ``--warmup``
steps (compilation happens there), ``--repeats`` times, and reported as min / median / max
seconds per step. FLOPs per step are counted with `torch.utils.flop_counter` on the explicit
attention path (the fused kernel's arithmetic is the same; the counter cannot see inside it), for
forward + backward, as `model_speed.py` counts them: the optimiser's few elementwise FLOPs are not
counted, as MFU conventionally does not. MFU = counted FLOPs / median step time / dense bf16 peak.
The peak is looked up by the GPU's name (vendor datasheets, dense, no sparsity) or given with
``--peak-tflops``. Issue 15's aim: MFU >= 0.40 for hsta-base, recorded in the README with the GPU.
On a CPU (``--device cpu``, a smoke run) the peak must be given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from model_speed import count_flops, sync  # the script's own folder: run it as a file, like the others

from hsta_edu import create_model

#: Dense bf16 tensor-core peak in TFLOP/s, from the vendors' datasheets (SXM parts where both exist).
PEAK_BF16_TFLOPS = {"H200 NVL": 835.5, "H200": 989.4, "H100 NVL": 835.5, "H100 PCIe": 756.0, "H100": 989.4,
                    "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0}


def peak_for(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():   # longest names first where one contains another
        if key in name:
            return value
    return None


def step_fn(model, optimizer, video, special, target, device):
    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(video, special)
        torch.nn.functional.cross_entropy(logits.float(), target).backward()
        optimizer.step()
    return step


def measure(preset: str, batch: int, compiled: bool, device: torch.device, steps: int, warmup: int,
            repeats: int) -> dict:
    torch.manual_seed(0)
    model = create_model(preset, num_classes=3).to(device).train()
    model.check_inputs = False
    video = torch.randn(batch, *model.input_shape("video"), device=device)
    special = torch.randn(batch, *model.input_shape("special"), device=device)
    target = torch.randint(0, 3, (batch,), device=device)

    def fwd_bwd_explicit() -> None:   # what the FLOP counter can see into
        model(video, special, return_attention=True)[0].sum().backward()
    flops = count_flops(fwd_bwd_explicit)
    model.zero_grad(set_to_none=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)
    forward = torch.compile(model) if compiled else model
    step = step_fn(forward, optimizer, video, special, target, device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(device)
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        times.append((time.perf_counter() - t) / steps)
    median = statistics.median(times)
    return {"preset": preset, "batch": batch, "compile": compiled, "device": str(device),
            "warmup_s": warm, "step_s": {"min": min(times), "median": median, "max": max(times)},
            "gflop_per_step": flops / 1e9, "tflops": flops / median / 1e12}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="hsta-base")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", default="off,on", help="off, on or off,on")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_mfu.py: no CUDA device here (a CPU smoke run: --device cpu --peak-tflops X)")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops or peak_for(name)
    if peak is None:
        raise SystemExit(f"gpu_mfu.py: no dense bf16 peak known for {name!r}; give --peak-tflops")
    rows = []
    for mode in args.compile.split(","):
        if mode not in ("off", "on"):
            raise SystemExit(f"gpu_mfu.py: --compile {mode!r}: use off, on or off,on")
        row = measure(args.preset, args.batch, mode == "on", device, args.steps, args.warmup, args.repeats)
        row.update(gpu=name, peak_tflops=peak, mfu=row["tflops"] / peak)
        s = row["step_s"]
        print(f"{name} {args.preset} batch {args.batch} compile {mode}: step {s['min'] * 1e3:.1f}/"
              f"{s['median'] * 1e3:.1f}/{s['max'] * 1e3:.1f} ms (min/median/max), {row['tflops']:.1f} TFLOP/s, "
              f"MFU {row['mfu']:.3f} of {peak:g} TFLOP/s (warm-up {row['warmup_s']:.1f} s)", flush=True)
        rows.append(row)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
