"""Miniature of a user's own folder: annotations.csv and frame folders not numbered from 1."""

from __future__ import annotations

from pathlib import Path

from .images import write_frames


def build_folder(root: Path) -> str:
    """annotations.csv + frame folders numbered from 0 and from 120 (not from 1); returns the CSV text."""
    root = Path(root)
    write_frames(root / "alice" / "clip01", [f"frame_{n:04d}.png" for n in range(0, 6)])
    write_frames(root / "alice" / "clip02", [f"frame_{n:04d}.png" for n in range(0, 4)])
    write_frames(root / "bob" / "take3", [f"{n:06d}.jpg" for n in range(120, 126)])
    text = ("subject,clip,label,onset,apex,offset,folder,aus\n"
            "alice,clip01,happy,0,2,5,,12\n"
            "alice,clip02,sad,,,,,\n"
            "bob,take3,happy,121,123,125,bob/take3,6+12\n")
    (root / "annotations.csv").write_text(text)
    return text
