"""Progress bars that suit where the output goes: a live tqdm bar on a terminal, and no bar
fragments in a log file or a pipe, where a loop that keeps its bar (``leave=True``) prints one
plain line when it ends (``preprocessing: 24 clips in 3 s``) and a nested one prints nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

__all__ = ["Progress", "progress_bar", "is_terminal"]


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


class Progress:
    """The package's one progress display. On a terminal (or in Jupyter) it is a live tqdm bar; in a
    log file or a pipe it prints no bar fragments: one plain line at the end when ``leave``
    (``preprocessing: 24 clips in 3 s``), or, with ``item_lines``, one line per finished item
    (``[2/12] fold s03: 41 s (elapsed 80 s)``, the text given last to `set_postfix_str`). A nested
    loop passes ``leave=False`` and prints nothing there. ``enabled=False``: nothing at all."""

    # many parameters: tqdm's own keyword-only options, mirrored for the line display
    def __init__(self, iterable: Iterable | None = None, *, desc: str = "", enabled: bool = True,
                 total: int | None = None, unit: str = "it", leave: bool = True, initial: int = 0,
                 item_lines: bool = False, stream: TextIO | None = None, **tqdm_kwargs: Any) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.iterable, self.desc, self.unit, self.leave, self.enabled = iterable, desc, unit, leave, enabled
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.item_lines, self.n, self.t0, self.closed, self.postfix = item_lines, initial, time.time(), False, ""
        self.live = enabled and is_terminal(self.stream)
        self.bar = None
        if self.live:
            from tqdm.auto import tqdm
            self.bar = tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, file=self.stream,
                            initial=initial, **tqdm_kwargs)

    def __iter__(self) -> Iterator:
        if self.bar is not None:
            yield from self.bar
            return
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __len__(self) -> int:
        return self.total or 0

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)
            return
        self.n += n
        if self.enabled and self.item_lines:
            print(f"[{self.n}/{self.total}] {self.postfix} (elapsed {time.time() - self.t0:.0f} s)",
                  file=self.stream, flush=True)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(*args, **kwargs)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def write(self, text: str) -> None:
        """A line of information (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.leave and self.n and not self.item_lines:
            print(f"{self.desc}: {self.n} {self.unit}{'s' * (self.n != 1)} in {time.time() - self.t0:.1f} s",
                  file=self.stream, flush=True)


def progress_bar(iterable: Iterable | None = None, **kwargs: Any) -> Progress:
    """`Progress` over ``iterable`` (keyword arguments as `Progress` takes them)."""
    return Progress(iterable, **kwargs)
