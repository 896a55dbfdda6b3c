"""Writing a whole SynthME corpus to disk in CASME II's layout, and reading its ground truth back.

`generate_synthme` writes the frames, the two CASME II spreadsheets, one ground-truth npz per
clip and, last, the ``synthme.json`` marker. The marker's file name and its one reader
(`read_marker`) live with the CASME II loader, which reads SynthME folders.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...errors import ConfigError, DataError
from ...io import OutputFolder, atomic_write_bytes, atomic_write_json, atomic_write_text
from ..datasets.casme2 import SYNTH_MARKER as MARKER_FILE
from ..datasets.casme2 import read_marker
from .aus import emotion_to_class, format_aus
from .config import BENCHMARK_CONFIG, TUTORIAL_CONFIG, TUTORIAL_SEEDS, SynthConfig
from .faces import Subject, make_subject
from .render import SynthClip, iter_clip_keys, render_clip

GENERATOR_VERSION = "1.0"
ANNOTATION_FILE = "CASME2-coding-20140508.xlsx"
OBJECTIVE_FILE = "CASME2-ObjectiveClasses.xlsx"
FRAMES_DIR = "CASME2_RAW_selected"
GROUNDTRUTH_DIR = "synthme_groundtruth"
README_FILE = "README.md"

_CODING_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                  "Estimated Emotion"]


def _groundtruth_bytes(clip: SynthClip) -> bytes:
    aus = sorted(clip.masks)
    buf = io.BytesIO()
    np.savez_compressed(
        buf, onset=np.int64(clip.onset), apex=np.int64(clip.apex), offset=np.int64(clip.offset),
        frame_numbers=clip.frame_numbers, aus=np.array(aus, np.int64), label=np.array(clip.label),
        emotion=np.array(clip.emotion), objective=np.int64(clip.objective), amplitude=np.float64(clip.amplitude),
        masks=np.stack([clip.masks[a] for a in aus]), mask=clip.mask,
        displacement=clip.displacement.astype(np.float16), intensity=clip.intensity,
        face_box=np.array(clip.face_box, np.int64),
        **{f"distractor_{k}": v for k, v in clip.distractors.items() if k != "fps"})
    return buf.getvalue()


def load_groundtruth(root: str | Path, subject: str, clip_id: str) -> dict[str, Any]:
    """Ground truth of one written clip: onset/apex/offset, aus, masks (n_aus, H, W), mask, displacement..."""
    path = Path(root) / GROUNDTRUTH_DIR / subject / f"{clip_id}.npz"
    if not path.is_file():
        raise DataError(f"no SynthME ground truth for {subject}/{clip_id}: {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as exc:
        raise DataError(f"cannot read SynthME ground truth {path}: {exc}") from exc
    for k in ("onset", "apex", "offset", "objective"):
        out[k] = int(out[k])
    out["amplitude"] = float(out["amplitude"])
    out["label"], out["emotion"] = str(out["label"]), str(out["emotion"])
    out["displacement"] = out["displacement"].astype(np.float32)
    return out


def _write_xlsx(path: Path, sheet: str, header: list[str | None], rows: list[list[Any]],
                formats: dict[int, str] | None = None) -> None:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(r)
    for col, fmt in (formats or {}).items():
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = fmt
    if sheet == "Sheet1":            # CASME II's workbook also carries two empty sheets
        wb.create_sheet("Sheet2")
        wb.create_sheet("Sheet3")
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(path, buf.getvalue())


#: what `generate_synthme` writes: a folder is SynthME's when it holds the marker, and ``overwrite``
#: deletes only these files (a real CASME II release has the same spreadsheet and frame folder names)
SYNTH_FOLDER = OutputFolder("SynthME corpus", (MARKER_FILE,), tuple(re.escape(n) for n in (
    ANNOTATION_FILE, OBJECTIVE_FILE, MARKER_FILE, README_FILE)) + (
    rf"{FRAMES_DIR}/sub\d+/[\w.-]+/img\d+\.jpg", rf"{GROUNDTRUTH_DIR}/sub\d+/[\w.-]+\.npz"))


def _prepare_folder(out: Path, overwrite: bool) -> None:
    """Make ``out`` ready for a corpus: a missing or empty folder, or (with ``overwrite``) a SynthME
    corpus, whose generated files are deleted first (`SYNTH_FOLDER`); anything else is refused
    (DataError naming what the folder holds), so a real CASME II folder is never written over."""
    if out.exists() and not out.is_dir():
        raise DataError(f"SynthME output {out} exists and is not a folder")

    def marker(path: Path) -> dict:
        return read_marker(path.parent) or {}
    try:
        found = SYNTH_FOLDER.claim(out, overwrite=overwrite, read_record=marker)
    except ConfigError as exc:
        raise DataError(f"refusing to write SynthME: {exc}") from exc
    if found is not None:
        raise DataError(f"{out} already holds a SynthME corpus; pass overwrite=True (--overwrite) to regenerate it")
    out.mkdir(parents=True, exist_ok=True)


def _write_clip(out: Path, clip: SynthClip, enc: list[int]) -> None:
    """The clip's frames as JPEG files named by absolute frame number, and its ground-truth npz."""
    folder = out / FRAMES_DIR / clip.subject / clip.clip_id
    folder.mkdir(parents=True, exist_ok=True)
    for num, fr in zip(clip.frame_numbers, clip.frames, strict=True):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(fr, cv2.COLOR_RGB2BGR), enc)
        if not ok:
            raise DataError(f"JPEG encoding failed for {folder / f'img{num}.jpg'}")
        atomic_write_bytes(folder / f"img{num}.jpg", buf.tobytes())
    atomic_write_bytes(out / GROUNDTRUTH_DIR / clip.subject / f"{clip.clip_id}.npz", _groundtruth_bytes(clip))


