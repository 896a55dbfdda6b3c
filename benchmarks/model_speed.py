"""Model speed: forward and forward+backward time of hsta-base and hsta-tiny, FLOPs per clip
(torch.utils.flop_counter) and achieved FLOP/s as a ratio of this machine's dense float32
matmul throughput, measured in the same run. Runs on the CPU, and on the GPU when present.

    python benchmarks/model_speed.py [--json] [--repeats 5] [--devices cpu,cuda]

Every time is measured ``--repeats`` times (at least 5) after two warm-up calls and reported as
min / median / max; ratios use the medians. The matmul reference is measured twice: a square
2048 x 2048 product, and **the model's own GEMM shapes** (every linear layer's (tokens x in) @
(in x out) product of one forward pass, timed with the same repeats), so a ratio below 1 says how
far the model is from what these very matrix products can reach on this machine.
The reference model reaches about 0.71-0.76 of the square matmul throughput on the development CPUs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from hsta_edu import create_model

BATCH = {"hsta-base": 2, "hsta-tiny": 32}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timings(fn, device, repeats: int, warmup: int = 2) -> list[float]:
    """Seconds per call of ``fn``: ``repeats`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict:
    return {"min": min(times), "median": statistics.median(times), "max": max(times)}


def matmul_flops_per_s(device: torch.device, repeats: int, n: int = 2048) -> dict:
    """Dense float32 square matmul throughput in FLOP/s (min / median / max over ``repeats``)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    inner = 4 if device.type == "cpu" else 50

    def run():
        for _ in range(inner):
            torch.mm(a, b)

    t = summary(timings(run, device, repeats))
    work = inner * 2 * n**3
    return {"median": work / t["median"], "max": work / t["min"], "min": work / t["max"]}


def gemm_shapes(model: torch.nn.Module, video: torch.Tensor, special: torch.Tensor) -> list[tuple[int, int, int]]:
    """(M, K, N) of every nn.Linear product in one forward pass (M = tokens x batch)."""
    shapes = []

    def hook(module, inputs, output):
        x = inputs[0]
        shapes.append((x.numel() // x.shape[-1], module.in_features, module.out_features))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        model(video, special)
    for h in handles:
        h.remove()
    return shapes


def model_gemm_flops_per_s(shapes: list[tuple[int, int, int]], device: torch.device, repeats: int) -> dict:
    """Throughput of exactly the model's GEMMs, run back to back (min / median / max), in FLOP/s."""
    mats = [(torch.randn(m, k, device=device), torch.randn(k, n, device=device)) for m, k, n in shapes]

    def run():
        for a, b in mats:
            torch.mm(a, b)

    t = summary(timings(run, device, repeats))
    work = sum(2 * m * k * n for m, k, n in shapes)
    return {"median": work / t["median"], "max": work / t["min"], "min": work / t["max"]}


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
    shapes = gemm_shapes(model, video, special)
    t_fwd = summary(timings(fwd, device, repeats))
    model.train()
    f_fb = count_flops(fwd_bwd_explicit)
    t_fb = summary(timings(fwd_bwd, device, repeats))
    return {"model": name, "device": device.type, "batch": batch, "repeats": repeats, "gemm_shapes": shapes,
            "gflop_fwd_per_clip": f_fwd / batch / 1e9, "gflop_fwd_bwd_per_clip": f_fb / batch / 1e9,
            "ms_fwd_per_clip": {k: 1e3 * v / batch for k, v in t_fwd.items()},
            "ms_fwd_bwd_per_clip": {k: 1e3 * v / batch for k, v in t_fb.items()},
            "gflops_fwd": f_fwd / t_fwd["median"] / 1e9, "gflops_fwd_bwd": f_fb / t_fb["median"] / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="hsta-base,hsta-tiny")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5 (min / median / max of fewer says little)")
    rows = []
    for dev in args.devices.split(","):
        device = torch.device(dev)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        for name in args.models.split(","):
            # the square matmul right before and after the model (the higher median is the reference:
            # a load spike during one of them cannot inflate the ratio), the model's own GEMMs after it
            before = matmul_flops_per_s(device, args.repeats)
            row = measure(name, device, args.repeats)
            after = matmul_flops_per_s(device, args.repeats)
            gemm = model_gemm_flops_per_s(row.pop("gemm_shapes"), device, args.repeats)
            peak = max(before["median"], after["median"])
            row.update(matmul_gflops=peak / 1e9, matmul_gflops_before=before["median"] / 1e9,
                       matmul_gflops_after=after["median"] / 1e9, model_gemm_gflops=gemm["median"] / 1e9,
                       model_gemm_gflops_range=(gemm["min"] / 1e9, gemm["max"] / 1e9))
            row["ratio_fwd"] = row["gflops_fwd"] * 1e9 / peak
            row["ratio_fwd_bwd"] = row["gflops_fwd_bwd"] * 1e9 / peak
            row["ratio_fwd_gemm"] = row["gflops_fwd"] * 1e9 / gemm["median"]
            row["ratio_fwd_bwd_gemm"] = row["gflops_fwd_bwd"] * 1e9 / gemm["median"]
            rows.append(row)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {args.repeats} timed repeats "
          "after 2 warm-ups; ms are min / median / max, ratios use medians")
    print(f"{'model':10} {'dev':4} {'B':>3} {'GFLOP fwd':>9} {'GFLOP f+b':>9} {'ms/clip fwd':>20} "
          f"{'ms/clip f+b':>20} {'GF/s fwd':>8} {'GF/s f+b':>8} {'matmul':>7} {'gemm':>7} "
          f"{'ratio fwd / f+b (square)':>25} {'(model GEMMs)':>14}")
    for r in rows:
        f, b = r["ms_fwd_per_clip"], r["ms_fwd_bwd_per_clip"]
        print(f"{r['model']:10} {r['device']:4} {r['batch']:3d} {r['gflop_fwd_per_clip']:9.2f} "
              f"{r['gflop_fwd_bwd_per_clip']:9.2f} {f['min']:6.1f}/{f['median']:6.1f}/{f['max']:6.1f} "
              f"{b['min']:6.1f}/{b['median']:6.1f}/{b['max']:6.1f} {r['gflops_fwd']:8.1f} {r['gflops_fwd_bwd']:8.1f} "
              f"{r['matmul_gflops']:7.1f} {r['model_gemm_gflops']:7.1f} "
              f"{r['ratio_fwd']:12.2f} / {r['ratio_fwd_bwd']:.2f}{'':6} {r['ratio_fwd_gemm']:6.2f} / "
              f"{r['ratio_fwd_bwd_gemm']:.2f}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
