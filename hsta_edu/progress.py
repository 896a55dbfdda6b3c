"""Progress bars that suit where the output goes: a live tqdm bar on a terminal, and no bar
fragments in a log file or a pipe, where a loop that keeps its bar (``leave=True``) prints one
plain line when it ends (``preprocessing: 24 clips in 3 s``) and a nested one prints nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import torch

__all__ = ["progress_bar", "is_terminal", "legacy_seed_draw"]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where progress goes) is an interactive terminal, or a
    Jupyter kernel's output (where tqdm draws its notebook bar)."""
    stream = sys.stderr if stream is None else stream
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Lines:
    """The stand-in for a bar when the output is not a terminal: counts, and says the total at the end."""

    def __init__(self, iterable: Iterable | None, desc: str, total: int | None, unit: str, leave: bool,
                 enabled: bool, stream: TextIO) -> None:
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.leave, self.enabled, self.stream = leave, enabled, stream
        self.n, self.t0, self.closed = 0, time.time(), False

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.n += 1
        self.close()

    def __len__(self) -> int:
        return self.total or 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write(self, text: str, file: TextIO | None = None) -> None:
        if self.enabled:
            print(text, file=file or self.stream, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.enabled and self.leave and self.n:
            print(f"{self.desc}: {self.n} {self.unit}{'s' * (self.n != 1)} in {time.time() - self.t0:.1f} s",
                  file=self.stream, flush=True)


def progress_bar(iterable: Iterable | None = None, *, desc: str = "", enabled: bool = True, total: int | None = None,
                 unit: str = "it", leave: bool = True, stream: TextIO | None = None, **tqdm_kwargs: Any):
    """A tqdm bar over ``iterable`` on a terminal; elsewhere a silent counter that prints one line at
    the end when ``leave`` (nested bars pass ``leave=False`` and print nothing). ``enabled=False``:
    nothing at all."""
    stream = sys.stderr if stream is None else stream
    if enabled and is_terminal(stream):
        from tqdm.auto import tqdm
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, file=stream, **tqdm_kwargs)
    return _Lines(iterable, desc, total, unit, leave, enabled, stream)


def legacy_seed_draw(generator: torch.Generator | None) -> None:
    """Draw the one number that an unused DataLoader iterator draws for its worker seed. Versions up
    to 0.1.0 wrapped each loader in a tqdm bar whose constructor made such an iterator (tqdm.auto's
    asyncio base calls ``iter()``), so every epoch (from the sampler's generator) and every `predict`
    (from torch's global RNG) drew once more; drawing it here keeps every published figure, notebook
    output and shipped model reproducible bit for bit."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
