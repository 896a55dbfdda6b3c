"""Reading annotation spreadsheets as distributed, and parsing their cells.

`read_table` opens .xlsx and .xls files (both with pandas' ``calamine`` engine, package
``python-calamine``; pandas deprecates xlrd) or .csv files with every cell kept as stored
(no dtype guessing: a number stored as a number comes back as an int when integral, like
CASME II's ``Subject`` 1, or a float like 1.5; text stays text, '01' included; empty cells
are None), finds the sheet and the header row, and hands back rows numbered as a
spreadsheet program shows them (1-based, header rows counted). A file the reader cannot
open or parse is an `AnnotationError` naming it. The cell parsers accept what real files
hold (ints, floats like 46.0, text like ' 46 ', '/') and raise `AnnotationError` naming
the file, row, column and value for anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import AnnotationError


class UnsafePathError(AnnotationError):
    """An annotation cell that would build a path outside the dataset root ('..', '/', absolute)."""


_INT_RE = re.compile(r"^[+-]?\d+(\.0*)?$")


def column_key(name: object) -> str:
    """Header text reduced for matching: 'Onset Frame', 'OnsetFrame', 'onset_frame' -> 'onsetframe'."""
    return re.sub(r"[\s_]+", "", cell_text(name).lower())


def cell_text(value: object) -> str:
    """A cell as stripped text; '' for empty/None/NaN; integral floats without '.0' (46.0 -> '46')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
    try:
        import numpy as np
        if isinstance(value, np.floating):
            return cell_text(float(value))
        if isinstance(value, np.integer):
            return str(int(value))
    except ImportError:  # pragma: no cover
        pass
    return str(value).replace("\u00a0", " ").strip()


def cell_int(value: object, *, column: str, file: str | None = None, row: int | None = None,
             what: str = "frame number") -> int:
    """An integer cell (46, 46.0, ' 46 ', '046'); AnnotationError naming the cell otherwise."""
    if isinstance(value, bool):
        raise AnnotationError(f"{what} is not an integer", file=file, row=row, column=column, value=value)
    text = cell_text(value)
    if text == "":
        raise AnnotationError(f"{what} is empty", file=file, row=row, column=column)
    if text == "/" or text == "-":
        raise AnnotationError(f"{what} is {text!r} (not annotated)", file=file, row=row, column=column,
                              value=value)
    if not _INT_RE.match(text):
        raise AnnotationError(f"{what} is not an integer", file=file, row=row, column=column, value=value)
    number = int(text.split(".")[0])
    if abs(number) > 10**9:
        raise AnnotationError(f"{what} is implausibly large", file=file, row=row, column=column, value=value)
    return number


def path_component(value: object, *, column: str, file: str | None = None, row: int | None = None) -> str:
    """A cell used as one folder/file name. '..', '.', separators, drive letters or NUL raise `UnsafePathError`."""
    text = cell_text(value)
    if text == "":
        raise AnnotationError("empty cell where a name is needed", file=file, row=row, column=column)
    if (text in (".", "..") or "/" in text or "\\" in text or "\x00" in text
            or re.match(r"^[A-Za-z]:", text) or text.startswith("~")):
        raise UnsafePathError("annotation cell would build a path outside the dataset root "
                              "(only a plain folder or file name is allowed)",
                              file=file, row=row, column=column, value=value)
    return text


def numbered_id(value: object, *, prefix: str, width: int, column: str, file: str | None = None,
                row: int | None = None, accept_prefixes: Sequence[str] = ()) -> str:
    """'1', 1, 1.0, '01', 'sub01' -> prefix + zero-padded number ('sub01')."""
    text = cell_text(value)
    low = text.lower()
    for p in (prefix, *accept_prefixes):
        if p and low.startswith(p.lower()):
            text = text[len(p):].strip()
            break
    if not text.isdigit() or not text.isascii():
        raise AnnotationError("subject is not a subject number", file=file, row=row, column=column,
                              value=value)
    return f"{prefix}{int(text):0{width}d}"


@dataclass
class Table:
    """Rows of one sheet: ``rows`` is a list of (spreadsheet row number, {column key: cell})."""
    path: Path
    sheet: str
    header_row: int                   # 1-based row number of the header
    columns: list[str]                # header texts as found
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)


#: The pandas engine for every spreadsheet (.xlsx, .xlsm, .xls, .xlsb, .ods): python-calamine.
EXCEL_ENGINE = "calamine"


def _reader_failed(exc: BaseException) -> bool:
    """True for an error raised by the spreadsheet reader on a bad file.

    python-calamine raises ``CalamineError`` (and others) for a corrupt or non-Excel file, and
    its Rust core can raise pyo3's ``PanicException``, which derives from BaseException.
    Interrupts and exits are never swallowed, nor a missing python-calamine (ImportError).
    """
    return not isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, ImportError))


