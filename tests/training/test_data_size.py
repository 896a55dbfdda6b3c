"""The data-size note (issue 26): a from-scratch run on too few clips says so before it trains."""

from __future__ import annotations

import pytest

from hsta_edu.training import FROM_SCRATCH_MIN_CLIPS, data_size_note


def test_note_for_few_clips_from_scratch_on_frames_only():
    note = data_size_note(18)
    assert note is not None and "about 18 clips" in note and "chance" in note
    assert "hsta-edu demo" in note and "--flow" in note          # what to run instead
    assert "--init hsta-tiny-mae-synthme" in note                # the shipped encoders, named
    assert data_size_note(FROM_SCRATCH_MIN_CLIPS - 1) is not None
    assert data_size_note(FROM_SCRATCH_MIN_CLIPS) is None      # enough clips
    assert data_size_note(18, special="flow") is None           # the flow input learns from few clips
    assert data_size_note(18, pretrained=True) is None          # pretrained weights


def test_budget_note_says_when_min_steps_raises_the_epochs():
    from hsta_edu.training import recipe
    cfg = recipe("fast")
    note = cfg.budget_note(90)
    n = cfg.for_data(90).epochs
    assert note is not None and f"{n} epochs instead of {cfg.epochs}" in note and "--epochs" in note
    assert "90 training clips make" in note
    assert "90 training clips (median fold) make" in cfg.budget_note(90, what="training clips (median fold)")
    assert n * cfg.steps_per_epoch(90) >= cfg.min_steps > (n - 1) * cfg.steps_per_epoch(90)
    assert recipe("fast", epochs=3).budget_note(90) is None           # an explicit budget is run as given
    big = cfg.min_steps * cfg.batch_size                               # one epoch alone makes min_steps
    assert cfg.budget_note(big) is None and cfg.for_data(big).epochs == cfg.epochs


def test_command_line_epochs_and_min_steps():
    from hsta_edu.cli.options import check_arguments, train_config_for
    from hsta_edu.cli.parser import build_parser
    from hsta_edu.errors import ConfigError
    parse = build_parser().parse_args
    assert train_config_for(parse(["loso", "--data", "x"]))[1].min_steps > 0         # the fast recipe's
    assert train_config_for(parse(["loso", "--data", "x", "--epochs", "3"]))[1].min_steps == 0
    cfg = train_config_for(parse(["loso", "--data", "x", "--epochs", "3", "--min-steps", "40"]))[1]
    assert (cfg.epochs, cfg.min_steps, cfg.for_data(32).epochs) == (3, 40, 20)        # batch 16: 2 steps
    with pytest.raises(ConfigError, match="--min-steps -1"):
        check_arguments(parse(["loso", "--data", "x", "--min-steps", "-1"]))


def test_threshold_is_the_smallest_measured_training_fold_and_the_note_quotes_the_curve():
    from hsta_edu.evaluate.curve import measured_learning_curve
    rows = [r for r in measured_learning_curve()["rows"] if not r.get("init")]
    smallest = min(rows, key=lambda r: r["clips"])
    assert FROM_SCRATCH_MIN_CLIPS == smallest["clips"] * (smallest["subjects"] - 1) // smallest["subjects"]
    lo = min(r["uf1"] for r in rows if r["clips"] == smallest["clips"])
    note = data_size_note(FROM_SCRATCH_MIN_CLIPS - 1)
    assert f"{smallest['clips']} clips" in note and f"{lo:.2f}-" in note


def test_note_survives_a_broken_curve_file(monkeypatch, tmp_path):
    import hsta_edu.evaluate.curve as curve
    bad = tmp_path / "learning_curve.json"
    bad.write_text('{"rows": [{"clips": "x"}]}')
    monkeypatch.setattr(curve, "MEASURED", bad)
    monkeypatch.setattr(curve.measured_learning_curve, "__defaults__", (bad,))
    note = data_size_note(18)
    assert note is not None and "smallest corpus measured" not in note and "about 18 clips" in note
