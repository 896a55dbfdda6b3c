"""A configuration dataclass's fields by their declared types: text parsed, values checked.

The annotations of `HSTAConfig`, `PrepConfig` and `TrainConfig` are the one statement of what each
field takes; this module reads them (``dataclasses.fields`` + ``typing.get_type_hints``), so an
option given as text (``--set use_csta=false``, ``--prep flip=no``) and a value given from Python
(``create_model(num_classes=True)``) are judged by the same rule:

- ``bool``: true/false, yes/no, 1/0 (any case); from Python, a bool only.
- ``int``: a whole number (not ``2.5``, not a bool).
- ``float``: a finite number (not nan or inf, not a bool); a whole number is fine.
- ``str``: the text itself (one pair of surrounding quotes is dropped); ``Literal[...]``: one of its values.
- ``X | None``: ``none`` or ``null`` (any case) is None; ``X | Y``: the first that fits.
- ``tuple[X, ...]`` / ``tuple[X, Y]``: comma-separated items, optionally in ``(...)`` or ``[...]``
  (``video,special``; ``(2,1),(1,3)`` for a tuple of pairs); from Python, a tuple or list.

Every refusal is a one-line `ConfigError` naming the class, the field and the value, and saying what
the field takes (its type in words, or the field's ``metadata["expects"]`` where that says it better). Ranges (a rate
in [0, 1), a positive size) are each dataclass's own ``__post_init__``; types are checked here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError, check_fields

__all__ = ["field_types", "parse_field", "parse_assignments", "check_field_types", "describe",
           "TRUE_WORDS", "FALSE_WORDS", "NONE_WORDS"]

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
NONE_WORDS = ("none", "null")
_INT_TEXT = re.compile(r"[+-]?\d+")
_CLOSING = {"(": ")", "[": "]"}


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Field name -> declared type of the dataclass ``cls`` (string annotations resolved)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def _expects(cls: type) -> dict[str, str]:
    """Field name -> what it takes, in words, for the fields whose ``metadata["expects"]`` says it
    better than their type does (``stage_blocks``: one pair per stage); the others are described."""
    return {f.name: f.metadata["expects"] for f in dataclasses.fields(cls) if "expects" in f.metadata}


def _union_args(hint: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _tuple_items(hint: Any) -> tuple[Any, ...] | None:
    """The item types of a ``tuple[...]`` hint; ``(X, Ellipsis)`` for ``tuple[X, ...]``; None if not a tuple."""
    if hint is tuple:
        return (Any, Ellipsis)
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)
    return None


_NOUNS = {bool: ("true or false", "booleans"), int: ("a whole number", "whole numbers"),
          float: ("a finite number", "finite numbers"), str: ("a text", "texts"), type(None): ("none", "nones"),
          Any: ("anything", "values")}


def describe(hint: Any, plural: bool = False) -> str:
    """What ``hint`` takes, in words: ``int | tuple[int, ...]`` -> "a whole number or a tuple of whole numbers"."""
    if hint in _NOUNS:
        return _NOUNS[hint][plural]
    union = _union_args(hint)
    if union is not None:
        return " or ".join(describe(h, plural) for h in sorted(union, key=lambda h: h is type(None)))
    if typing.get_origin(hint) is typing.Literal:
        return ("values among " if plural else "one of ") + ", ".join(repr(v) for v in typing.get_args(hint))
    items = _tuple_items(hint)
    if items is not None:
        a = "tuples" if plural else "a tuple"
        if len(items) == 2 and items[1] is Ellipsis:
            return f"{a} of {describe(items[0], True)}"
        if len(set(items)) == 1:
            return f"{a} of {len(items)} {describe(items[0], True)}"
        return f"{a} (" + ", ".join(describe(h) for h in items) + ")"
    return getattr(hint, "__name__", str(hint))


class _Refused(Exception):
    """A text or value that does not fit a type; ``why`` completes "must be ..."."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


# ----------------------------------------------------------------------------- text -> value

def _split_items(text: str) -> list[str]:
    """The top-level comma-separated items of ``text``, one enclosing (...) or [...] pair dropped;
    `_Refused` saying what is wrong with the brackets or commas."""
    t = text.strip()
    if t[:1] in _CLOSING and _encloses(t):
        t = t[1:-1].strip()
    items, open_, start = [], [], 0
    for i, ch in enumerate(t):
        if ch in _CLOSING:
            open_.append(_CLOSING[ch])
        elif ch in ")]":
            if not open_ or open_.pop() != ch:
                raise _Refused(f"a {ch!r} closes no bracket it matches")
        elif ch == "," and not open_:
            items.append(t[start:i].strip())
            start = i + 1
    if open_:
        raise _Refused("a bracket is left open")
    last = t[start:].strip()
    if last:            # "video," is the one-item tuple, as in Python
        items.append(last)
    if any(not item for item in items):
        raise _Refused("an item is empty")
    return items