def _marker(cfg: SynthConfig, n_clips: int) -> dict[str, Any]:
    return {
        "generator": "hsta_edu.data.synth (SynthME)", "version": GENERATOR_VERSION,
        "layout": "casme2", "scheme": cfg.scheme, "classes": list(cfg.classes),
        "emotion_to_class": emotion_to_class(cfg.scheme),
        "n_clips": n_clips, "config": cfg.to_dict(),
        "annotation": ANNOTATION_FILE, "objective_classes": OBJECTIVE_FILE,
        "frames": FRAMES_DIR, "groundtruth": GROUNDTRUTH_DIR,
        "groundtruth_format": "npz per clip: onset, apex, offset, frame_numbers, aus, masks (n_aus,H,W) bool, "
                              "mask (H,W), displacement (2,H,W) px at the apex, intensity (N,), distractor_*",
    }


def generate_synthme(out_dir: str | Path, cfg: SynthConfig = BENCHMARK_CONFIG, *, overwrite: bool = False,
                     progress: bool = True) -> Path:
    """Write a SynthME corpus in CASME II's layout; returns the folder.

    Layout: ``CASME2-coding-20140508.xlsx`` (Sheet1: Subject, Filename, blank, OnsetFrame,
    ApexFrame, OffsetFrame, blank, Action Units, Estimated Emotion), ``CASME2-ObjectiveClasses.xlsx``,
    ``CASME2_RAW_selected/subNN/EPxx_yy/img{n}.jpg`` (absolute frame numbers), ground truth
    ``synthme_groundtruth/subNN/EPxx_yy.npz`` and the ``synthme.json`` marker (written last).
    """
    from ...progress import progress_bar

    out = Path(out_dir)
    _prepare_folder(out, overwrite)
    keys = iter_clip_keys(cfg)
    coding, objective = [], []
    subjects: dict[int, Subject] = {}
    enc = [int(cv2.IMWRITE_JPEG_QUALITY), int(cfg.jpeg_quality)]
    for s, label, k in progress_bar(keys, desc="SynthME", enabled=progress, unit="clip"):
        if s not in subjects:
            subjects = {s: make_subject(cfg, s)}
        clip = render_clip(cfg, subjects[s], label, k)
        _write_clip(out, clip, enc)
        coding.append([s + 1, clip.clip_id, None, clip.onset, clip.apex, clip.offset, None,
                       format_aus(clip.aus), clip.emotion])
        objective.append([s + 1, clip.clip_id, clip.objective])
    _write_xlsx(out / ANNOTATION_FILE, "Sheet1", _CODING_HEADER, coding, {1: "00"})
    _write_xlsx(out / OBJECTIVE_FILE, "Sheet1", ["Subject", "Filename", "Objective Class"], objective, {1: "00"})
    atomic_write_json(out / MARKER_FILE, _marker(cfg, len(keys)))
    return out


