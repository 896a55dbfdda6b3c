"""Typed options (issue 24): every field of `HSTAConfig`, `PrepConfig` and `TrainConfig` given as text
(``--set``, ``--prep``) is parsed by its declared type, and given from Python is checked by it.

The per-field tests are generated from the dataclasses themselves (``dataclasses.fields`` and the
field types): a new field gets its tests without a line here, and a field of a type these samples
do not know fails `test_every_field_type_has_samples`. The texts and the values they must give are
written here from the types, independently of `hsta_edu.typed_fields`. The end of the file runs the
bugs of the hostile pass through ``hsta_edu.cli.main``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import hsta_edu.evaluate
import hsta_edu.runs
from hsta_edu import create_model
from hsta_edu.cli import main
from hsta_edu.cli import protocol as cli_protocol
from hsta_edu.cli.options import _prep_config
from hsta_edu.data.prep import PrepConfig
from hsta_edu.errors import ConfigError
from hsta_edu.evaluate import check_val_subjects
from hsta_edu.model.csta import CSTA
from hsta_edu.model.hsta import HSTAConfig
from hsta_edu.training import TrainConfig
from hsta_edu.typed_fields import check_field_types, field_types, parse_assignments, parse_field

CONFIGS = (HSTAConfig, PrepConfig, TrainConfig)
FIELDS = [(cls, f.name) for cls in CONFIGS for f in dataclasses.fields(cls)]
IDS = [f"{cls.__name__}.{name}" for cls, name in FIELDS]
NONE = type(None)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _union(hint: Any) -> tuple[Any, ...] | None:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else None


def _tuple(hint: Any) -> tuple[Any, ...] | None:
    return typing.get_args(hint) if typing.get_origin(hint) is tuple else None


# ----------------------------------------------------------------------------- samples by type

def good(hint: Any) -> list[tuple[str, Any]]:
    """(text, the value it must give) for a field of type ``hint``."""
    if hint is bool:
        return [("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("1", True), ("0", False),
                (" True ", True)]
    if hint is int:
        return [("3", 3), ("-2", -2), (" 7 ", 7), ("+4", 4)]
    if hint is float:
        return [("0.25", 0.25), ("3", 3.0), ("1e-3", 1e-3), ("-0.5", -0.5)]
    if hint is str:
        return [("frames", "frames"), ("'flow'", "flow"), ('"cuda:1"', "cuda:1")]
    union = _union(hint)
    if union is not None:
        out = [("none", None), ("NULL", None)] if NONE in union else []
        for arm in (a for a in union if a is not NONE):
            out += good(arm)
        return out
    items = _tuple(hint)
    if items is not None:
        if items[-1] is Ellipsis:      # items of tuples: written in brackets
            samples = [s for s in good(items[0]) if _tuple(items[0]) is None or s[0][:1] in "(["]
            (a, va), (b, vb) = samples[:2]
            return [(f"{a},{b}", (va, vb)), (f"({a}, {b})", (va, vb)), (f"[{a}]", (va,)), (f"{a},", (va,)),
                    ("()", ())]
        parts = [good(h)[i % len(good(h))] for i, h in enumerate(items)]
        text, value = ", ".join(t for t, _ in parts), tuple(v for _, v in parts)
        return [(f"({text})", value), (f"[{text}]", value), (text, value)]
    raise AssertionError(f"no samples for the field type {hint!r}: add them to good() and bad()")


def bad(hint: Any) -> list[str]:
    """Texts no field of type ``hint`` may take."""
    if hint is bool:
        return ["maybe", "2", "yes please", "none"]
    if hint is int:
        return ["2.5", "true", "x", "nan", "1e3", "none"]
    if hint is float:
        return ["nan", "inf", "-inf", "abc", "true", "none"]
    if hint is str:
        return []                  # any text is a text: the dataclass checks the choices (see below)
    union = _union(hint)
    if union is not None:          # bad for every arm
        arms = [bad(a) for a in union if a is not NONE]
        return [t for t in arms[0] if all(t in arm for arm in arms) and not (NONE in union and t == "none")]
    items = _tuple(hint)
    if items is not None:
        if items[-1] is Ellipsis:
            return [t for t in bad(items[0]) if t != "none"] + ["(1", "1)", "1,,2", "(1,2]"]
        first = good(items[0])[0][0]
        return [t for t in bad(items[0]) if t != "none"] + [", ".join([first] * (len(items) + 1)), "(1"]
    raise AssertionError(f"no samples for the field type {hint!r}: add them to good() and bad()")


#: values from Python, some of the right type for some field; `wrong_values` keeps those that `fits` refuses
POOL: list[Any] = [None, True, 0, 3, 2.5, math.nan, math.inf, "3", "false", "text", b"x", (True,), (2.5,), ("3",),
                   (1,), ("video",), (1, 2), ((1, 2),), (math.nan, 0.5), [0.5, 0.5], (1, 2, 3, 4), (1.5, 2, 3, 4)]


def fits(hint: Any, value: Any) -> bool:
    """Whether ``value`` is of the type ``hint`` (a bool is no number; nan and inf are no float)."""
    if hint is NONE:
        return value is None
    if hint is bool:
        return type(value) is bool
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    union = _union(hint)
    if union is not None:
        return any(fits(a, value) for a in union)
    items = _tuple(hint)
    if items is not None:
        if not isinstance(value, (tuple, list)):
            return False
        if items[-1] is Ellipsis:
            return all(fits(items[0], v) for v in value)
        return len(value) == len(items) and all(fits(h, v) for h, v in zip(items, value, strict=True))
    raise AssertionError(f"no samples for the field type {hint!r}")


def wrong_values(hint: Any) -> list[Any]:
    """Values from Python that a field of type ``hint`` must refuse."""
    return [v for v in POOL if not fits(hint, v)]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types, all the way down (True is not 1, 3.0 is not 3)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def to_text(value: Any) -> str:
    """How a user writes ``value`` on the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        inner = ",".join(to_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


# ----------------------------------------------------------------------------- generated per field

def test_the_fields_are_all_here():
    assert len(FIELDS) == sum(len(dataclasses.fields(c)) for c in CONFIGS) > 60
    assert field_types(HSTAConfig)["use_csta"] is bool and field_types(PrepConfig)["flip"] is bool
    assert field_types(TrainConfig)["drop_path"] == (float | None)


@pytest.mark.parametrize("cls, name", FIELDS, ids=IDS)
def test_every_field_type_has_samples(cls, name):
    hint = _hints(cls)[name]
    assert good(hint) and len(wrong_values(hint)) >= 5
    assert bad(hint) or hint is str or _union(hint) == (str, NONE), f"{cls.__name__}.{name}: no wrong-typed text"


@pytest.mark.parametrize("cls, name", FIELDS, ids=IDS)
def test_valid_text_gives_the_typed_value(cls, name):
    for text, value in good(_hints(cls)[name]):
        got = parse_field(cls, name, text)
        assert same(got, value), f"{cls.__name__}.{name}: {text!r} gave {got!r}, expected {value!r}"


@pytest.mark.parametrize("cls, name", FIELDS, ids=IDS)
def test_default_written_as_text_round_trips_into_the_config(cls, name):
    default = getattr(cls(), name)
    parsed = parse_field(cls, name, to_text(default))
    assert dataclasses.replace(cls(), **{name: parsed}) == cls()
    if isinstance(default, bool):      # the other value too: use_csta=false must really be False
        flipped = dataclasses.replace(cls(), **{name: parse_field(cls, name, to_text(not default))})
        assert getattr(flipped, name) is (not default)


@pytest.mark.parametrize("cls, name", FIELDS, ids=IDS)
def test_wrong_typed_text_is_a_config_error_naming_the_field(cls, name):
    for text in bad(_hints(cls)[name]):
        with pytest.raises(ConfigError) as err:
            parse_field(cls, name, text)
        message = str(err.value)
        assert f"{cls.__name__}.{name}={text!r}: must be " in message and "\n" not in message, message
        with pytest.raises(ConfigError) as err:
            parse_assignments(cls, [f"{name}={text}"], flag="--opt", what="option(s)")
        assert str(err.value).startswith(f"--opt {name}={text}: {cls.__name__}.{name} must be "), str(err.value)


@pytest.mark.parametrize("cls, name", FIELDS, ids=IDS)
def test_wrong_typed_value_from_python_is_a_config_error_naming_the_field(cls, name):
    for value in wrong_values(_hints(cls)[name]):
        with pytest.raises(ConfigError) as err:
            cls(**{name: value})
        assert f"{cls.__name__}.{name}={value!r}: must be " in str(err.value), (value, str(err.value))


TEXT_FIELDS = [(cls, name) for cls, name in FIELDS if _hints(cls)[name] is str]


@pytest.mark.parametrize("cls, name", TEXT_FIELDS, ids=[f"{c.__name__}.{n}" for c, n in TEXT_FIELDS])
def test_text_fields_refuse_a_name_they_do_not_know(cls, name):
    # TrainConfig.device (str | None) is not here: pick_device names a bad device when the run starts
    with pytest.raises(ConfigError, match=rf"{name}.*'bogus'"):
        cls(**{name: parse_field(cls, name, "bogus")})


@pytest.mark.parametrize("cls, field, text", [
    (HSTAConfig, "drop_rate", "1.0"), (HSTAConfig, "attn_drop_rate", "-0.1"), (HSTAConfig, "head_drop_rate", "1"),
    (HSTAConfig, "num_classes", "0"), (HSTAConfig, "embed_dim", "-64"), (HSTAConfig, "video_blocks", "-1"),
    (HSTAConfig, "mlp_ratio", "0"), (HSTAConfig, "num_stages", "-1"),
    (PrepConfig, "photometric", "1"), (PrepConfig, "face_margin", "1.5"), (PrepConfig, "shift", "-1"),
    (PrepConfig, "pool_factor", "0"), (PrepConfig, "flow_clip", "0"), (PrepConfig, "magnify", "-2"),
    (PrepConfig, "box", "0,0,0,10"),
    (TrainConfig, "lr", "0"), (TrainConfig, "weight_decay", "-0.05"), (TrainConfig, "label_smoothing", "1"),
    (TrainConfig, "layer_decay", "1.5"), (TrainConfig, "seed", "-1"), (TrainConfig, "betas", "0.9,1.0"),
    (TrainConfig, "eval_every", "0"), (TrainConfig, "num_workers", "-1"), (TrainConfig, "drop_path", "1"),
    (TrainConfig, "grad_clip", "0"), (TrainConfig, "epochs", "0"), (TrainConfig, "warmup_epochs", "-1"),
])
def test_out_of_range_values_are_refused_naming_the_field(cls, field, text):
    value = parse_field(cls, field, text)           # the right type ...
    with pytest.raises(ConfigError, match=field):   # ... out of range
        cls(**{field: value})


def test_stage_blocks_and_modalities_as_text():
    assert parse_field(HSTAConfig, "stage_blocks", "(2,1),(1,3)") == ((2, 1), (1, 3))
    cfg = HSTAConfig(stage_blocks=parse_field(HSTAConfig, "stage_blocks", "((2,1),(1,3))"))
    assert cfg.num_stages == 2 and cfg.depths == ((2, 1), (1, 3))
    assert HSTAConfig(modalities=parse_field(HSTAConfig, "modalities", "video")).modalities == ("video",)
    with pytest.raises(ConfigError, match=r"HSTAConfig.stage_blocks='\(2,1,3\)': must be one \(special_blocks"):
        parse_field(HSTAConfig, "stage_blocks", "(2,1,3)")
    with pytest.raises(ConfigError, match="a bracket is left open"):
        parse_field(HSTAConfig, "modalities", "(video")


def test_check_field_types_is_what_the_configs_run():
    cfg = TrainConfig()
    check_field_types(cfg)
    cfg.epochs = 2.5             # TrainConfig is not frozen: a later assignment is checked when asked
    with pytest.raises(ConfigError, match=r"TrainConfig.epochs=2.5: must be a whole number"):
        check_field_types(cfg)


def test_create_model_refuses_wrong_types_naming_the_field():
    with pytest.raises(ConfigError, match=r"^HSTAConfig.num_classes=True: must be a whole number$"):
        create_model("hsta-tiny", num_classes=True)
    with pytest.raises(ConfigError, match=r"HSTAConfig.use_csta='false': must be true or false"):
        create_model("hsta-tiny", use_csta="false")
    with pytest.raises(ConfigError, match=r"HSTAConfig.drop_rate=nan"):
        create_model("hsta-tiny", drop_rate=float("nan"))
    assert create_model("hsta-tiny", num_classes=3).config.num_classes == 3


def test_unknown_names_are_all_named_once():
    with pytest.raises(ConfigError, match=r"unknown model option\(s\) \['bogus', 'other'\]"):
        parse_assignments(HSTAConfig, ["bogus=1", "use_csta=false", "other=x"], flag="--set", what="model option(s)")
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE, got 'use_csta'"):
        parse_assignments(HSTAConfig, ["use_csta"], flag="--set", what="model option(s)")


# ----------------------------------------------------------------------------- --val-subjects

@pytest.mark.parametrize("value", [0, 0.0, 0.25, 0.999, 1, 1.0, 3, 12.0])
def test_val_subjects_valid(value):
    assert check_val_subjects(value) == value


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf, 1.5, 2.25, True, "1", None])
def test_val_subjects_invalid(value):
    with pytest.raises(ConfigError, match="val_subjects .*must be 0 .* a fraction of them in \\(0, 1\\)"):
        check_val_subjects(value)


