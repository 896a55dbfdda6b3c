"""The data-size note (issue 26): a from-scratch run on too few clips says so before it trains."""

from __future__ import annotations

from hsta_edu.training import FROM_SCRATCH_MIN_CLIPS, data_size_note


def test_note_for_few_clips_from_scratch_on_frames_only():
    note = data_size_note(18)
    assert note is not None and "about 18 clips" in note and "chance" in note
    assert "hsta-edu demo" in note and "--flow" in note          # what to run instead
    assert data_size_note(FROM_SCRATCH_MIN_CLIPS - 1) is not None
    assert data_size_note(FROM_SCRATCH_MIN_CLIPS) is None      # enough clips
    assert data_size_note(18, special="flow") is None           # the flow input learns from few clips
    assert data_size_note(18, pretrained=True) is None          # pretrained weights
