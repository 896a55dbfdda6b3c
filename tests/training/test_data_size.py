"""The data-size note (issue 26): a from-scratch run on too few clips says so before it trains."""

from __future__ import annotations

import pytest

from hsta_edu.training import FROM_SCRATCH_MIN_CLIPS, data_size_note


def test_note_for_few_clips_from_scratch_on_frames_only():
    note = data_size_note(18)
    assert note is not None and "about 18 clips" in note and "chance" in note
    assert "hsta-edu demo" in note and "--flow" in note          # what to run instead
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
