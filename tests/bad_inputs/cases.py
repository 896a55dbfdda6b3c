"""The one list of bad inputs (``CASES``) and ``run_case``, which records what the user sees for one.

Each case builds its input in an empty temporary folder (tiny CASME II miniatures from
`hsta_edu.data.examples`, a tiny model), makes the call a user would make, and ends in a
package error, a recorded drop (``index.dropped``), a recorded warning, or "works" for inputs that
are supported. A case reports a non-error outcome by raising ``_Seen``.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from openpyxl import load_workbook

from hsta_edu import create_model
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.examples import build_casme2, build_folder, write_casme2_xlsx, write_frames
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.data.prep import PrepConfig, cache_key, cache_path, load_or_prepare, prepare_clip
from hsta_edu.data.torch_data import MERDataset
from hsta_edu.evaluate import LOSO, compute_metrics
from hsta_edu.io import atomic_torch_save, safe_torch_load
from hsta_edu.model import load_model, load_reference_checkpoint, save_model
from hsta_edu.runs import run_protocol
from hsta_edu.training import recipe, train

from ..configs import SMALL_REFERENCE_48PX, TINY_16PX_2FRAMES_1STAGE
from ..model.reference_forward import random_reference_state_dict

TINY = TINY_16PX_2FRAMES_1STAGE          # every model of these cases: 16 px, 2 frames, one stage
PREP = PrepConfig(img_size=8, num_frames=2, face="none")
FLOW = PrepConfig(img_size=8, num_frames=2, face="none", special="flow")


@dataclass(frozen=True)
class Case:
    """One bad input: ``label`` (table column 1), the outcome expected (``error``, ``drop``,
    ``warning`` or ``works``), a text the outcome's message must contain (the file, row or value it
    concerns) and ``run(tmp)`` that builds the input under ``tmp`` and makes the user's call."""
    label: str
    expect: str
    concerns: str
    run: Callable[[Path], Any]

    @property
    def id(self) -> str:
        """Short name (the case function's name without ``c_``), e.g. for test ids."""
        return self.run.__name__.removeprefix("c_")


@dataclass
class Outcome:
    case: Case
    kind: str            # "error", "drop", "warning", "works"
    type: str            # exception / warning class name, or "DroppedRow" / "ok"
    message: str
    exc_type: type | None = None


