"""Label schemes: how a corpus's emotion or objective-class cell becomes a class name.

A scheme is a fixed, ordered list of class names (the label index is the position)
plus a rule from annotation text to class. Each text falls in one of three cases:

* a class of the scheme: the clip is used with that label;
* left out on purpose (``others`` in the MEGC 3-class scheme): ``assign`` returns None
  and the loader records a drop saying so;
* unknown (a typo, a label of another corpus): ``assign`` raises `AnnotationError`
  naming the value; loaders record it as a drop, or re-raise it in strict mode.

Schemes (see shared/datasets.md):

* ``native``: the corpus's own emotion words, lower-cased (``Others`` -> ``others``).
* ``megc2019`` (also called ``megc3``: the two names are one rule): the MEGC2019
  challenge's three classes, the sets behind the paper's 3-class results (its Table 5).
  negative = repression, anger, contempt, disgust, fear, sadness; positive = happiness;
  surprise = surprise; others left out. For CASME II the challenge counts only disgust
  and repression as negative (fear and sadness are left out) and leaves out the rows
  whose apex is not annotated ('/') or equals the onset. With the real files: CASME II
  145 (88/32/25), SAMM 133 (92/26/15), SMIC-HS 164 (70/51/43), composite 442.
* ``broad3``: the same three classes with every negative emotion counted as negative in
  every corpus, CASME II's fear and sadness and its apex = onset row included (CASME II
  155 clips). Not the challenge's sets: use it only when you mean it.
* ``objective``: Davison et al.'s objective classes, written ``I``..``VII`` whether the
  file says ``1``..``7`` (CASME II, SAMM) or ``I``..``VII`` (CAS(ME)^3).
* ``emotion7``: CAS(ME)^3's seven emotions (the paper's 7-class experiments); for
  CAS(ME)^3 ``native`` is the same list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import AnnotationError, ConfigError

MEGC3_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
OBJECTIVE_CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "VII")

#: Native emotion classes of each corpus, as the corpus spells them (lower case).
NATIVE_EMOTIONS: dict[str, tuple[str, ...]] = {
    "casme2": ("disgust", "fear", "happiness", "others", "repression", "sadness", "surprise"),
    "samm": ("anger", "contempt", "disgust", "fear", "happiness", "other", "sadness", "surprise"),
    "smic": MEGC3_CLASSES,
    "casme3": ("anger", "disgust", "fear", "happy", "others", "sad", "surprise"),
}

#: Spellings that mean the same emotion across corpora -> one canonical word.
_SYNONYMS = {
    "sad": "sadness", "happy": "happiness", "other": "others", "surprised": "surprise",
    "disgusted": "disgust", "angry": "anger", "fearful": "fear", "repressed": "repression",
    "negative": "negative", "positive": "positive",
}

NEGATIVE_EMOTIONS: tuple[str, ...] = ("repression", "anger", "contempt", "disgust", "fear", "sadness")
#: The challenge's CASME II rule: only these count as negative.
MEGC2019_CASME2_NEGATIVE: tuple[str, ...] = ("disgust", "repression")

_ROMAN = {r: r for r in OBJECTIVE_CLASSES}
_ROMAN.update({str(i + 1): r for i, r in enumerate(OBJECTIVE_CLASSES)})


def normalise_text(value: object) -> str:
    """A cell as clean lower-case text ('' for empty, None or NaN): ' Others ' -> 'others'."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            value = int(value)
    text = str(value).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


def canonical_emotion(value: object) -> str:
    """The corpus-independent word for an emotion cell: 'Sad' -> 'sadness', 'Other' -> 'others'."""
    text = normalise_text(value)
    return _SYNONYMS.get(text, text)


def objective_class(value: object) -> str | None:
    """'1', 1, 1.0, 'I', ' i ' -> 'I'; None when the value is not an objective class."""
    text = normalise_text(value)
    text = re.sub(r"^(objective\s*)?class\s*", "", text)
    return _ROMAN.get(text.upper()) if text else None


