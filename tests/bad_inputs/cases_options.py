"""Bad inputs of issue 24: options given as text (``--set``, ``--prep``, ``--val-subjects``) and
configuration values of the wrong type from Python. A command-line case makes the call the command
makes before any data is read (`check_arguments` on the parsed arguments, with a data folder that
does not exist, so an option checked late would fail on the data instead); tests/cli/test_typed_options.py
runs the same mistakes through ``hsta_edu.cli.main``."""

from __future__ import annotations

from pathlib import Path

from hsta_edu import create_model
from hsta_edu.cli import build_parser
from hsta_edu.cli.options import _prep_config, check_arguments, overrides_from_args, probe_config
from hsta_edu.data.prep import PrepConfig
from hsta_edu.model.csta import CSTA
from hsta_edu.training import recipe

from .cases import Case, _Seen


def _checked(tmp: Path, *argv: str, command: str = "loso"):
    """The arguments of ``hsta-edu COMMAND --data <tmp>/no-data ARGV``, checked as the command checks them."""
    args = build_parser().parse_args([command, "--data", str(tmp / "no-data"), "--no-progress", *argv])
    check_arguments(args)
    return args


def c_set_bool_false(tmp: Path):
    args = _checked(tmp, "--set", "use_csta=false")
    model = create_model(args.preset, **overrides_from_args(args, 3))
    n = sum(isinstance(m, CSTA) for m in model.modules())
    raise _Seen("works", "ok", f"works: use_csta={model.config.use_csta!r}, {n} CSTA modules in the model")


def c_set_bool_maybe(tmp: Path):
    _checked(tmp, "--set", "qkv_bias=maybe")


def c_set_float_nan(tmp: Path):
    _checked(tmp, "--set", "drop_rate=nan")


def c_set_int_fraction(tmp: Path):
    _checked(tmp, "--set", "num_stages=2.5")


def c_set_tuple_of_names(tmp: Path):
    args = _checked(tmp, "--set", "modalities=video")
    cfg = create_model(args.preset, **overrides_from_args(args, 3)).config
    raise _Seen("works", "ok", f"works: modalities={cfg.modalities!r}")


def c_prep_bool_false(tmp: Path):
    args = _checked(tmp, "--prep", "flip=false")
    prep = _prep_config(args, probe_config(args))
    raise _Seen("works", "ok", f"works: PrepConfig.flip={prep.flip!r}")


def c_prep_bool_maybe(tmp: Path):
    _checked(tmp, "--prep", "flip=maybe")


def c_prep_out_of_range(tmp: Path):
    _checked(tmp, "--prep", "photometric=1.5")


def c_val_subjects_negative(tmp: Path):
    _checked(tmp, "--val-subjects", "-1")


def c_val_subjects_nan(tmp: Path):
    _checked(tmp, "--val-subjects", "nan", command="train")


def c_val_subjects_fraction_above_one(tmp: Path):
    _checked(tmp, "--val-subjects", "1.5", command="kfold")


def c_num_classes_bool(tmp: Path):
    create_model("hsta-tiny", num_classes=True)


def c_model_bool_as_text(tmp: Path):
    create_model("hsta-tiny", use_csta="false")


def c_prep_bool_as_text(tmp: Path):
    PrepConfig(flip="false")


def c_recipe_int_fraction(tmp: Path):
    recipe("fast", epochs=2.5)


def c_recipe_nan(tmp: Path):
    recipe("fast", lr=float("nan"))


def c_set_num_classes(tmp: Path):
    _checked(tmp, "--set", "num_classes=5")


def c_cluster_option_out_of_range(tmp: Path):
    _checked(tmp, "--launcher", "local", "--cpus-per-task", "0")


def c_slurm_without_slurm(tmp: Path):
    import os
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(tmp)          # a machine without Slurm's commands (this test's empty folder)
    try:
        _checked(tmp, "--launcher", "slurm")
    finally:
        os.environ["PATH"] = old


OPTION_CASES: list[Case] = [
    Case("`--set use_csta=false` - `hsta-edu loso`", "works", "use_csta=False, 0 CSTA modules", c_set_bool_false),
    Case("`--set qkv_bias=maybe` (not a boolean) - `hsta-edu loso`", "error", "qkv_bias=maybe", c_set_bool_maybe),
    Case("`--set drop_rate=nan` - `hsta-edu loso`", "error", "drop_rate=nan", c_set_float_nan),
    Case("`--set num_stages=2.5` (an integer field) - `hsta-edu loso`", "error", "num_stages=2.5",
         c_set_int_fraction),
    Case("`--set modalities=video` (a tuple of names) - `hsta-edu loso`", "works", "('video',)", c_set_tuple_of_names),
    Case("`--prep flip=false` - `hsta-edu loso`", "works", "flip=False", c_prep_bool_false),
    Case("`--prep flip=maybe` - `hsta-edu loso`", "error", "flip=maybe", c_prep_bool_maybe),
    Case("`--prep photometric=1.5` (out of range) - `hsta-edu loso`", "error", "photometric=1.5",
         c_prep_out_of_range),
    Case("`--val-subjects -1` - `hsta-edu loso`", "error", "--val-subjects -1", c_val_subjects_negative),
    Case("`--val-subjects nan` - `hsta-edu train`", "error", "--val-subjects nan", c_val_subjects_nan),
    Case("`--val-subjects 1.5` (neither a count nor a fraction) - `hsta-edu kfold`", "error", "--val-subjects 1.5",
         c_val_subjects_fraction_above_one),
    Case("a bool for an integer - `create_model(num_classes=True)`", "error", "num_classes=True", c_num_classes_bool),
    Case("a text for a boolean - `create_model(use_csta=\"false\")`", "error", "use_csta='false'",
         c_model_bool_as_text),
    Case("a text for a boolean - `PrepConfig(flip=\"false\")`", "error", "flip='false'", c_prep_bool_as_text),
    Case("a fraction for an integer - `recipe(\"fast\", epochs=2.5)`", "error", "epochs=2.5", c_recipe_int_fraction),
    Case("NaN learning rate - `recipe(\"fast\", lr=nan)`", "error", "lr=nan", c_recipe_nan),
    Case("`--set num_classes=5` (the data decides) - `hsta-edu loso`", "error", "num_classes=5", c_set_num_classes),
    Case("`--cpus-per-task 0` - `hsta-edu loso --launcher local`", "error", "--cpus-per-task 0",
         c_cluster_option_out_of_range),
    Case("`--launcher slurm` on a machine without Slurm - `hsta-edu loso`", "error", "--launcher slurm",
         c_slurm_without_slurm),
]
