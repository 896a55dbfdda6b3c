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

from pathlib import Path

from ...errors import AnnotationError, DataError
from ..clip import Clip, DatasetIndex
from ..labels import get_scheme
from .frames import ANY_NUMBERED, FrameFolders, check_phases, clip_frames
from .rows import LeftOut, RowLog, UnsafePathError, display
from .sheets import cell_int, cell_text, path_component, read_table

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
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    path = Path(csv) if csv is not None else root / CSV_NAME
    label_scheme = get_scheme("folder", scheme, tuple(classes) if classes else None)
    table, warning = read_table(path, REQUIRED, sheet=None, header_row=1)
    log = RowLog(path.name, strict=strict)
    if warning:
        log.warn(warning)
    folders = FrameFolders(root, ANY_NUMBERED, root=root)
    file = path.name
    clips: list[Clip] = []
    for row, rec in table.rows:
        def make(row=row, rec=rec) -> Clip:
            subject = path_component(rec.get("subject"), column="subject", file=file, row=row)
            clip_id = path_component(rec.get("clip"), column="clip", file=file, row=row)
            parts = _folder_parts(rec["folder"], file=file, row=row) if cell_text(rec.get("folder")) \
                else (subject, clip_id)
            label = label_scheme.assign(rec.get("label"), column="label", file=file, row=row)
            if label is None:
                raise LeftOut(f"label {cell_text(rec.get('label'))!r} is not in scheme {label_scheme.name!r}")
            folder = folders.folder(*parts)
            files = folders.files(folder)
            numbers = sorted(files)

            def number(col: str, default: int) -> int:
                return cell_int(rec.get(col), column=col, file=file, row=row) if cell_text(rec.get(col)) \
                    else default
            onset = number("onset", numbers[0])
            offset = number("offset", numbers[-1])
            inside = [n for n in numbers if onset <= n <= offset] or numbers
            apex = number("apex", inside[len(inside) // 2])
            check_phases(onset, apex, offset, file=file, row=row, min_frame=0)
            paths, nums, missing = clip_frames(files, onset, apex, offset, folder=folder, root=root)
            meta = {"row": row, "folder": display(folder, root)}
            if missing:
                meta["missing_frames"] = missing
                log.warn(f"{subject}/{clip_id}: {len(missing)} frames missing inside {onset}..{offset}; kept")
            return Clip(name, subject, clip_id, paths, nums, onset, apex, offset, label,
                        emotion=cell_text(rec.get("emotion")), aus=cell_text(rec.get("aus")), meta=meta)

        guess = f"{cell_text(rec.get('subject'))}/{cell_text(rec.get('clip'))}"
        clip = log.attempt(row, guess, make)
        if clip is not None and log.accept_unique(clip, row):
            clips.append(clip)
    out_classes = list(label_scheme.classes) or sorted({c.label for c in clips})
    return DatasetIndex(name, clips, out_classes, log.dropped, root, warnings=log.warnings,
                        meta={"scheme": label_scheme.name, "scheme_rule": label_scheme.describe(), "annotation": str(path)})
