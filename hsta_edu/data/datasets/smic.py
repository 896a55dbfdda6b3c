"""SMIC (Li et al. 2013): HS, VIS and NIR, labels from the folder tree.

Layout: ``SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/reg_image036237.bmp`` (raw
release: ``SMIC_all_raw/HS/.../image036237.bmp``). ``root`` may be the folder holding
``SMIC_all_cropped``, that folder itself, or the variant folder (``HS``).

The release has no onset/apex/offset: onset = first frame, offset = last frame, apex =
the middle available frame (``clip.meta["apex_rule"]``). Folder names write ``s1``
where label files and the MEGC composite write ``s01``: subjects and clip ids are
normalised to two digits (``s01``, ``s01_ne_01``); the folder name as found is kept in
``clip.meta["folder"]``. Missing clips cannot be seen without a list (the composite
checks against ``combined_3class_gt.csv``); clips missing frames inside their range are
kept with a warning; empty clip folders, folders of a single frame and unknown label folders are
recorded drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ...errors import AnnotationError, DataError
from ..clip import Clip, DatasetIndex
from ..labels import LabelScheme, get_scheme
from .frames import scan_frames
from .rows import Candidate, LeftOut, RowLog, dataset_root, display

VARIANTS = ("HS", "VIS", "NIR")
RELEASES = {"cropped": ("SMIC_all_cropped", "SMIC_cropped"), "raw": ("SMIC_all_raw", "SMIC_raw", "SMIC")}
FRAME_PATTERN = re.compile(r"^(reg_)?image(?P<n>\d+)\.(bmp|jpe?g|png)$", re.IGNORECASE)
_SUBJECT = re.compile(r"^s(\d{1,3})$", re.IGNORECASE)
_CLIP = re.compile(r"^s(\d{1,3})_([A-Za-z]+)_(\d+)$", re.IGNORECASE)


def smic_subject(value: object) -> str:
    """'s1', 's01', 'S1', 1, '1' -> 's01'; AnnotationError otherwise."""
    from .sheets import cell_text
    text = cell_text(value)
    m = re.fullmatch(r"[sS]?(\d{1,3})", text)
    if not m:
        raise AnnotationError("not a SMIC subject id (s1, s01)", column="subject", value=value)
    return f"s{int(m.group(1)):02d}"


def smic_clip_id(value: object) -> str:
    """'s1_ne_01' -> 's01_ne_01' (the spelling of label files and the MEGC composite)."""
    from .sheets import cell_text
    text = cell_text(value)
    m = _CLIP.fullmatch(text)
    if not m:
        raise AnnotationError("not a SMIC clip id (s1_ne_01)", column="video", value=value)
    return f"s{int(m.group(1)):02d}_{m.group(2).lower()}_{m.group(3)}"


def _variant_dir(root: Path, variant: str, release: str) -> Path:
    def child(parent: Path, names: tuple[str, ...]) -> Path | None:
        if not parent.is_dir():
            return None
        kids = {p.name.lower(): p for p in parent.iterdir() if p.is_dir()}
        return next((kids[n.lower()] for n in names if n.lower() in kids), None)

    rel = child(root, RELEASES[release])
    for parent in (rel, root):
        if parent is not None and (v := child(parent, (variant,))) is not None:
            return v
    if root.name.upper() == variant:
        return root
    raise DataError(f"SMIC {variant} folder not found under {root}: expected "
                    f"{RELEASES[release][0]}/{variant}/s1/micro/negative/s1_ne_01/")


def load_smic(root: str | Path, variant: str = "HS", release: str = "cropped", scheme: str = "native", *,
              strict: bool = False) -> DatasetIndex:
    """Index SMIC-``variant`` at ``root``; classes negative/positive/surprise under every scheme."""
    root = dataset_root(root, "SMIC")
    variant = variant.upper()
    if variant not in VARIANTS:
        raise DataError(f"SMIC variant must be one of {VARIANTS}, got {variant!r}")
    if release not in RELEASES:
        raise DataError(f"SMIC release must be 'cropped' or 'raw', got {release!r}")
    vdir = _variant_dir(root, variant, release)
    label_scheme = get_scheme("smic", scheme)
    log = RowLog(display(vdir, root), strict=strict)
    rules = _Clips(f"smic-{variant.lower()}", variant, label_scheme, root, log)
    clips = log.collect(_candidates(vdir, rules))
    return log.index(rules.name, clips, label_scheme, root, variant=variant, release=release, folder=str(vdir))


def _candidates(vdir: Path, rules: _Clips) -> Iterator[Candidate]:
    """The clip folders ``s1/micro/<label>/s1_ne_01`` of a variant folder, warning about what is not one."""
    root, log = rules.root, rules.log
    non_micro = 0
    for sdir in sorted(p for p in vdir.iterdir() if p.is_dir()):
        m = _SUBJECT.fullmatch(sdir.name)
        if not m:
            log.warn(f"{display(sdir, root)}: not a subject folder (s1, s01); ignored")
            continue
        subject = f"s{int(m.group(1)):02d}"
        kids = {p.name.lower(): p for p in sdir.iterdir() if p.is_dir()}
        if "non_micro" in kids:
            non_micro += sum(1 for p in kids["non_micro"].rglob("*") if p.is_dir())
        micro = kids.get("micro")
        if micro is None:
            log.warn(f"{display(sdir, root)}: no micro/ folder (subject without micro-expressions)")
            continue
        for ldir in sorted(p for p in micro.iterdir() if p.is_dir()):
            for cdir in sorted(p for p in ldir.iterdir() if p.is_dir()):
                yield Candidate(None, f"{subject}/{cdir.name}", partial(rules.clip, sdir, ldir, cdir, subject),
                                display(cdir, root))
    if non_micro:
        log.warn(f"{non_micro} folders under non_micro/ ignored (not micro-expressions)")


@dataclass(frozen=True)
class _Clips:
    """SMIC's rules for one clip folder: the label from its parent folder, onset/apex/offset from its frames."""
    name: str                  # 'smic-hs', 'smic-vis', 'smic-nir'
    variant: str
    scheme: LabelScheme
    root: Path
    log: RowLog

    def clip(self, sdir: Path, ldir: Path, cdir: Path, subject: str) -> Clip:
        root, shown = self.root, display(cdir, self.root)
        label = self.scheme.assign(ldir.name, column="label folder", file=display(ldir, root))
        if label is None:
            raise LeftOut(f"label folder {ldir.name!r} is not in scheme {self.scheme.name!r}")
        cm = _CLIP.fullmatch(cdir.name)
        if not cm:
            raise AnnotationError("clip folder name is not like s1_ne_01", file=shown)
        clip_id = smic_clip_id(cdir.name)
        if int(cm.group(1)) != int(subject[1:]):
            raise AnnotationError(f"clip folder names subject s{int(cm.group(1)):02d} but lies "
                                  f"under {sdir.name}", file=shown)
        files = scan_frames(cdir, FRAME_PATTERN, root=root)
        numbers = tuple(sorted(files))
        have = set(numbers)
        missing = [n for n in range(numbers[0], numbers[-1] + 1) if n not in have]
        meta = {"folder": shown, "apex_rule": "middle frame", "variant": self.variant}
        self.log.gaps(meta, missing, f"{subject}/{clip_id}: {len(missing)} frames missing ({missing[:5]}); clip kept")
        apex = numbers[len(numbers) // 2]
        return self.log.checked(Clip(self.name, subject, clip_id, tuple(files[n] for n in numbers), numbers,
                                     numbers[0], apex, numbers[-1], label, emotion=ldir.name, meta=meta), file=shown)
