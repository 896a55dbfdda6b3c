"""Property-based tests of the clip sampler (hsta_edu.data.prep): clip_span, uniform_positions,
sample_pool_positions. No input makes them raise anything but the package's own errors; what they
return stays inside onset..offset, sorted, and is deterministic at test time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hsta_edu.data.clip import Clip
from hsta_edu.data.prep import clip_span, sample_pool_positions, uniform_positions
from hsta_edu.errors import HSTAError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
frame_no = st.one_of(st.integers(-(2**40), 2**40), st.integers(-(2**80), 2**80))


@st.composite
def clips(draw) -> Clip:
    """A Clip as a loader (or a careless user) might build it: any frame numbers, sorted or not,
    possibly fewer files than numbers, any onset/apex/offset (often near the frames)."""
    kind = draw(st.sampled_from(["contiguous", "gappy", "arbitrary"]))
    if kind == "contiguous":
        start = draw(st.integers(-5, 10**6))
        nums = list(range(start, start + draw(st.integers(0, 40))))
    elif kind == "gappy":
        nums = sorted(draw(st.sets(st.integers(-50, 500), max_size=40)))
    else:
        nums = draw(st.lists(frame_no, max_size=20))
    near = st.integers(min(nums, default=0) - 3, max(nums, default=0) + 3)
    pick = st.one_of(near, frame_no)
    onset, apex, offset = draw(pick), draw(pick), draw(pick)
    n_files = len(nums) if draw(st.booleans()) or not nums else draw(st.integers(0, len(nums) + 2))
    frames = tuple(Path(f"f{i}.jpg") for i in range(n_files))
    return Clip("t", "s1", "c1", frames, tuple(nums), onset, apex, offset, "x")


@st.composite
def usable_clips(draw) -> Clip:
    """Clips as loaders build them (sorted unique frame numbers, one file each, at least one frame
    inside onset..offset), with gaps, numbering from anywhere and any apex."""
    nums = sorted(draw(st.sets(st.integers(-100, 10**4), min_size=1, max_size=40)))
    inside = draw(st.sampled_from(nums))
    onset = inside - draw(st.integers(0, 5))
    offset = inside + draw(st.integers(0, 5))
    apex = draw(st.one_of(st.integers(onset, offset), st.integers(-200, 2 * 10**4), st.sampled_from(nums)))
    frames = tuple(Path(f"f{i}.jpg") for i in range(len(nums)))
    return Clip("t", "s1", "c1", frames, tuple(nums), onset, apex, offset, "x")


def _span(clip: Clip):
    try:
        return clip_span(clip)
    except HSTAError:
        return None
    # any other exception fails the test


@SETTINGS
@given(clips())
def test_clip_span_raises_only_package_errors_and_stays_in_range(clip):
    span = _span(clip)
    if span is None:
        return
    i_on, i_ap, i_off = span
    n = len(clip.frames)
    assert all(isinstance(i, int) for i in span)
    assert 0 <= i_on <= i_ap <= i_off < n
    assert clip_span(clip) == span                     # deterministic


@SETTINGS
@given(st.one_of(usable_clips(), clips()))
def test_span_frames_lie_within_onset_offset(clip):
    span = _span(clip)
    assume(span is not None)
    nums = clip.frame_numbers
    i_on, i_ap, i_off = span
    assert clip.onset <= nums[i_on] <= nums[i_ap] <= nums[i_off] <= clip.offset
    # the first and last frames inside the annotation: nothing inside onset..offset is left out
    assert all(not clip.onset <= n <= clip.offset for n in nums[:i_on] + nums[i_off + 1:])
    if clip.apex in nums[i_on:i_off + 1]:
        assert nums[i_ap] == clip.apex


@SETTINGS
@given(st.integers(-10**6, 10**6), st.integers(0, 10**4), st.integers(-3, 200))
def test_uniform_positions(start, length, count):
    stop = start + length
    try:
        pos = uniform_positions(start, stop, count)
    except HSTAError:
        assert count < 1
        return
    assert pos.shape == (count,) and pos.dtype == np.int64
    assert pos.min() >= start and pos.max() <= stop
    assert np.all(np.diff(pos) >= 0)
    assert pos[0] == start and pos[-1] == stop or count == 1
    np.testing.assert_array_equal(pos, uniform_positions(start, stop, count))


@SETTINGS
@given(st.integers(-10**6, 10**6), st.integers(-10**4, -1), st.integers(1, 50))
def test_uniform_positions_empty_span_is_a_package_error(start, neg, count):
    try:
        uniform_positions(start, start + neg, count)
    except HSTAError as exc:
        assert str(start) in str(exc)
    else:
        raise AssertionError("an empty span must raise")


@SETTINGS
@given(st.integers(-2, 64), st.integers(-2, 8), st.booleans(), st.integers(0, 2**31))
def test_sample_pool_positions(num_frames, pool_factor, jitter, seed):
    gen = torch.Generator().manual_seed(seed)
    try:
        pos = sample_pool_positions(num_frames, pool_factor, gen, jitter=jitter)
    except HSTAError:
        assert num_frames < 1 or pool_factor < 1
        return
    assert num_frames >= 1 and pool_factor >= 1
    pool = (num_frames - 1) * pool_factor + 1
    assert pos.shape == (num_frames,) and pos.dtype == np.int64
    assert pos.min() >= 0 and pos.max() < pool
    assert np.all(np.diff(pos) >= 0)
    if not jitter:
        np.testing.assert_array_equal(pos, np.arange(num_frames) * pool_factor)
        np.testing.assert_array_equal(pos, sample_pool_positions(num_frames, pool_factor, None, jitter=False))
    else:   # same seed, same positions; each moved by at most pool_factor // 2
        again = sample_pool_positions(num_frames, pool_factor, torch.Generator().manual_seed(seed), jitter=True)
        np.testing.assert_array_equal(pos, again)
        assert np.all(np.abs(pos - np.arange(num_frames) * pool_factor) <= pool_factor // 2 + pool_factor)


@SETTINGS
@given(st.one_of(usable_clips(), clips()), st.integers(1, 16), st.integers(1, 4))
def test_clip_to_pool_positions_stay_within_onset_offset(clip, num_frames, pool_factor):
    """What load_prepared does: span -> pool of (T-1)*k+1 indices -> T sampled frames."""
    span = _span(clip)
    assume(span is not None)
    i_on, _, i_off = span
    pool_idx = uniform_positions(i_on, i_off, (num_frames - 1) * pool_factor + 1)
    pos = sample_pool_positions(num_frames, pool_factor, None, jitter=False)
    chosen = pool_idx[pos]
    assert np.all(np.diff(chosen) >= 0)
    assert chosen.min() >= i_on and chosen.max() <= i_off
    assert chosen[0] == i_on and chosen[-1] == i_off or num_frames == 1


@SETTINGS
@given(usable_clips())
def test_usable_clips_always_have_a_span(clip):
    """A clip a loader accepts never fails in the sampler."""
    i_on, i_ap, i_off = clip_span(clip)
    assert clip.onset <= clip.frame_numbers[i_on] <= clip.frame_numbers[i_off] <= clip.offset