# ----------------------------------------------------------------------------- end to end: hsta_edu.cli.main

def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", ["loso", "kfold", "train"])
@pytest.mark.parametrize("args, message", [
    (["--set", "qkv_bias=maybe"], "error: --set qkv_bias=maybe: HSTAConfig.qkv_bias must be true or false"),
    (["--set", "drop_rate=nan"], "error: --set drop_rate=nan: HSTAConfig.drop_rate must be a finite number"),
    (["--set", "num_classes=2.5"], "--set num_classes=2.5: HSTAConfig.num_classes must be a whole number"),
    (["--set", "drop_rate=1.5"], "drop_rate must be in [0, 1), got 1.5"),
    (["--prep", "flip=maybe"], "error: --prep flip=maybe: PrepConfig.flip must be true or false"),
    (["--prep", "photometric=inf"], "--prep photometric=inf: PrepConfig.photometric must be a finite number"),
    (["--prep", "shift=-1"], "PrepConfig.shift=-1: must be an int >= 0"),
    (["--val-subjects", "-1"], "error: --val-subjects -1: must be 0 (no validation split)"),
    (["--val-subjects", "nan"], "error: --val-subjects nan: must be 0"),
    (["--val-subjects", "1.5"], "error: --val-subjects 1.5: must be 0"),
    (["--val-subjects", "inf"], "error: --val-subjects inf: must be 0"),
])
def test_bad_typed_option_is_one_line_before_any_data(command, args, message, tmp_path, capsys):
    # the data folder does not exist: an option checked late would fail on the data instead
    assert main([command, "--data", str(tmp_path / "no-such-data"), "--no-progress", *args]) == 2
    err = _error_line(capsys)
    assert message in err and "no-such-data" not in err, err