class _Seen(Exception):
    """Raised by a case to report a non-error outcome (drop/warning/works) with its message."""

    def __init__(self, kind: str, type_: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.type, self.message = kind, type_, message


# ----------------------------------------------------------------------------- builders

def _rows() -> list[dict]:
    """Three CASME II clips of two subjects, absolute frame numbers (never 1)."""
    def row(subject, name, onset, emotion):
        return {"Subject": subject, "Filename": name, "OnsetFrame": onset, "ApexFrame": onset + 1,
                "OffsetFrame": onset + 2, "Action Units": 12, "Estimated Emotion": emotion}
    return [row(1, "EP01_01f", 46, "happiness"), row(1, "EP01_02f", 60, "disgust"),
            row(2, "EP02_01f", 70, "surprise")]


def _casme2(tmp: Path, edit: Callable[[list[dict]], None] | None = None) -> Path:
    """A CASME II miniature under ``tmp/casme2`` from ``_rows()``, edited by ``edit`` first."""
    rows = _rows()
    if edit is not None:
        edit(rows)
    root = tmp / "casme2"
    build_casme2(root, rows, objective=False)
    return root


def _edit_row(i: int, **changes) -> Callable[[list[dict]], None]:
    def edit(rows: list[dict]) -> None:
        rows[i].update(changes)
    return edit


def _frames_of(root: Path, subject: str, clip: str) -> Path:
    return root / "CASME2_RAW_selected" / subject / clip


def _sheet(tmp: Path) -> tuple[Path, Any]:
    """A CASME II miniature and its annotation workbook, opened for editing: ``(root, workbook)``;
    save it with ``workbook.save(root / "CASME2-coding-20140508.xlsx")``."""
    root = _casme2(tmp)
    return root, load_workbook(root / "CASME2-coding-20140508.xlsx")


def _load_drop(root: Path, clip: str | None = None) -> None:
    """Load ``root`` and report the first recorded drop (of ``clip``, if given), or "works"."""
    index = load_dataset(root)
    drops = [d for d in index.dropped if clip is None or (d.clip or "").endswith(clip)]
    if not drops:
        raise _Seen("works", "ok", f"no drop recorded; {index.summary()}")
    d = drops[0]
    raise _Seen("drop", "DroppedRow", f"{d.source}:{d.row} {d.clip}: {d.reason}")


def _cached_entry(tmp: Path, cfg: PrepConfig) -> tuple[MERDataset, Path]:
    """A tiny dataset with its first clip cached on disk; returns the dataset and the cache file."""
    index = load_dataset(_casme2(tmp))
    cache = tmp / "cache"
    load_or_prepare(index.clips[0], cfg, cache)
    path = cache_path(cache, index.clips[0], cache_key(index.clips[0], cfg))
    return MERDataset(index, cfg, cache_dir=cache), path


def _spoil_cached_entry(tmp: Path, cfg: PrepConfig, spoil: Callable[[dict], None]) -> None:
    """Cache the first clip, change the stored entry with ``spoil`` and read the clip back."""
    ds, path = _cached_entry(tmp, cfg)
    entry = safe_torch_load(path)
    spoil(entry)
    atomic_torch_save(entry, path)
    ds[0]


class _Toy(LabelledDataset):
    """Tiny (video, special, label) clips with labels/groups/classes, for LOSO and training cases."""

    def __init__(self, labels: list[int], groups: list[str]) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.groups = groups
        self.classes = ["negative", "positive", "surprise"]
        self.video = torch.randn(len(labels), 3, 2, 16, 16, generator=g)
        self.special = torch.randn(len(labels), 3, 2, 16, 16, generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


def _loso(tmp: Path, labels: list[int], groups: list[str]):
    cfg = recipe("fast", epochs=1, batch_size=8, warmup_epochs=0, progress=False)
    return run_protocol(_Toy(labels, groups), LOSO(), lambda: create_model("hsta-tiny", **TINY), cfg, tmp / "run")


class _Touch:
    """A pickled object that, if unpickled, would create a file: the payload of an unsafe .pt file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _load_pickled_payload(path: Path, contents: Callable[[_Touch], dict], load: Callable[[Path], Any]) -> None:
    """Save ``contents(payload)`` to ``path`` (the payload creates a file when unpickled), call
    ``load(path)`` and fail if the payload ran."""
    marker = path.parent / "PWNED"
    torch.save(contents(_Touch(marker)), path)
    try:
        load(path)
    finally:
        if marker.exists():
            raise AssertionError("the pickled payload ran: unsafe loading")


# ----------------------------------------------------------------------------- the cases

def c_missing_frame(tmp: Path):
    root = _casme2(tmp)
    (_frames_of(root, "sub01", "EP01_01f") / "img47.jpg").unlink()       # the apex frame
    _load_drop(root, "EP01_01f")


def c_missing_interior_frame(tmp: Path):
    root = _casme2(tmp, _edit_row(0, OffsetFrame=52))
    (_frames_of(root, "sub01", "EP01_01f") / "img49.jpg").unlink()
    index = load_dataset(root)
    raise _Seen("warning", "index.warnings", index.warnings[0])


def c_frame_deleted_after_indexing(tmp: Path):
    root = _casme2(tmp)
    index = load_dataset(root)
    (_frames_of(root, "sub01", "EP01_01f") / "img48.jpg").unlink()
    prepare_clip(index.clips[0], PREP)


def c_empty_frame_folder(tmp: Path):
    root = _casme2(tmp)
    for f in _frames_of(root, "sub02", "EP02_01f").iterdir():
        f.unlink()
    _load_drop(root, "EP02_01f")


def c_corrupt_jpg(tmp: Path):
    root = _casme2(tmp)
    index = load_dataset(root)
    f = _frames_of(root, "sub01", "EP01_01f") / "img46.jpg"
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])          # truncated download
    MERDataset(index, PREP)[0]


def c_not_an_image(tmp: Path):
    root = _casme2(tmp)
    index = load_dataset(root)
    (_frames_of(root, "sub01", "EP01_01f") / "img47.jpg").write_bytes(b"this is not a picture")
    MERDataset(index, PREP)[0]


def c_empty_folder(tmp: Path):
    (tmp / "empty").mkdir()
    load_dataset(tmp / "empty")


def c_apex_slash(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(0, ApexFrame="/")))


def c_apex_outside(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(0, ApexFrame=90)))


def c_onset_after_apex(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(0, OnsetFrame=47, ApexFrame=46, OffsetFrame=48)))


def c_offset_zero(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(0, OffsetFrame=0)))


def c_frames_not_from_1(tmp: Path):
    index = load_dataset(_casme2(tmp))
    folder = tmp / "folder"
    folder.mkdir()
    build_folder(folder)
    other = load_dataset(folder)
    nums = {c.clip_id: (c.frame_numbers[0], c.frame_numbers[-1]) for c in other.clips}
    first = index.clips[0]
    raise _Seen("works", "ok", f"supported: frame numbers are read from the file names and kept as the corpus "
                f"writes them ({first.clip_id}: frames {first.frame_numbers[0]}..{first.frame_numbers[-1]}; "
                f"folder layout: {nums})")


def c_unknown_label(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(2, **{"Estimated Emotion": "amusement"})))


def c_wrong_sheet(tmp: Path):
    root = _casme2(tmp)
    write_casme2_xlsx(root / "CASME2-coding-20140508.xlsx", _rows(), sheet="Data")
    load_dataset(root)


def c_header_moved(tmp: Path):
    root, wb = _sheet(tmp)
    wb["Sheet1"].insert_rows(1, 2)
    wb["Sheet1"]["A1"] = "CASME II coding, exported"
    wb.save(root / "CASME2-coding-20140508.xlsx")
    index = load_dataset(root)
    raise _Seen("warning", "index.warnings", f"{index.warnings[0]} ({len(index)} clips loaded)")


def c_header_missing(tmp: Path):
    root, wb = _sheet(tmp)
    wb["Sheet1"]["D1"] = "Onset"          # renamed column: no header row holds all columns
    wb.save(root / "CASME2-coding-20140508.xlsx")
    load_dataset(root)


def c_duplicate_ids(tmp: Path):
    _load_drop(_casme2(tmp, lambda rows: rows.append(dict(rows[0]))))


def c_single_frame_clip(tmp: Path):
    _load_drop(_casme2(tmp, _edit_row(0, ApexFrame=46, OffsetFrame=46)))


def c_subject_spellings(tmp: Path):
    for folder in ("sub01/c1", "SUB01/c2", "sub02/c3"):
        write_frames(tmp / folder, [f"{n}.png" for n in range(1, 4)])
    (tmp / "annotations.csv").write_text("subject,clip,label\nsub01,c1,happy\nSUB01,c2,sad\nsub02,c3,sad\n")
    index = load_dataset(tmp)
    raise _Seen("warning", "index.warnings", f"{index.warnings[0]} (groups {sorted(set(index.groups))})")


def c_one_class(tmp: Path):
    cfg = recipe("fast", epochs=1, batch_size=4, warmup_epochs=0, progress=False)
    train(create_model("hsta-tiny", **TINY), _Toy([1, 1, 1, 1], ["d/s1"] * 4), cfg)


def c_path_escape(tmp: Path):
    load_dataset(_casme2(tmp, _edit_row(1, Filename="../../../etc")))


def c_subject_one_clip(tmp: Path):
    labels = [0, 1, 2, 0, 1, 2, 0]
    groups = ["d/s1"] * 3 + ["d/s2"] * 3 + ["d/s3"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _loso(tmp, labels, groups)
    folds = {f["name"]: f["n_test"] for f in json.loads((tmp / "run" / "config.json").read_text())["folds"]}
    raise _Seen("works", "ok", f"works: {r.n_folds} folds, test clips per fold {folds}; "
                f"pooled UF1 {r.metrics['uf1']:.2f} over {r.metrics['n_samples']} clips")


def c_class_absent_from_fold(tmp: Path):
    labels = [0, 1, 0, 1, 2, 2]
    groups = ["d/s1", "d/s1", "d/s2", "d/s2", "d/s3", "d/s3"]     # only d/s3 has 'surprise'
    _loso(tmp, labels, groups)


def c_class_absent_everywhere(tmp: Path):
    m = compute_metrics([0, 1, 0, 1], [0, 1, 1, 1], ["negative", "positive", "surprise"])
    raise _Seen("works", "ok", f"scored over the classes present, the absent one recorded: "
                f"absent_classes={m['absent_classes']}, UF1 {m['uf1']:.3f}, confusion keeps all 3 rows")


def c_nan_in_cache(tmp: Path):
    def spoil(entry: dict) -> None:
        entry["flow"][0, 0, 0] = float("nan")
    _spoil_cached_entry(tmp, FLOW, spoil)


def c_wrong_shape_in_cache(tmp: Path):
    def spoil(entry: dict) -> None:
        entry["pool"] = entry["pool"][:, :4]
    _spoil_cached_entry(tmp, PREP, spoil)


def c_truncated_cache(tmp: Path):
    ds, path = _cached_entry(tmp, PREP)
    path.write_bytes(path.read_bytes()[:100])
    ds[0]


def c_nan_input(tmp: Path):
    model = create_model("hsta-tiny", **TINY)
    video, special = torch.zeros(1, 3, 2, 16, 16), torch.zeros(1, 3, 2, 16, 16)
    video[0, 0, 0, 0, 0] = float("nan")
    model(video, special)


def c_wrong_shape_input(tmp: Path):
    model = create_model("hsta-tiny", **TINY)
    ds = MERDataset(load_dataset(_casme2(tmp)), PrepConfig(img_size=24, num_frames=2, face="none"))
    video, special, _ = ds[0]
    model(video[None], special[None])


def c_checkpoint_other_config_resume(tmp: Path):
    toy = _Toy([0, 1, 2, 0], ["d/s1"] * 4)
    cfg = recipe("fast", epochs=1, batch_size=4, warmup_epochs=0, progress=False)
    train(create_model("hsta-tiny", **TINY), toy, cfg, checkpoint_dir=tmp / "ckpt")
    other = create_model("hsta-tiny", **{**TINY, "embed_dim": 64})
    train(other, toy, recipe("fast", epochs=2, batch_size=4, warmup_epochs=0, progress=False),
          checkpoint_dir=tmp / "ckpt", resume=True)


def c_checkpoint_other_config_load_model(tmp: Path):
    path = save_model(tmp / "model.pt", create_model("hsta-tiny", **TINY))
    obj = safe_torch_load(path)
    obj["model_config"]["num_classes"] = 7          # the weights of a 3-class model, a 7-class config
    atomic_torch_save(obj, path)
    load_model(path)


def c_checkpoint_other_config_reference(tmp: Path):
    small = dict(SMALL_REFERENCE_48PX)
    path = tmp / "reference.pt"
    torch.save({"state_dict": random_reference_state_dict(small), "config": small}, path)
    load_reference_checkpoint(path, config=dict(small, num_classes=7))


def c_patch_not_dividing(tmp: Path):
    create_model("hsta-tiny", img_size=50, patch_size=16)


def c_prep_config_impossible(tmp: Path):
    PrepConfig(img_size=4)


def c_unpickling(tmp: Path):
    _load_pickled_payload(tmp / "model.pt",
                          lambda payload: {"format": "hsta_edu.model/1", "model_config": {}, "state_dict": payload},
                          load_model)


def c_unpickling_torch_save(tmp: Path):
    _load_pickled_payload(tmp / "prepared.pt", lambda payload: {"pool": payload}, load_reference_checkpoint)


CASES: list[Case] = [
    Case("missing frame file (the apex `img47.jpg` deleted) - `load_dataset`", "drop", "frames [47]", c_missing_frame),
    Case("frame missing inside onset..offset - `load_dataset`", "warning", "49", c_missing_interior_frame),
    Case("frame deleted after indexing - `prepare_clip`", "error", "img48.jpg", c_frame_deleted_after_indexing),
    Case("empty frame folder - `load_dataset`", "drop", "EP02_01f", c_empty_frame_folder),
    Case("corrupt (truncated) jpg - `MERDataset[i]`", "error", "img46.jpg", c_corrupt_jpg),
    Case("file that is not an image - `MERDataset[i]`", "error", "img47.jpg", c_not_an_image),
    Case("empty folder - `load_dataset(folder)`", "error", "empty", c_empty_folder),
    Case("apex `/` - `load_dataset`", "drop", "'/'", c_apex_slash),
    Case("apex outside onset..offset - `load_dataset`", "drop", "90", c_apex_outside),
    Case("onset after apex - `load_dataset`", "drop", "apex", c_onset_after_apex),
    Case("offset 0 - `load_dataset`", "drop", "offset", c_offset_zero),
    Case("frame numbers not starting at 1 - `load_dataset`", "works", "46", c_frames_not_from_1),
    Case("unknown emotion label - `load_dataset`", "drop", "amusement", c_unknown_label),
    Case("wrong sheet (no `Sheet1`) - `load_dataset`", "error", "Sheet1", c_wrong_sheet),
    Case("header row moved down 2 rows - `load_dataset`", "warning", "row 3", c_header_moved),
    Case("header row not found (column renamed) - `load_dataset`", "error", "OnsetFrame", c_header_missing),
    Case("duplicate clip ids - `load_dataset`", "drop", "duplicate", c_duplicate_ids),
    Case("clip of a single frame (onset = apex = offset) - `load_dataset`", "drop", "onset == apex == offset",
         c_single_frame_clip),
    Case("one subject spelled `sub01` and `SUB01` - `load_dataset`", "warning", "'SUB01'", c_subject_spellings),
    Case("all clips of one class - `train`", "error", "'positive'", c_one_class),
    Case("path escaping the dataset root (`Filename` = `../../../etc`) - `load_dataset`", "error", "../../../etc",
         c_path_escape),
    Case("subject with one clip - `run_protocol(LOSO)`", "works", "d/s3", c_subject_one_clip),
    Case("class absent from a training fold - `run_protocol(LOSO)`", "warning", "surprise", c_class_absent_from_fold),
    Case("class absent from all labels and predictions - `compute_metrics`", "works", "surprise",
         c_class_absent_everywhere),
    Case("NaN in a cached tensor (flow) - `MERDataset[i]`", "warning", ".pt", c_nan_in_cache),
    Case("wrong-shape cached tensor - `MERDataset[i]`", "warning", ".pt", c_wrong_shape_in_cache),
    Case("truncated cache file - `MERDataset[i]`", "warning", ".pt", c_truncated_cache),
    Case("NaN in the model input - `model(video, special)`", "error", "NaN", c_nan_input),
    Case("wrong-shape input (24 px clips, 16 px model) - `model(video, special)`", "error", "24", c_wrong_shape_input),
    Case("checkpoint of another configuration - `train(..., resume=True)`", "error", "last.pt",
         c_checkpoint_other_config_resume),
    Case("checkpoint whose weights do not fit its configuration - `train.load_model`", "error", "model.pt",
         c_checkpoint_other_config_load_model),
    Case("reference checkpoint of another configuration - `load_reference_checkpoint`", "error",
         "shape mismatch", c_checkpoint_other_config_reference),
    Case("image not divisible by patch - `create_model(img_size=50, patch_size=16)`", "error", "50",
         c_patch_not_dividing),
    Case("impossible preprocessing size - `PrepConfig(img_size=4)`", "error", "img_size", c_prep_config_impossible),
    Case("model file holding a pickled arbitrary object - `train.load_model`", "error", "pickled object", c_unpickling),
    Case("checkpoint holding a pickled arbitrary object - `load_reference_checkpoint`", "error", "pickled object",
         c_unpickling_torch_save),
]

# A cache file is named after a hash of its clip's frame files, their sizes and modification times:
# new in every run. Shown as `<key>` so the table is the same from run to run.
_CACHE_KEY = re.compile(r"-[0-9a-f]{16}\.pt\b")


def run_case(case: Case, tmp: Path) -> Outcome:
    """Run one case in the empty folder ``tmp`` and record what the user sees (``tmp`` shown as
    ``<tmp>``, cache keys in file names as ``<key>``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.run(tmp)
        except _Seen as seen:
            out = Outcome(case, seen.kind, seen.type, seen.message)
        except Exception as exc:  # noqa: BLE001 - recorded, the test checks the type
            out = Outcome(case, "error", type(exc).__name__, str(exc), type(exc))
        else:
            out = Outcome(case, "works", "ok", "returned without error or warning")
    ours = [w for w in caught if w.category.__module__.startswith("hsta_edu") or "hsta_edu" in w.filename
            or "rebuilding" in str(w.message) or "fold " in str(w.message)]
    if out.kind == "works" and ours and case.expect == "warning":
        w = ours[0]
        out = Outcome(case, "warning", w.category.__name__, str(w.message))
    out.message = _CACHE_KEY.sub("-<key>.pt", out.message.replace(str(tmp), "<tmp>"))
    return out


def run_all(cases: list[Case] | None = None) -> list[Outcome]:
    """Every case (default: `CASES`), in order, each in its own empty temporary folder (one torch thread)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        return [run_case(c, Path(tmp) / f"case{i:02d}") for i, c in enumerate(CASES if cases is None else cases)]
