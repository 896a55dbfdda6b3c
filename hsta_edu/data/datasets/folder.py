"""Your own data: a folder of frame folders plus one CSV.

Layout::

    my_data/
      annotations.csv
      alice/clip01/frame_0001.png, frame_0002.png, ...   (any image; number = trailing digits)
      bob/take3/000120.jpg, ...

``annotations.csv`` (UTF-8, header row, one row per clip):

======== ======== ===========================================================
column   needed   meaning
======== ======== ===========================================================
subject  yes      subject id (the LOSO group); text
clip     yes      clip id, unique per subject; text
label    yes      class name (``native``), an emotion word (``megc3``) or I-VII/1-7 (``objective``)
onset    no       frame number of the onset (blank: first frame)
apex     no       frame number of the apex (blank: middle frame)
offset   no       frame number of the offset (blank: last frame)
folder   no       frame folder relative to the dataset folder (default ``subject/clip``)
aus      no       action units, kept as text
emotion  no       free text kept with the clip
======== ======== ===========================================================

Frame numbers are those in the file names (they need not start at 1). Paths may not
leave the dataset folder. Rows are kept or dropped as in the corpus loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ...errors import AnnotationError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, get_scheme
from .frames import ANY_NUMBERED, FrameFolders, check_phases
from .rows import Candidate, RowLog, UnsafePathError, assign_label, dataset_root, display
from .sheets import cell_int, cell_text, path_component

CSV_NAME = "annotations.csv"
REQUIRED = ("subject", "clip", "label")


def _folder_parts(value: object, *, file: str, row: int) -> tuple[str, ...]:
    text = cell_text(value).replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePathError("absolute frame folder; give it relative to the dataset folder", file=file,
                              row=row, column="folder", value=value)
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if not parts:
        raise AnnotationError("empty frame folder", file=file, row=row, column="folder", value=value)
    return tuple(path_component(p, column="folder", file=file, row=row) for p in parts)


def load_folder(root: str | Path, scheme: str = "native", *, csv: str | Path | None = None,
                classes: list[str] | None = None, strict: bool = False, name: str = "folder") -> DatasetIndex:
    """Index a user's folder described by ``annotations.csv`` (see the module doc for the columns)."""
    root = dataset_root(root, "dataset")
    path = Path(csv) if csv is not None else root / CSV_NAME
    label_scheme = get_scheme("folder", scheme, tuple(classes) if classes else None)
    log = RowLog(path.name, strict=strict)
    table = log.read(path, REQUIRED, sheet=None, header_row=1)
    rules = _Rows(name, path.name, label_scheme, FrameFolders(root, ANY_NUMBERED, root=root), log)
    clips = log.collect(Candidate(row, f"{cell_text(rec.get('subject'))}/{cell_text(rec.get('clip'))}",
                                  partial(rules.clip, row, rec)) for row, rec in table.rows)
    return log.index(name, clips, label_scheme, root, annotation=str(path))


@dataclass(frozen=True)
class _Rows:
    """The rules for one row of annotations.csv: blank onset/apex/offset taken from the frames found."""
    name: str
    file: str
    scheme: LabelScheme
    folders: FrameFolders
    log: RowLog

    def clip(self, row: int, rec: dict) -> Clip:
        file = self.file
        subject = path_component(rec.get("subject"), column="subject", file=file, row=row)
        clip_id = path_component(rec.get("clip"), column="clip", file=file, row=row)
        parts = _folder_parts(rec["folder"], file=file, row=row) if cell_text(rec.get("folder")) \
            else (subject, clip_id)
        label = assign_label(self.scheme, rec.get("label"), column="label", file=file, row=row)
        folder = self.folders.folder(*parts)
        numbers = sorted(self.folders.files(folder))

        def number(col: str, default: int) -> int:
            return cell_int(rec.get(col), column=col, file=file, row=row) if cell_text(rec.get(col)) \
                else default
        onset = number("onset", numbers[0])
        offset = number("offset", numbers[-1])
        inside = [n for n in numbers if onset <= n <= offset] or numbers
        apex = number("apex", inside[len(inside) // 2])
        check_phases(onset, apex, offset, file=file, row=row, min_frame=0)
        paths, nums, missing = self.folders.frames(folder, onset, apex, offset)
        meta = {"row": row, "folder": display(folder, self.folders.root)}
        self.log.gaps(meta, missing, f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset}; "
                                     f"kept")
        return self.log.checked(Clip(self.name, subject, clip_id, paths, nums, onset, apex, offset, label,
                                     emotion=cell_text(rec.get("emotion")), aus=cell_text(rec.get("aus")),
                                     meta=meta), row=row)
