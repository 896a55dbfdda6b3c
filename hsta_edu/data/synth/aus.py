"""The action units SynthME animates and the recipes that turn a class into AUs.

A recipe is one way to express a class: the CASME II emotion word the clip is annotated
with, the AUs that move, and the objective class (1-7) written to the objective-class
sheet. Each scheme (``megc3``, ``objective7``) is a class tuple from `hsta_edu.data.labels`
plus the recipes of each class. Bottom of the package: imports nothing from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..labels import MEGC3_CLASSES, OBJECTIVE_CLASSES

#: The action units SynthME animates: code -> (FACS name, facial region).
ACTION_UNITS: dict[int, tuple[str, str]] = {
    1: ("inner brow raiser", "brows"),
    2: ("outer brow raiser", "brows"),
    4: ("brow lowerer", "brows"),
    5: ("upper lid raiser", "eyes"),
    6: ("cheek raiser", "cheeks"),
    7: ("lid tightener", "eyes"),
    9: ("nose wrinkler", "nose"),
    12: ("lip corner puller", "mouth"),
    14: ("dimpler (right side)", "mouth"),
    15: ("lip corner depressor", "mouth"),
    17: ("chin raiser", "chin"),
    20: ("lip stretcher", "mouth"),
}


@dataclass(frozen=True)
class Recipe:
    """One way to express a class: the native emotion word, the AUs moved and the objective class (1-7)."""
    emotion: str
    aus: tuple[int, ...]
    objective: int


#: MEGC 3-class scheme. Negative always lowers the brows (plus nose or lip depressor),
#: positive pulls the lip corners up, surprise raises the brows: three distinct regions.
MEGC3_RECIPES: dict[str, tuple[Recipe, ...]] = {
    "negative": (Recipe("disgust", (4, 9), 4), Recipe("disgust", (4, 7, 9), 4),
                 Recipe("repression", (4, 15, 17), 5)),
    "positive": (Recipe("happiness", (12,), 1), Recipe("happiness", (6, 12), 1)),
    "surprise": (Recipe("surprise", (1, 2), 2), Recipe("surprise", (1, 2, 5), 2)),
}

#: A 7-class scheme in the spirit of the objective classes I-VII (Davison et al. 2018),
#: with the CASME II emotion word each would most often carry.
OBJECTIVE7_RECIPES: dict[str, tuple[Recipe, ...]] = {
    "I": (Recipe("happiness", (12,), 1), Recipe("happiness", (6, 12), 1)),
    "II": (Recipe("surprise", (1, 2), 2), Recipe("surprise", (1, 2, 5), 2)),
    "III": (Recipe("others", (4, 7), 3), Recipe("others", (4, 7, 17), 3)),
    "IV": (Recipe("disgust", (9,), 4), Recipe("disgust", (4, 9), 4)),
    "V": (Recipe("sadness", (1, 15), 5), Recipe("sadness", (15, 17), 5)),
    "VI": (Recipe("fear", (1, 2, 4), 6), Recipe("fear", (20,), 6)),
    "VII": (Recipe("repression", (14,), 7), Recipe("repression", (14, 17), 7)),
}

#: scheme name -> (ordered class names, recipes of each class).
SCHEMES: dict[str, tuple[tuple[str, ...], dict[str, tuple[Recipe, ...]]]] = {
    "megc3": (MEGC3_CLASSES, MEGC3_RECIPES),
    "objective7": (OBJECTIVE_CLASSES, OBJECTIVE7_RECIPES),
}


def format_aus(aus: Sequence[int]) -> str | int:
    """AUs as CASME II writes them: an int for a single AU, else '4+9' (AU14 here is unilateral: 'R14')."""
    parts = [f"R{a}" if a == 14 else str(a) for a in aus]
    if len(parts) == 1 and parts[0].isdigit():
        return int(parts[0])
    return "+".join(parts)


def emotion_to_class(scheme: str) -> dict[str, str]:
    """Which class of ``scheme`` each emotion word of its recipes stands for (the last recipe wins)."""
    return {r.emotion: c for c, rs in SCHEMES[scheme][1].items() for r in rs}