def _encloses(t: str) -> bool:
    """Whether the bracket opening ``t`` is the one closing it ("(1,2)" yes; "(1,2),(3,4)" no)."""
    depth = 0
    for i, ch in enumerate(t):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return i == len(t) - 1 and _CLOSING[t[0]] == ch
    return False


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _from_text(hint: Any, text: str) -> Any:
    """``text`` as a value of type ``hint``; `_Refused` when it is not one."""
    word = text.strip()
    union = _union_args(hint)
    if union is not None:
        if type(None) in union and word.lower() in NONE_WORDS:
            return None
        for arm in (h for h in union if h is not type(None)):
            try:
                return _from_text(arm, text)
            except _Refused:
                continue
        raise _Refused(describe(hint))
    if hint is bool:
        low = word.lower()
        if low in TRUE_WORDS or low in FALSE_WORDS:
            return low in TRUE_WORDS
        raise _Refused(f"{describe(bool)} (also yes/no or 1/0)")
    if hint is int:
        if not _INT_TEXT.fullmatch(word):
            raise _Refused(describe(int))
        return int(word)
    if hint is float:
        try:
            value = float(word)
        except ValueError:
            raise _Refused(describe(float)) from None
        if not math.isfinite(value):
            raise _Refused(describe(float))
        return value
    if hint is str or hint is Any:
        return _unquote(word)
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        for choice in choices:
            try:
                if _from_text(type(choice), text) == choice:
                    return choice
            except _Refused:
                continue
        raise _Refused(describe(hint))
    items = _tuple_items(hint)
    if items is not None:
        try:
            parts = _split_items(word)
        except _Refused as exc:
            raise _Refused(f"{describe(hint)} ({exc.why})") from None
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(_from_text(items[0], p) for p in parts)
        if len(parts) != len(items):
            raise _Refused(f"{describe(hint)} ({len(parts)} given)")
        return tuple(_from_text(h, p) for h, p in zip(items, parts, strict=True))
    raise _Refused(describe(hint))


def parse_field(cls: type, name: str, text: str, *, flag: str | None = None) -> Any:
    """The value the text ``text`` gives the field ``name`` of the dataclass ``cls``, typed by its
    annotation (ranges are the dataclass's to check). ConfigError naming the field and the text
    when it does not fit; ``flag`` (e.g. "--set") is how the user gave it, for the message."""
    check_fields(cls, [name], f"{cls.__name__} field(s)")
    hint = field_types(cls)[name]
    try:
        return _from_text(hint, text)
    except _Refused as exc:
        where = f"{flag} {name}={text}: {cls.__name__}.{name}" if flag else f"{cls.__name__}.{name}={text!r}:"
        raise ConfigError(f"{where} must be {_expects(cls).get(name, exc.why)}") from None


def parse_assignments(cls: type, items: Iterable[str], *, flag: str, what: str) -> dict[str, Any]:
    """``["key=value", ...]`` (as ``--set`` and ``--prep`` give them) -> {field: typed value} for the
    dataclass ``cls``. ConfigError for an item without ``=``, for unknown names (all of them, as
    ``check_fields`` words it with ``what``, e.g. "model option(s)") and for a value of the wrong type."""
    pairs = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        pairs.append((key.strip(), value))
    check_fields(cls, [k for k, _ in pairs], what)
    return {key: parse_field(cls, key, value, flag=flag) for key, value in pairs}


# ----------------------------------------------------------------------------- value check

def _check_value(hint: Any, value: Any) -> None:
    """`_Refused` when ``value`` (given from Python) is not of type ``hint``."""
    union = _union_args(hint)
    if union is not None:
        for arm in union:
            try:
                _check_value(arm, value)
                return
            except _Refused:
                continue
        raise _Refused(describe(hint))
    if hint is type(None):
        if value is not None:
            raise _Refused("none")
    elif hint is bool:
        if not isinstance(value, bool):
            raise _Refused(describe(bool))
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _Refused(describe(int))
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise _Refused(describe(float))
    elif hint is str:
        if not isinstance(value, str):
            raise _Refused(describe(str))
    elif typing.get_origin(hint) is typing.Literal:
        if not any(isinstance(value, bool) == isinstance(c, bool) and value == c for c in typing.get_args(hint)):
            raise _Refused(describe(hint))
    elif (items := _tuple_items(hint)) is not None:
        if not isinstance(value, (tuple, list)):
            raise _Refused(describe(hint))
        if len(items) == 2 and items[1] is Ellipsis:
            if items[0] is not Any:
                for v in value:
                    _check_value(items[0], v)
        elif len(value) != len(items):
            raise _Refused(describe(hint))
        else:
            for h, v in zip(items, value, strict=True):
                _check_value(h, v)
    # any other annotation (Any, a class of the package): not this module's to judge


def check_field_types(obj: Any) -> None:
    """ConfigError naming the first field of the dataclass instance ``obj`` whose value is not of
    its declared type (``num_classes=True``, ``drop_rate="0.1"``, ``drop_rate=nan``). Called first
    in each configuration's ``__post_init__``, so the range checks after it see numbers."""
    cls = type(obj)
    for name, hint in field_types(cls).items():
        value = getattr(obj, name)
        try:
            _check_value(hint, value)
        except _Refused:
            why = _expects(cls).get(name) or describe(hint)
            raise ConfigError(f"{cls.__name__}.{name}={value!r}: must be {why}") from None
