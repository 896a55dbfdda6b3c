"""SynthME (hsta_edu/data/synth/): determinism, timing, amplitude, masks, class regions, on-disk format."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from hsta_edu.data import synth
from hsta_edu.data.synth import (
    BENCHMARK_CONFIG,
    SAMPLES_CONFIG,
    SynthConfig,
    generate_synthme,
    load_groundtruth,
    make_subject,
    render_clip,
)
from hsta_edu.data.synth.command import main as synth_main
from hsta_edu.errors import ConfigError, DataError

SMALL = SynthConfig(n_subjects=2, clips_per_class=1, seed=3, frame_size=(96, 96), face_size=76.0,
                    duration=(0.04, 0.1), photo_subjects=1)


def test_render_is_deterministic_by_seed():
    a = render_clip(SMALL, 1, "surprise", 0)
    b = render_clip(SMALL, 1, "surprise", 0)
    c = render_clip(SMALL.replace(seed=4), 1, "surprise", 0)
    assert np.array_equal(a.frames, b.frames) and a.onset == b.onset and a.amplitude == b.amplitude
    assert a.frames.shape[0] != c.frames.shape[0] or not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("label", SMALL.classes)
def test_timing_within_range(label):
    for s in range(SMALL.n_subjects):
        c = render_clip(SMALL, s, label, 0, distractors=False)
        n = len(c.frames)
        assert c.onset < c.apex < c.offset
        assert c.frame_numbers[0] == c.onset and c.frame_numbers[-1] == c.offset and n == c.offset - c.onset + 1
        assert c.onset >= SMALL.first_frame[0] > 1          # absolute numbers, not starting at 1
        dur = (c.offset - c.onset) / SMALL.fps
        assert SMALL.duration[0] - 0.5 / SMALL.fps <= dur <= SMALL.duration[1] + 0.5 / SMALL.fps
        assert c.intensity[0] == 0 and c.intensity[-1] == 0
        assert int(np.argmax(c.intensity)) == c.apex - c.onset and c.intensity.max() == pytest.approx(1.0)


def test_amplitude_in_range_from_field_and_frames():
    for s in range(2):
        for label in SMALL.classes:
            c = render_clip(SMALL, s, label, 0, distractors=False)
            lo, hi = SMALL.amplitude
            assert lo <= c.amplitude <= hi
            peak = np.sqrt((c.displacement ** 2).sum(0)).max()
            assert peak == pytest.approx(c.amplitude, rel=1e-4)
            # measured from the rendered pixels: dense flow onset->apex on 4x upsampled frames
            up = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
                  for f in (c.frames[0], c.frames[c.apex - c.onset])]
            flow = cv2.calcOpticalFlowFarneback(up[0], up[1], None, 0.5, 4, 21, 5, 7, 1.5, 0) / 4
            mag = np.linalg.norm(flow, axis=2)[::4, ::4]
            measured = np.percentile(mag[c.mask], 99)
            assert 0.5 * c.amplitude <= measured <= 1.5 * c.amplitude, (s, label, measured, c.amplitude)
            assert np.percentile(mag[~c.mask], 99) < 0.3 * measured


def test_masks_cover_moving_pixels():
    for s in range(2):
        for label in SMALL.classes:
            c = render_clip(SMALL, s, label, 0, distractors=False)
            diff = np.abs(c.frames[c.apex - c.onset].astype(int) - c.frames[0].astype(int)).max(2)
            moving = diff > 12
            assert moving.sum() > 20
            assert (moving & c.mask).sum() / moving.sum() >= 0.99
            assert 0.02 < c.mask.mean() < 0.35                 # local regions, not the whole frame
            assert set(c.masks) == set(c.aus)


def test_classes_move_different_regions():
    cfg = SMALL.replace(photo_subjects=0)
    subj = make_subject(cfg, 0)
    brow_y = subj.landmarks["brow_inner_L"][1] + 1
    nose_y = subj.landmarks["nose_tip"][1]
    H = cfg.frame_size[0]
    rows = np.arange(H)[:, None]
    for k in range(3):
        clips = {lab: render_clip(cfg, subj, lab, k, distractors=False) for lab in cfg.classes}
        for lab, c in clips.items():
            dy = c.displacement[1]
            mag = np.sqrt((c.displacement ** 2).sum(0))
            upper = np.where(rows < brow_y, mag, 0).max()
            lower = np.where(rows > nose_y, mag, 0).max()
            brow_dy = dy[rows[:, 0] < brow_y].sum()
            if lab == "surprise":      # brows up, mouth still
                assert brow_dy < 0 and upper > 0.7 * c.amplitude and lower < 0.05 * c.amplitude
            elif lab == "positive":    # lip corners, brows still
                assert lower > 0.9 * c.amplitude and upper < 0.1 * c.amplitude
            else:                      # brows down (always AU4)
                assert 4 in c.aus and brow_dy > 0


def test_distractors_do_not_depend_on_class_statistics():
    cfg = SMALL.replace(blink_prob=1.0, head_drift=1.0)
    for lab in cfg.classes:
        c = render_clip(cfg, 1, lab, 0)
        drift = np.abs(c.distractors["drift"]).max()
        assert drift <= 1.0 * 1.2 + 1e-6
        assert np.abs(c.distractors["rotation"]).max() <= cfg.head_rotation
    # a clean and a distracted render share the expression (same timing and field)
    a, b = render_clip(cfg, 1, "positive", 0), render_clip(cfg, 1, "positive", 0, distractors=False)
    assert a.apex == b.apex and np.array_equal(a.displacement, b.displacement)
    assert not np.array_equal(a.frames, b.frames)


def test_config_validation_names_the_value():
    with pytest.raises(ConfigError, match="scheme"):
        SynthConfig(scheme="five")
    with pytest.raises(ConfigError, match="amplitude"):
        SynthConfig(amplitude=(3.0, 1.0))
    with pytest.raises(ConfigError, match="label 'angry'"):
        render_clip(SMALL, 0, "angry")


def test_presets_are_sized_as_documented():
    assert SAMPLES_CONFIG.n_subjects * 3 * SAMPLES_CONFIG.clips_per_class == 24
    n = BENCHMARK_CONFIG.n_subjects * len(BENCHMARK_CONFIG.classes) * BENCHMARK_CONFIG.clips_per_class
    assert BENCHMARK_CONFIG.n_subjects == 12 and 250 <= n <= 320
    assert 0.5 <= BENCHMARK_CONFIG.amplitude[0] and BENCHMARK_CONFIG.amplitude[1] <= 3.0
    assert SynthConfig.from_dict(json.loads(json.dumps(BENCHMARK_CONFIG.to_dict()))) == BENCHMARK_CONFIG


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_synthme(tmp_path_factory.mktemp("synthme"), SMALL, progress=False)


def test_on_disk_layout_and_annotation_format(corpus):
    df = pd.read_excel(corpus / "CASME2-coding-20140508.xlsx", sheet_name=0, engine="calamine")
    assert list(df.columns) == ["Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                "Unnamed: 6", "Action Units", "Estimated Emotion"]
    assert pd.ExcelFile(corpus / "CASME2-coding-20140508.xlsx", engine="calamine").sheet_names[0] == "Sheet1"
    assert len(df) == 2 * 3 and sorted(df["Subject"].unique()) == [1, 2]
    assert set(df["Estimated Emotion"]) <= {"disgust", "repression", "happiness", "surprise"}
    obj = pd.read_excel(corpus / "CASME2-ObjectiveClasses.xlsx", engine="calamine")
    assert list(obj.columns) == ["Subject", "Filename", "Objective Class"] and obj["Objective Class"].between(1, 7).all()
    marker = json.loads((corpus / "synthme.json").read_text())
    assert marker["classes"] == ["negative", "positive", "surprise"] and marker["version"] == synth.GENERATOR_VERSION
    for _, row in df.iterrows():
        sub = f"sub{int(row['Subject']):02d}"
        folder = corpus / "CASME2_RAW_selected" / sub / row["Filename"]
        nums = sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg"))
        assert nums == list(range(int(row["OnsetFrame"]), int(row["OffsetFrame"]) + 1)) and nums[0] > 1
        gt = load_groundtruth(corpus, sub, row["Filename"])
        assert (gt["onset"], gt["apex"], gt["offset"]) == (row["OnsetFrame"], row["ApexFrame"], row["OffsetFrame"])
        assert gt["masks"].shape[0] == len(gt["aus"]) and gt["mask"].dtype == bool
        assert marker["emotion_to_class"][row["Estimated Emotion"]] == gt["label"]


def test_generate_refuses_to_clobber(corpus, tmp_path):
    with pytest.raises(DataError, match="overwrite"):
        generate_synthme(corpus, SMALL, progress=False)
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(DataError, match="mine.txt"):
        generate_synthme(tmp_path, SMALL, progress=False)


def test_generate_never_writes_over_a_real_casme2_folder_nor_a_users_files(tmp_path):
    """A real CASME II release has SynthME's very names (the coding sheet, CASME2_RAW_selected/): without
    the synthme.json marker it is refused, ``overwrite`` or not, and every file stays as it was; over a
    SynthME corpus, ``overwrite`` deletes only what the generator wrote."""
    real = tmp_path / "CASME2"
    (real / "CASME2_RAW_selected" / "sub01" / "EP02_01f").mkdir(parents=True)
    (real / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img46.jpg").write_bytes(b"a real frame")
    (real / "CASME2-coding-20140508.xlsx").write_bytes(b"the real coding sheet")
    for overwrite in (False, True):
        with pytest.raises(DataError, match="synthme.json") as exc:
            generate_synthme(real, SMALL, overwrite=overwrite, progress=False)
        assert "CASME2_RAW_selected" in str(exc.value)
        assert (real / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img46.jpg").read_bytes() == b"a real frame"
        assert (real / "CASME2-coding-20140508.xlsx").read_bytes() == b"the real coding sheet"
    corpus = generate_synthme(tmp_path / "synth", SMALL, progress=False)
    mine = corpus / "CASME2_RAW_selected" / "notes.txt"
    mine.write_text("my notes")
    first = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.jpg"))
    generate_synthme(corpus, SMALL, overwrite=True, progress=False)
    assert mine.read_text() == "my notes"
    assert sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.jpg")) == first


def test_python_m_synth_writes_a_corpus_and_reports_errors_in_one_line(tmp_path, capsys):
    out = tmp_path / "c"
    argv = ["--out", str(out), "--preset", "benchmark", "--subjects", "1", "--clips-per-class", "1", "--no-progress"]
    assert synth_main(argv) == 0
    assert json.loads((out / "synthme.json").read_text())["config"] == BENCHMARK_CONFIG.replace(
        n_subjects=1, clips_per_class=1).to_dict()
    assert "SynthME written to" in capsys.readouterr().out
    assert synth_main(argv) == 2                          # an existing corpus without --overwrite
    err = capsys.readouterr().err
    assert "error:" in err and "overwrite" in err and "Traceback" not in err


def test_round_trip_through_casme2_loader(corpus):
    casme2 = pytest.importorskip("hsta_edu.data.datasets.casme2",
                                 reason="CASME II loader (hsta_edu/data/datasets/casme2.py) not importable yet")
    index = casme2.load_casme2(corpus, scheme="megc3")
    assert len(index) == 6 and not index.dropped
    assert index.classes == ["negative", "positive", "surprise"]
    for clip in index.clips:
        gt = load_groundtruth(corpus, clip.subject, clip.clip_id)
        assert clip.label == gt["label"]
        assert (clip.onset, clip.apex, clip.offset) == (gt["onset"], gt["apex"], gt["offset"])
        assert list(clip.frame_numbers) == list(gt["frame_numbers"])
    objective = casme2.load_casme2(corpus, scheme="objective")
    assert len(objective) == 6


def _ensure_in_process(args: tuple) -> float:
    """Worker of the test below: `ensure_synthme` in another process; returns the marker's mtime."""
    import os
    out, cfg = args
    from hsta_edu.data.synth import ensure_synthme
    path = ensure_synthme(out, cfg)
    return os.stat(path / synth.MARKER_FILE).st_mtime_ns