def _stop_before_training(monkeypatch) -> dict[str, Any]:
    """Run ``loso`` up to the model and preprocessing it would train with: the data is three fake
    classes, `prepare_run` records the model that ``model_fn`` builds and stops the command."""
    seen: dict[str, Any] = {}

    def datasets(args, model_cfg, progress):
        seen["prep"] = _prep_config(args, model_cfg)
        index = SimpleNamespace(classes=["negative", "positive", "surprise"], dropped=[], warnings=[], name="fake")
        return index, seen["prep"], None, None

    def prepare_run(dataset, protocol, model_fn, cfg, out, **kw):
        seen["model"], seen["info"] = model_fn(), kw["options"].info
        raise ConfigError("stopped before training")

    monkeypatch.setattr(cli_protocol, "datasets_for", datasets)
    monkeypatch.setattr(hsta_edu.runs, "prepare_run", prepare_run)
    return seen


def _loso(tmp_path: Path, capsys, *args: str) -> None:
    assert main(["loso", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress",
                 *args]) == 2
    assert "stopped before training" in _error_line(capsys)


def _n_csta(model) -> int:
    return sum(isinstance(m, CSTA) for m in model.modules())


def test_set_use_csta_false_builds_a_model_without_csta(tmp_path, capsys, monkeypatch):
    seen = _stop_before_training(monkeypatch)
    _loso(tmp_path, capsys)                                           # the control: CSTA is there
    assert seen["model"].config.use_csta is True and _n_csta(seen["model"]) == 2 * 2    # hsta-tiny: 2 stages
    for text in ("false", "False", "no", "0"):
        _loso(tmp_path, capsys, "--set", f"use_csta={text}")
        model = seen["model"]
        assert model.config.use_csta is False and not model.config.csta_active and _n_csta(model) == 0, text
        assert seen["info"]["model_overrides"]["use_csta"] is False
    _loso(tmp_path, capsys, "--set", "use_csta=true", "--set", "modalities=video", "--set", "drop_rate=0.1")
    cfg = seen["model"].config
    assert cfg.use_csta is True and cfg.modalities == ("video",) and cfg.drop_rate == 0.1


def test_prep_flip_false_reaches_the_preprocessing(tmp_path, capsys, monkeypatch):
    seen = _stop_before_training(monkeypatch)
    _loso(tmp_path, capsys)
    assert seen["prep"].flip is True and seen["prep"].magnify == 8.0           # the defaults
    _loso(tmp_path, capsys, "--prep", "flip=false", "--prep", "magnify=0", "--prep", "box=none",
          "--prep", "clip_norm=YES")
    prep = seen["prep"]
    assert prep.flip is False and prep.magnify == 0.0 and prep.box is None and prep.clip_norm is True
    assert seen["info"]["prep"]["flip"] is False
