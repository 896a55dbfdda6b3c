"""Model speed: forward and forward+backward time of hsta-base and hsta-tiny, FLOPs per clip
(torch.utils.flop_counter) and achieved FLOP/s as a ratio of this machine's dense float32
matmul throughput, measured in the same run. Runs on the CPU, and on the GPU when present.

    python benchmarks/model_speed.py [--json] [--repeats 3] [--devices cpu,cuda]

The reference model reaches about 0.71-0.76 of the matmul throughput on the development CPUs.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from hsta_edu import create_model

BATCH = {"hsta-base": 2, "hsta-tiny": 32}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeats: int) -> float:
    fn()  # warm-up
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_flops_per_s(device: torch.device, repeats: int, n: int = 2048) -> float:
    """Dense float32 matmul throughput (best of ``repeats``), in FLOP/s."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    inner = 4 if device.type == "cpu" else 50

    def run():
        for _ in range(inner):
            torch.mm(a, b)

    return inner * 2 * n**3 / best_time(run, device, repeats)


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def measure(name: str, device: torch.device, repeats: int) -> dict:
    model = create_model(name, num_classes=7).to(device)
    model.check_inputs = False
    batch = BATCH[name] if device.type == "cpu" else 4 * BATCH[name]
    video = torch.randn(batch, *model.input_shape("video"), device=device)
    special = torch.randn(batch, *model.input_shape("special"), device=device)

    def fwd():
        with torch.no_grad():
            model(video, special)

    def fwd_bwd():
        model.zero_grad(set_to_none=True)
        model(video, special).sum().backward()

    # FlopCounterMode does not see inside the CPU fused attention kernel, so FLOPs are counted on
    # the explicit path (the same arithmetic: q k^T, softmax, attn v), timings on the fused one.
    def fwd_explicit():
        with torch.no_grad():
            model(video, special, return_attention=True)

    def fwd_bwd_explicit():
        model.zero_grad(set_to_none=True)
        model(video, special, return_attention=True)[0].sum().backward()

    model.eval()
    f_fwd = count_flops(fwd_explicit)
    t_fwd = best_time(fwd, device, repeats)
    model.train()
    f_fb = count_flops(fwd_bwd_explicit)
    t_fb = best_time(fwd_bwd, device, repeats)
    return {"model": name, "device": device.type, "batch": batch,
            "gflop_fwd_per_clip": f_fwd / batch / 1e9, "gflop_fwd_bwd_per_clip": f_fb / batch / 1e9,
            "ms_fwd_per_clip": 1e3 * t_fwd / batch, "ms_fwd_bwd_per_clip": 1e3 * t_fb / batch,
            "gflops_fwd": f_fwd / t_fwd / 1e9, "gflops_fwd_bwd": f_fb / t_fb / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="hsta-base,hsta-tiny")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for dev in args.devices.split(","):
        device = torch.device(dev)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        for name in args.models.split(","):
            # The matmul throughput is measured right before and right after the model, and the
            # higher of the two is the reference: on a shared machine this is the conservative
            # choice (a load spike during one matmul measurement cannot inflate the ratio).
            before = matmul_flops_per_s(device, args.repeats)
            row = measure(name, device, args.repeats)
            after = matmul_flops_per_s(device, args.repeats)
            peak = max(before, after)
            row.update(matmul_gflops=peak / 1e9, matmul_gflops_before=before / 1e9,
                       matmul_gflops_after=after / 1e9)
            row["ratio_fwd"] = row["gflops_fwd"] * 1e9 / peak
            row["ratio_fwd_bwd"] = row["gflops_fwd_bwd"] * 1e9 / peak
            rows.append(row)
    head = (f"{'model':10} {'dev':4} {'B':>3} {'GFLOP fwd':>9} {'GFLOP f+b':>9} {'ms fwd':>8} {'ms f+b':>8} "
            f"{'GFLOP/s fwd':>11} {'GFLOP/s f+b':>11} {'matmul':>8} {'ratio fwd':>9} {'ratio f+b':>9}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(head)
    for r in rows:
        print(f"{r['model']:10} {r['device']:4} {r['batch']:3d} {r['gflop_fwd_per_clip']:9.2f} "
              f"{r['gflop_fwd_bwd_per_clip']:9.2f} {r['ms_fwd_per_clip']:8.1f} {r['ms_fwd_bwd_per_clip']:8.1f} "
              f"{r['gflops_fwd']:11.1f} {r['gflops_fwd_bwd']:11.1f} {r['matmul_gflops']:8.1f} "
              f"{r['ratio_fwd']:9.2f} {r['ratio_fwd_bwd']:9.2f}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
