"""One fold on several GPUs (or CPU processes): `train` under ``torchrun`` with DistributedDataParallel.

``torchrun --nproc_per_node 2 -m hsta_edu.cli train ...`` (or any script that calls `train`) starts
one process per device; each finds ``WORLD_SIZE`` > 1 in its environment and `context` joins the
process group (NCCL on GPUs, gloo on CPUs). `train` then

- wraps the model in `torch.nn.parallel.DistributedDataParallel` (gradients averaged over ranks);
- keeps **one** global sample order: every rank draws the same class-balanced sequence from the same
  seeded generator, cuts it into global batches of ``TrainConfig.batch_size`` and takes its own
  slice of each (`RankBatches`), so the global batch, the balanced sampling and the number of steps
  are those of a single process;
- writes checkpoints from rank 0 only (the others wait at a barrier) and resumes on every rank
  from the same file.

A global batch must split evenly: ``batch_size`` is a multiple of the world size, and the last,
partial batch of an epoch keeps only a multiple of it (the few clips left over are dropped that
epoch). With that, a run on 2 processes equals a single-process run with the same global batch up
to float rounding, as long as nothing else draws random numbers per sample (augmentation, dropout,
drop path draw from each rank's own stream).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from ..errors import ConfigError

__all__ = ["DistContext", "context", "RankBatches", "barrier", "gather_epoch"]


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context(device_type: str = "cpu") -> DistContext:
    """This process's place in a ``torchrun`` job (joining the process group on first use); a
    plain single-process context when ``WORLD_SIZE`` is unset or 1."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistContext(rank=dist.get_rank(), world=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")))


class RankBatches(Sampler[list[int]]):
    """Global batches of ``batch_size`` drawn from ``sampler`` (the same on every rank), of which
    this rank yields its slice ``batch[rank::world]``; a partial last batch keeps a multiple of the
    world size (none if fewer clips than ranks are left)."""

    def __init__(self, sampler: Sampler[int], batch_size: int, ctx: DistContext) -> None:
        if batch_size % ctx.world:
            raise ConfigError(f"batch_size={batch_size} must be a multiple of the {ctx.world} processes "
                              "(it is the global batch, split evenly over them)")
        self.sampler, self.batch_size, self.ctx = sampler, batch_size, ctx

    def _global(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        keep = len(batch) - len(batch) % self.ctx.world
        if keep:
            yield batch[:keep]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._global():
            yield batch[self.ctx.rank::self.ctx.world]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size + (1 if n % self.batch_size >= self.ctx.world else 0)


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        import torch.distributed as dist
        dist.barrier()


def gather_epoch(ctx: DistContext, total_loss: float, n_seen: int, preds: np.ndarray, trues: np.ndarray,
                 ) -> tuple[float, int, np.ndarray, np.ndarray]:
    """An epoch's loss sum, clip count and predictions summed / joined over all ranks."""
    if not ctx.active:
        return total_loss, n_seen, preds, trues
    import torch.distributed as dist

    sums = torch.tensor([total_loss, float(n_seen)], dtype=torch.float64)
    dist.all_reduce(sums)
    parts: list[Any] = [None] * ctx.world
    dist.all_gather_object(parts, (preds, trues))
    return (float(sums[0]), int(sums[1]), np.concatenate([p for p, _ in parts]),
            np.concatenate([t for _, t in parts]))


def wrap(model: torch.nn.Module, device: torch.device, ctx: DistContext) -> torch.nn.Module:
    """``model`` in DistributedDataParallel (its parameters broadcast from rank 0), or as it is."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids: Sequence[int] | None = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