SAMPLES_README = """# data_samples: a small SynthME corpus

Synthetic micro-expressions made by `hsta_edu.data.synth` (SynthME), in CASME II's layout and
annotation format, so the quickstart and the tests run without any licensed dataset.

- {n_subjects} subjects x {n_classes} classes ({classes}) x {clips_per_class} clips = {n_clips} clips,
  {H}x{W} px frames at {fps} fps; subject sub01 is skimage's astronaut photo, the others are procedural.
- `CASME2-coding-20140508.xlsx`, `CASME2-ObjectiveClasses.xlsx`, frames in
  `CASME2_RAW_selected/subNN/EPxx_yy/img{{n}}.jpg` (absolute frame numbers),
  ground truth (onset/apex/offset, AUs, region masks, apex displacement) in `synthme_groundtruth/`,
  generator settings in `synthme.json`.

Regenerate (deterministic; config `SAMPLES_CONFIG`):

    python -m hsta_edu.data.synth --out data_samples --preset samples --overwrite
"""


def write_samples_readme(out: Path, cfg: SynthConfig) -> None:
    """The README.md of the committed ``data_samples/`` set, describing ``cfg``."""
    atomic_write_text(out / README_FILE, SAMPLES_README.format(
        n_subjects=cfg.n_subjects, n_classes=len(cfg.classes), classes=", ".join(cfg.classes),
        clips_per_class=cfg.clips_per_class, n_clips=len(iter_clip_keys(cfg)),
        H=cfg.frame_size[0], W=cfg.frame_size[1], fps=cfg.fps))


def ensure_synthme(out_dir: str | Path, cfg: SynthConfig = BENCHMARK_CONFIG, *, progress: bool = False) -> Path:
    """The SynthME corpus ``cfg`` in ``out_dir``: generated when the folder holds no finished corpus (a
    half-written one is replaced), used as it is when it holds this one; a corpus of another config is
    a DataError naming both. Safe when several processes ask at once (the shards of a benchmark): the
    first generates under a lock file beside the folder, the others wait for it and then read it."""
    try:
        import fcntl
    except ImportError:            # no advisory locks (Windows): one process at a time, as before
        fcntl = None
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    want = json.loads(json.dumps(cfg.to_dict()))
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        marker = read_marker(out) if out.is_dir() else None
        if marker is None:
            return generate_synthme(out, cfg, overwrite=True, progress=progress)
        if marker.get("config") != want:
            raise DataError(f"{out} holds another SynthME corpus (config {marker.get('config')}), not {want}: "
                            "choose another folder")
        return out


def cache_root() -> Path:
    """Where generated data and prepared clips live when no folder is given: ``$HSTA_EDU_CACHE``, else
    ``~/.cache/hsta_edu`` (outside any repository, shared by the notebooks)."""
    return Path(os.environ.get("HSTA_EDU_CACHE") or Path.home() / ".cache" / "hsta_edu").expanduser()


def tutorial_corpus(seed: int = TUTORIAL_SEEDS[0], root: str | Path | None = None, *, progress: bool = False) -> Path:
    """The notebooks' training corpus (`TUTORIAL_CONFIG`, 72 clips of 4 subjects) with corpus seed ``seed``,
    generated into ``root`` (default ``cache_root()/synthme/tutorial-<seed>``) on first use, in about 10 s,
    and read from there afterwards; returns the folder, which `load_dataset` reads as CASME II."""
    seed = int(seed)
    out = Path(root).expanduser() if root else cache_root() / "synthme" / f"tutorial-{seed}"
    return ensure_synthme(out, TUTORIAL_CONFIG.replace(seed=seed), progress=progress)