def _open_sheets(path: Path):
    import pandas as pd
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return None
    try:
        return pd.ExcelFile(path, engine=EXCEL_ENGINE)
    except BaseException as exc:  # CalamineError, zip/XML errors, pyo3 panics for a bad file
        if not _reader_failed(exc):
            raise
        raise AnnotationError(f"cannot read spreadsheet ({type(exc).__name__}: {exc})", file=str(path)) from exc


def read_table(path: str | Path, columns: Iterable[str], *, sheet: str | int | None = 0,
               header_row: int = 1, search_rows: int = 40) -> tuple[Table, str | None]:
    """Read ``sheet`` of ``path``, find the header row holding all ``columns``, return its rows.

    ``header_row`` is where the corpus puts its header (1-based, e.g. SAMM's 14). If the
    header is found elsewhere the table is still read and a warning text is returned;
    if it is not found in the first ``search_rows`` rows, or the sheet is missing, an
    `AnnotationError` names the file and what was found instead.
    """
    import pandas as pd
    path = Path(path)
    if not path.is_file():
        raise AnnotationError("annotation file not found", file=str(path))
    wanted = [column_key(c) for c in columns]
    xl = _open_sheets(path)
    sheets: list[str] = []
    try:
        if xl is None:
            try:
                raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                                  skip_blank_lines=False, encoding="utf-8-sig")
            except Exception as exc:
                raise AnnotationError(f"cannot read CSV ({type(exc).__name__}: {exc})", file=str(path)) from exc
            sheet_name = "csv"
        else:
            sheets = [str(s) for s in xl.sheet_names]
            if isinstance(sheet, int):
                if not 0 <= sheet < len(sheets):
                    raise AnnotationError(f"no sheet number {sheet}; sheets found: {sheets}", file=str(path))
                sheet_name = sheets[sheet]
            else:
                match = [s for s in sheets if s.strip().lower() == str(sheet).strip().lower()]
                if not match:
                    raise AnnotationError(f"sheet {sheet!r} not found; sheets found: {sheets}", file=str(path))
                sheet_name = match[0]
            try:
                raw = pd.read_excel(xl, sheet_name=sheet_name, header=None, dtype=object)
            except BaseException as exc:  # a sheet can be corrupt in a file that opened
                if not _reader_failed(exc):
                    raise
                raise AnnotationError(f"cannot read sheet {sheet_name!r} ({type(exc).__name__}: {exc})",
                                      file=str(path)) from exc
    finally:
        if xl is not None:
            xl.close()
    values = raw.astype(object).where(raw.notna(), None).values.tolist()
    if not values:
        raise AnnotationError(f"sheet {sheet_name!r} is empty", file=str(path))
    found = None
    for r, cells in enumerate(values[:search_rows]):
        keys = {column_key(c) for c in cells}
        if all(w in keys for w in wanted):
            found = r
            break
    if found is None:
        expected = values[header_row - 1] if len(values) >= header_row else []
        seen = [cell_text(c) for c in expected if cell_text(c)]
        raise AnnotationError(
            f"header row with columns {list(columns)} not found in sheet {sheet_name!r} "
            f"(expected at row {header_row}, which holds {seen}; sheets in file: {sheets or ['csv']})",
            file=str(path))
    warning = None
    if found + 1 != header_row:
        warning = (f"{path.name}: header found at row {found + 1} of sheet {sheet_name!r}, "
                   f"not at row {header_row} where the corpus puts it; read from there")
    header = [cell_text(c) or f"Unnamed: {i}" for i, c in enumerate(values[found])]
    keys = [column_key(h) for h in header]
    table = Table(path, sheet_name, found + 1, header, sheets=sheets)
    for r in range(found + 1, len(values)):
        cells = values[r]
        if all(cell_text(c) == "" for c in cells):
            continue
        record: dict[str, Any] = {}
        for k, c in zip(keys, cells, strict=False):
            record.setdefault(k, c)
        table.rows.append((r + 1, record))
    return table, warning


def find_file(root: Path, patterns: Sequence[str], what: str) -> Path:
    """The first file in ``root`` (or one folder below) matching a glob in ``patterns`` (case-insensitive)."""
    regexes = [re.compile(_glob_to_regex(p), re.IGNORECASE) for p in patterns]
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())) if root.is_dir() else ():
        try:
            names = sorted(folder.iterdir())
        except OSError:
            continue
        for rx in regexes:
            for p in names:
                if p.is_file() and rx.fullmatch(p.name):
                    return p
    raise AnnotationError(f"{what} not found in {root} or its subfolders (looked for {list(patterns)})",
                          file=str(root / patterns[0]))


def _glob_to_regex(pattern: str) -> str:
    out = ""
    for ch in pattern:
        out += ".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
    return out