@dataclass(frozen=True)
class LabelScheme:
    """An ordered class list and the rule from annotation text to class.

    ``mapping`` maps canonical text (see `canonical_emotion`) to a class name, or to
    None for values the scheme leaves out on purpose. ``open`` schemes accept any
    non-empty value as its own class (SynthME, a user's own folder).
    """

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None] = field(default_factory=dict)
    kind: str = "emotion"            # "emotion" or "objective": which column it reads
    open: bool = False
    #: CASME II's MEGC2019 row rule: rows whose apex is '/' or equals the onset are left out
    megc2019_rows: bool = False

    def assign(self, value: object, *, column: str | None = None, file: str | None = None,
               row: int | None = None) -> str | None:
        """Class name of ``value``; None if the scheme drops it on purpose; AnnotationError if unknown."""
        if self.kind == "objective":
            cls = objective_class(value)
            if cls is None:
                raise AnnotationError(f"not an objective class (I-VII or 1-7) for scheme {self.name!r}",
                                      file=file, row=row, column=column, value=value)
            return cls
        key = canonical_emotion(value)
        if not key:
            raise AnnotationError(f"empty label for scheme {self.name!r}", file=file, row=row,
                                  column=column, value=value)
        if key in self.mapping:
            return self.mapping[key]
        if self.open:
            return normalise_text(value)
        raise AnnotationError(f"unknown label for scheme {self.name!r} (known: "
                              f"{', '.join(sorted(k for k in self.mapping))})",
                              file=file, row=row, column=column, value=value)

    def excluded(self) -> list[str]:
        """Values this scheme leaves out on purpose."""
        return sorted(k for k, v in self.mapping.items() if v is None)

    def describe(self) -> str:
        """The rule in words: 'negative = disgust, repression; positive = happiness; ...; left out: ...'."""
        if self.kind == "objective":
            return "objective classes I-VII (Davison et al. 2018), read from the objective-class column"
        if self.open and not self.classes:
            return "each label value is its own class"
        parts = []
        for cls in self.classes:
            words = sorted(k for k, v in self.mapping.items() if v == cls and k != cls)
            parts.append(f"{cls} = {', '.join(words)}" if words else cls)
        text = "; ".join(parts)
        if self.excluded():
            text += f"; left out: {', '.join(self.excluded())}"
        if self.megc2019_rows:
            text += "; rows with apex '/' or apex = onset left out"
        return text


def _native(corpus: str) -> LabelScheme:
    classes = NATIVE_EMOTIONS[corpus]
    return LabelScheme("native", classes, {canonical_emotion(c): c for c in classes})


def _three_class(negatives: tuple[str, ...], name: str, megc2019_rows: bool = False) -> LabelScheme:
    mapping: dict[str, str | None] = {e: "negative" for e in negatives}
    mapping.update({"happiness": "positive", "surprise": "surprise", "negative": "negative",
                    "positive": "positive", "others": None})
    for e in NEGATIVE_EMOTIONS:       # negatives the rule leaves out are dropped on purpose
        mapping.setdefault(e, None)
    return LabelScheme(name, MEGC3_CLASSES, mapping, megc2019_rows=megc2019_rows)


#: Names of the MEGC2019 3-class rule (one rule, two names) and of the broader 3-class mapping.
MEGC2019_NAMES: tuple[str, ...] = ("megc2019", "megc3")
BROAD3 = "broad3"

SCHEMES_BY_CORPUS: dict[str, tuple[str, ...]] = {
    "casme2": ("native", "megc2019", "megc3", "broad3", "objective"),
    "samm": ("native", "megc2019", "megc3", "broad3", "objective"),
    "smic": ("native", "megc2019", "megc3", "broad3"),
    "casme3": ("native", "emotion7", "megc2019", "megc3", "broad3", "objective"),
    "synthme": ("native", "megc2019", "megc3", "broad3", "objective"),
    "folder": ("native", "megc2019", "megc3", "broad3", "objective"),
}


def get_scheme(corpus: str, name: str = "native", classes: tuple[str, ...] | None = None) -> LabelScheme:
    """The label scheme ``name`` for ``corpus`` ('casme2', 'samm', 'smic', 'casme3', 'synthme', 'folder').

    ``classes`` fixes the class list of an open native scheme (SynthME's marker file,
    a user's CSV); without it the loader sorts the labels it finds.
    """
    corpus = corpus.lower()
    if corpus.startswith("smic"):
        corpus = "smic"
    if corpus not in SCHEMES_BY_CORPUS:
        raise ConfigError(f"no label schemes for corpus {corpus!r}; known: {', '.join(SCHEMES_BY_CORPUS)}")
    if name not in SCHEMES_BY_CORPUS[corpus]:
        raise ConfigError(f"label scheme {name!r} is not available for {corpus}; "
                          f"choose one of {', '.join(SCHEMES_BY_CORPUS[corpus])}")
    if name == "objective":
        return LabelScheme("objective", OBJECTIVE_CLASSES, kind="objective")
    if name in MEGC2019_NAMES and corpus == "casme2":
        return _three_class(MEGC2019_CASME2_NEGATIVE, name, megc2019_rows=True)
    if name in MEGC2019_NAMES or name == BROAD3:
        return _three_class(NEGATIVE_EMOTIONS, name)
    if corpus in ("synthme", "folder"):
        fixed = tuple(classes) if classes else ()
        return LabelScheme("native", fixed, {canonical_emotion(c): c for c in fixed}, open=not fixed)
    return _native(corpus)   # native / emotion7
