"""Miniature SMIC: the HS, VIS and NIR folder trees (labels from the folders, no annotation file),
with non_micro/ folders, a subject without micro/ and one clip missing a frame."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ...errors import DataError
from .images import write_frames

SMIC_HS_SUBJECTS = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]
#: VIS and NIR were recorded for the last 10 subjects only (s11..s20).
SMIC_VIS_NIR_SUBJECTS = [s for s in SMIC_HS_SUBJECTS if s >= 11]
SMIC_HS_COUNTS = {"negative": 70, "positive": 51, "surprise": 43}
_SMIC_ABBR = {"negative": "ne", "positive": "po", "surprise": "sur"}


def smic_clips() -> list[tuple[int, str, str]]:
    """(subject number, label, folder name 's1_ne_01') for the 164 HS clips."""
    out = []
    per: Counter = Counter()
    i = 0
    for label, n in SMIC_HS_COUNTS.items():
        for _ in range(n):
            s = SMIC_HS_SUBJECTS[i % 16]
            i += 1
            per[(s, label)] += 1
            out.append((s, label, f"s{s}_{_SMIC_ABBR[label]}_{per[(s, label)]:02d}"))
    return out


def build_smic(root: Path, clips: list[tuple[int, str, str]] | None = None, *, release: str = "cropped",
               gap_clip: str | None = "s3_po_01", variants: tuple[str, ...] = ("HS",)) -> list[tuple[int, str, str]]:
    """SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/reg_image036237.bmp, plus non_micro/ and s7 without micro/.

    HS has the real 164 clips (70/51/43, 16 subjects), one of them (``gap_clip``) missing a
    frame. ``variants`` may add "VIS" and "NIR": the HS clips of subjects s11..s20 (the
    subjects those cameras recorded); their counts are illustrative, not the real ones.
    """
    root = Path(root)
    clips = smic_clips() if clips is None else clips
    for variant in variants:
        if variant.upper() not in ("HS", "VIS", "NIR"):
            raise DataError(f"SMIC variant must be HS, VIS or NIR, got {variant!r}")
        if variant.upper() != "HS":
            _build_smic_variant(root, [c for c in clips if c[0] in SMIC_VIS_NIR_SUBJECTS], release,
                                variant.upper())
    if "HS" not in (v.upper() for v in variants):
        return clips
    top, prefix = _variant_folder(root, release, "HS")
    for j, (s, label, name) in enumerate(clips):
        start = 36000 + 50 * j
        numbers = [start, start + 1, start + 2, start + 3]
        if name == gap_clip:
            numbers.remove(start + 2)          # "a few clips missing one or two frames"
        write_frames(top / f"s{s}" / "micro" / label / name, [f"{prefix}{n:06d}.bmp" for n in numbers])
    write_frames(top / "s1" / "non_micro" / "s1_nm_01", [f"{prefix}000001.bmp"])
    write_frames(top / "s7" / "non_micro" / "s7_nm_01", [f"{prefix}000001.bmp"])
    return clips


def _variant_folder(root: Path, release: str, variant: str) -> tuple[Path, str]:
    """The folder of ``variant`` in ``release`` and its frame-name prefix ('reg_image' when cropped)."""
    top = root / ("SMIC_all_cropped" if release == "cropped" else "SMIC_all_raw") / variant
    return top, "reg_image" if release == "cropped" else "image"


def _build_smic_variant(root: Path, clips: list[tuple[int, str, str]], release: str, variant: str) -> None:
    top, prefix = _variant_folder(root, release, variant)
    for j, (s, label, name) in enumerate(clips):
        start = 9000 + 20 * j                                   # 25 fps: fewer frames per clip
        write_frames(top / f"s{s}" / "micro" / label / name, [f"{prefix}{n:06d}.bmp" for n in range(start, start + 3)])