def test_ensure_synthme_generates_once_for_processes_asking_together(tmp_path):
    """Benchmark shards start together: with `ensure_synthme` one generates, the others wait and read it
    (before, the second saw a half-written folder and refused: the first shard of a study died)."""
    import multiprocessing

    cfg = synth.SynthConfig(n_subjects=1, clips_per_class=1, seed=3, frame_size=(64, 64), face_size=48.0)
    out = tmp_path / "corpus"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        stamps = pool.map(_ensure_in_process, [(out, cfg)] * 3)
    assert len(set(stamps)) == 1                                 # one corpus, written once
    assert synth.read_marker(out)["n_clips"] == 3
    assert synth.ensure_synthme(out, cfg) == out                 # present: used as it is
    with pytest.raises(DataError, match="another SynthME corpus"):
        synth.ensure_synthme(out, cfg.replace(seed=4))


def test_tutorial_corpus_is_the_notebooks_72_clips_generated_once(tmp_path, monkeypatch):
    """`tutorial_corpus`: 4 subjects x 3 classes x 6 clips of the benchmark's generator at the seed asked for,
    written on first use and read afterwards; the default folder follows ``$HSTA_EDU_CACHE``."""
    from hsta_edu.data.datasets import load_dataset

    out = synth.tutorial_corpus(synth.TUTORIAL_SEEDS[1], tmp_path / "tut")
    marker = synth.read_marker(out)
    assert marker["config"] == json.loads(json.dumps(synth.TUTORIAL_CONFIG.replace(seed=synth.TUTORIAL_SEEDS[1]).to_dict()))
    index = load_dataset(out, scheme="megc3")
    assert len(index.clips) == 72 and len(set(index.groups)) == 4
    assert sorted(pd.Series(index.labels).value_counts().tolist()) == [24, 24, 24]
    stamp = (out / synth.MARKER_FILE).stat().st_mtime_ns
    assert synth.tutorial_corpus(synth.TUTORIAL_SEEDS[1], tmp_path / "tut") == out
    assert (out / synth.MARKER_FILE).stat().st_mtime_ns == stamp          # read, not written again
    with pytest.raises(DataError, match="another SynthME corpus"):
        synth.tutorial_corpus(synth.TUTORIAL_SEEDS[0], tmp_path / "tut")
    monkeypatch.setenv("HSTA_EDU_CACHE", str(tmp_path / "elsewhere"))
    assert synth.cache_root() == tmp_path / "elsewhere"
    assert synth.PRESETS["tutorial"] == synth.TUTORIAL_CONFIG
