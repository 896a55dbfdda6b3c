"""The `Clip` record: one annotated micro-expression sample, whatever corpus it came from.

Loaders turn annotation files into `Clip`s (and a report of every row they dropped);
preprocessing turns `Clip`s into tensors. Frame numbers are the corpus's own
(often absolute, not starting at 1); `frames[i]` is the file of `frame_numbers[i]`.
`require_classes` is the check every training and evaluation entry point makes: data of a
single class cannot train or score a classifier.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

DROPPED_COLUMNS = ("source", "row", "clip", "reason")


@dataclass(frozen=True)
class Clip:
    dataset: str                      # "casme2", "samm", "smic-hs", "casme3", "synthme", "folder", ...
    subject: str                      # namespaced-free subject id as the corpus writes it, normalised ("sub01", "006", "s01")
    clip_id: str                      # e.g. "EP02_01f"
    frames: tuple[Path, ...]          # frame files sorted by frame number
    frame_numbers: tuple[int, ...]    # the corpus's frame number of each file
    onset: int                        # frame number of the onset
    apex: int                         # frame number of the apex (middle frame where the corpus has none)
    offset: int                       # frame number of the offset
    label: str                        # class name under the loader's label scheme (e.g. "negative")
    emotion: str = ""                 # the corpus's native emotion text, as written
    aus: str = ""                     # action units as written (e.g. "4+L10")
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def uid(self) -> str:
        """Unique id across corpora: dataset/subject/clip_id."""
        return f"{self.dataset}/{self.subject}/{self.clip_id}"

    @property
    def group(self) -> str:
        """Subject id namespaced by dataset: the LOSO group (composite subjects never collide)."""
        return f"{self.dataset}/{self.subject}"

    def frame_path(self, number: int) -> Path:
        """The file of frame ``number`` (a corpus frame number)."""
        try:
            return self.frames[self.frame_numbers.index(number)]
        except ValueError:
            raise KeyError(f"{self.uid}: no frame number {number} "
                           f"(have {self.frame_numbers[0]}..{self.frame_numbers[-1]})") from None


@dataclass(frozen=True)
class DroppedRow:
    """One annotation row a loader did not turn into a clip, and why."""
    source: str                # annotation file (or folder) it came from
    row: int | None            # 1-based spreadsheet row (header rows counted) or None
    clip: str | None           # subject/clip id if known
    reason: str


@dataclass
class DatasetIndex:
    """What a loader returns: the clips, the class names in label-index order, and the dropped rows."""
    name: str
    clips: list[Clip]
    classes: list[str]
    dropped: list[DroppedRow] = field(default_factory=list)
    root: Path | None = None
    warnings: list[str] = field(default_factory=list)   # kept clips with something to know (gaps in frames, ...)
    meta: dict[str, Any] = field(default_factory=dict)  # loader facts (scheme, files read, SynthME marker, ...)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def labels(self) -> list[int]:
        """Label index of every clip, in `classes` order."""
        pos = {c: i for i, c in enumerate(self.classes)}
        return [pos[c.label] for c in self.clips]

    @property
    def groups(self) -> list[str]:
        """LOSO group (dataset/subject) of every clip."""
        return [c.group for c in self.clips]

    def class_counts(self) -> dict[str, int]:
        counts = {c: 0 for c in self.classes}
        for clip in self.clips:
            counts[clip.label] += 1
        return counts

    def dropped_report(self) -> str:
        """Human-readable list of dropped rows (empty string if none)."""
        return "\n".join(
            f"{d.source}:{d.row if d.row is not None else '-'} {d.clip or ''}: {d.reason}" for d in self.dropped)

    def dropped_csv(self) -> str:
        """Every dropped row as CSV text: header ``source,row,clip,reason``, then one line per drop
        (row and clip empty where unknown; cells holding commas, quotes or newlines quoted)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(DROPPED_COLUMNS)
        writer.writerows((d.source, "" if d.row is None else d.row, d.clip or "", d.reason) for d in self.dropped)
        return buf.getvalue()

    def to_dropped_csv(self, path: str | Path) -> Path:
        """`dropped_csv` written atomically to ``path`` (a header only when nothing was dropped)."""
        from ..io import atomic_write_text  # hsta_edu.io imports torch: only when writing
        return atomic_write_text(path, self.dropped_csv())

    def counts_by_dataset(self) -> dict[str, dict[str, int]]:
        """Class counts per source corpus (the composite's per-dataset breakdown)."""
        out: dict[str, dict[str, int]] = {}
        for clip in self.clips:
            row = out.setdefault(clip.dataset, {c: 0 for c in self.classes})
            row[clip.label] += 1
        return out

    def scheme_rule(self) -> str | None:
        """The label scheme's rule in words (from the loader), or None when unknown."""
        rule = self.meta.get("scheme_rule")
        if rule is None and self.meta.get("scheme"):
            from ..errors import ConfigError
            from .labels import get_scheme
            try:
                rule = get_scheme(self.name, self.meta["scheme"], tuple(self.classes)).describe()
            except ConfigError:
                rule = None
        return rule

    def summary(self) -> str:
        """Clips, subjects and class counts, the scheme and its rule, drops (and per-corpus counts)."""
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts().items())
        n_subj = len(set(self.groups))
        lines = [f"{self.name}: {len(self.clips)} clips from {n_subj} subjects ({counts}); "
                 f"{len(self.dropped)} rows dropped"]
        scheme, rule = self.meta.get("scheme"), self.scheme_rule()
        if scheme:
            lines.append(f"  scheme {scheme}: {rule}" if rule and "\n" not in rule else f"  scheme {scheme}:")
            if rule and "\n" in rule:
                lines.extend(f"    {r}" for r in rule.splitlines())
        datasets = self.counts_by_dataset()
        if len(datasets) > 1:
            for name, c in datasets.items():
                n_sub = len({clip.subject for clip in self.clips if clip.dataset == name})
                lines.append(f"  {name}: {sum(c.values())} clips from {n_sub} subjects ("
                             + ", ".join(f"{k} {v}" for k, v in c.items()) + ")")
        return "\n".join(lines)


def require_classes(data: Any, *, what: str = "training data") -> None:
    """DataError naming the class and the count when every clip of ``data`` is of one class
    (``what`` starts the message: the data's name or role).

    ``data``: a `DatasetIndex`, or a dataset that `hsta_edu.data.labelled.dataset_info` reads (a
    `LabelledDataset` such as `MERDataset`, a torch ``Subset`` of one, a ``TensorDataset``). A
    ``Subset`` (one fold's training clips) passes when the dataset it is taken from holds two
    classes or more: a fold lacking a class is only a `MissingClassWarning`. Empty data passes (it
    is reported as empty where it is used).
    """
    if isinstance(data, DatasetIndex):
        classes, names = list(data.classes), [c.label for c in data.clips]
    else:
        from torch.utils.data import Subset  # torch only for datasets: a DatasetIndex check stays light

        from .labelled import dataset_info
        info = dataset_info(data)
        classes = info.classes
        names = [classes[i] if 0 <= i < len(classes) else str(i) for i in map(int, info.labels)]
        base = data
        while isinstance(base, Subset):
            base = base.dataset
        if base is not data and len(set(names)) < 2 and len(set(map(int, dataset_info(base).labels))) >= 2:
            return
    present = Counter(names)
    if len(present) != 1:
        return
    (name, count), = present.items()
    others = [c for c in classes if c != name]
    raise DataError(f"{what}: all {count} clips are of class {name!r}"
                    + (f" (no clip of {', '.join(map(repr, others))})" if others else "")
                    + "; training and evaluation need clips of at least two classes")
