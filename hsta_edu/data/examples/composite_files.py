"""Miniature MEGC2019 composite: CASME II, SAMM and SMIC side by side and combined_3class_gt.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .casme2_files import CASME2_QUIRKS, build_casme2
from .samm_files import build_samm
from .smic_files import build_smic


def build_composite(root: Path, *, casme2_cropped: bool = False,
                    smic_variants: tuple[str, ...] = ("HS",)) -> dict:
    """The three corpora under root/CASME2, root/SAMM_v2, root/SMIC and combined_3class_gt.csv.

    The ground truth is written as the challenge distributes it (no header, CRLF, subjects
    ``sub01`` / ``6`` / ``s01``), from the challenge's own rule, independently of the loaders.
    ``casme2_cropped`` and ``smic_variants`` are passed to `build_casme2` and `build_smic`.
    """
    root = Path(root)
    c2 = build_casme2(root / "CASME2", cropped=casme2_cropped)
    sm = build_samm(root / "SAMM_v2")
    sc = build_smic(root / "SMIC", variants=smic_variants)
    lab = {"negative": 0, "positive": 1, "surprise": 2}
    neg_c2 = {"disgust", "repression"}
    neg = {"anger", "contempt", "disgust", "fear", "sadness", "repression"}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    for r in c2:
        e = r["Estimated Emotion"]
        if (r["Subject"], r["Filename"]) in CASME2_QUIRKS:
            continue
        cls = "negative" if e in neg_c2 else "positive" if e == "happiness" else "surprise" if e == "surprise" else None
        if cls:
            w.writerow(["casme2", f"sub{r['Subject']:02d}", r["Filename"], lab[cls]])
    for r in sm:
        e = r["Estimated Emotion"].lower()
        cls = "negative" if e in neg else "positive" if e == "happiness" else "surprise" if e == "surprise" else None
        if cls:
            w.writerow(["samm", str(r["Subject"]), r["Filename"], lab[cls]])
    for s, label, name in sc:
        num = name.split("_", 1)[1]
        w.writerow(["smic", f"s{s:02d}", f"s{s:02d}_{num}", lab[label]])
    (root / "combined_3class_gt.csv").write_bytes(out.getvalue().encode())
    return {"casme2": c2, "samm": sm, "smic": sc}
