import json

import pytest

from hsta_edu.data.datasets import load_casme2, load_dataset
from hsta_edu.data.datasets.rows import UnsafePathError
from hsta_edu.data.synth import read_marker
from hsta_edu.errors import AnnotationError, FrameError


def test_native_counts_subjects_and_quirks(composite_root):
    ix = load_casme2(composite_root / "CASME2")
    assert len(ix) == 254                               # 255 rows, apex '/' dropped
    assert ix.class_counts() == {"disgust": 62, "fear": 2, "happiness": 32, "others": 99, "repression": 27,
                                 "sadness": 7, "surprise": 25}
    assert {c.subject for c in ix.clips} == {f"sub{i:02d}" for i in range(1, 27)}
    [d] = ix.dropped
    assert d.clip == "sub04/EP12_01f" and d.row == 2 and "'/'" in d.reason and "ApexFrame" in d.reason
    clip = next(c for c in ix.clips if c.clip_id == "EP09_05f" and c.subject == "sub05")
    assert clip.apex == clip.onset                      # kept under the native scheme
    c = ix.clips[0]
    assert c.frame_numbers[0] == c.onset > 1 and c.frames[0].name == f"img{c.onset}.jpg"
    assert {c.aus for c in ix.clips} >= {"4", "4+L10", "R12"}   # ints and text both kept as text


def test_megc2019_reproduces_official_counts(composite_root):
    ix = load_casme2(composite_root / "CASME2", scheme="megc2019")
    assert ix.class_counts() == {"negative": 88, "positive": 32, "surprise": 25}
    assert len({c.subject for c in ix.clips}) == 24
    negatives = [c.emotion for c in ix.clips if c.label == "negative"]
    assert negatives.count("disgust") == 61 and negatives.count("repression") == 27
    not_label = [d.clip for d in ix.dropped if "not in scheme" not in d.reason]
    assert sorted(not_label) == ["sub04/EP12_01f", "sub05/EP09_05f"]


def test_megc3_is_the_megc2019_rule_and_broad3_says_what_it_is(composite_root):
    """The scheme a user reaches for to reproduce the paper's Table 5 gives the challenge's
    145 clips under either name; the broader mapping (fear and sadness negative, apex = onset
    kept) has its own name and gives 155."""
    official = load_casme2(composite_root / "CASME2", scheme="megc2019")
    alias = load_casme2(composite_root / "CASME2", scheme="megc3")
    assert len(alias) == 145 and alias.class_counts() == official.class_counts()
    assert [c.uid for c in alias.clips] == [c.uid for c in official.clips]
    broad = load_casme2(composite_root / "CASME2", scheme="broad3")
    assert len(broad) == 155 and broad.class_counts()["negative"] == 62 + 27 + 7 + 2
    assert {c.emotion for c in broad.clips if c.label == "negative"} == {"disgust", "repression", "sadness", "fear"}
    text = alias.summary()
    assert "145 clips from 24 subjects (negative 88, positive 32, surprise 25)" in text
    assert "scheme megc3: negative = disgust, repression; positive = happiness; surprise" in text
    assert "left out: " in text and "fear" in text and "apex '/' or apex = onset left out" in text
    assert "negative = anger, contempt, disgust, fear, repression, sadness" in broad.summary()
    assert "apex = onset" not in broad.summary()


def test_objective_scheme_and_cropped_frames(tmp_path, fx):
    rows = fx.casme2_rows()[:20]
    fx.build_casme2(tmp_path, rows, cropped=True)
    ix = load_casme2(tmp_path, scheme="objective", frames="cropped")
    assert len(ix) == 19 and set(ix.classes) == {"I", "II", "III", "IV", "V", "VI", "VII"}
    assert all(c.frames[0].name.startswith("reg_img") for c in ix.clips)


def test_synthme_marker_names_the_dataset(tmp_path, fx):
    rows = [dict(r, **{"Estimated Emotion": e}) for r, e in
            zip(fx.casme2_rows()[2:8], ["negative", "positive", "surprise"] * 2, strict=True)]
    fx.build_casme2(tmp_path, rows, synth_marker={"classes": ["negative", "positive", "surprise"], "seed": 0})
    ix = load_dataset(tmp_path)
    assert ix.name == "synthme" and {c.dataset for c in ix.clips} == {"synthme"}
    assert ix.classes == ["negative", "positive", "surprise"] and len(ix) == 6
    assert ix.meta["synthme"]["seed"] == 0
    assert load_casme2(tmp_path, scheme="megc3").class_counts() == {"negative": 2, "positive": 2, "surprise": 2}


def test_synthme_emotion_words_map_through_the_marker(tmp_path, fx):
    rows = [dict(r, **{"Estimated Emotion": e}) for r, e in
            zip(fx.casme2_rows()[2:6], ["disgust", "repression", "happiness", "surprise"], strict=True)]
    fx.build_casme2(tmp_path, rows, synth_marker={
        "classes": ["negative", "positive", "surprise"],
        "emotion_to_class": {"disgust": "negative", "repression": "negative", "happiness": "positive",
                             "surprise": "surprise"}})
    ix = load_casme2(tmp_path)
    assert ix.class_counts() == {"negative": 2, "positive": 1, "surprise": 1} and not ix.dropped


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"], ids=["not-json", "json-list"])
def test_corrupt_synthme_marker_is_an_annotation_error_naming_the_file(tmp_path, fx, content):
    fx.build_casme2(tmp_path, fx.casme2_rows()[2:4], synth_marker={"classes": ["negative"]})
    marker = tmp_path / "synthme.json"
    marker.write_text(content)
    with pytest.raises(AnnotationError, match="SynthME marker") as err:
        load_dataset(tmp_path)
    assert str(marker) in str(err.value) and err.value.file == str(marker)
    with pytest.raises(AnnotationError, match="SynthME marker"):
        read_marker(tmp_path)


def test_read_marker_without_a_marker_is_none(tmp_path):
    assert read_marker(tmp_path) is None and read_marker(tmp_path / "missing") is None
    (tmp_path / "synthme.json").write_text('{"scheme": "megc3"}')
    assert read_marker(tmp_path) == {"scheme": "megc3"}


def test_committed_data_samples_load():
    from pathlib import Path
    root = Path(__file__).resolve().parents[3] / "data_samples"
    if not (root / "synthme.json").is_file():
        pytest.skip("data_samples/ not generated yet")
    ix = load_dataset(root)
    assert ix.name == "synthme" and len(ix) > 0 and not ix.dropped


def _one(fx, tmp_path, **change):
    row = dict(fx.casme2_rows()[5], **change)
    fx.build_casme2(tmp_path, [row], objective=False)
    return row


@pytest.mark.parametrize("change,needle", [
    ({"ApexFrame": "/"}, "not annotated"),
    ({"ApexFrame": 10_000}, "apex outside onset..offset"),
    ({"OnsetFrame": "abc"}, "not an integer"),
    ({"Estimated Emotion": "joyful"}, "unknown label"),
    ({"Subject": "x1"}, "subject"),
])
def test_bad_rows_are_recorded_or_raise_in_strict_mode(tmp_path, fx, change, needle):
    _one(fx, tmp_path, **change)
    ix = load_casme2(tmp_path)
    assert len(ix) == 0 and len(ix.dropped) == 1 and needle in ix.dropped[0].reason
    with pytest.raises(AnnotationError, match=needle):
        load_casme2(tmp_path, strict=True)


def test_onset_after_apex_and_offset_zero(tmp_path, fx):
    rows = fx.casme2_rows()[5:8]
    rows[0] = dict(rows[0], OnsetFrame=rows[0]["ApexFrame"] + 1)
    rows[1] = dict(rows[1], OffsetFrame=0)
    fx.build_casme2(tmp_path, rows, objective=False)
    reasons = [d.reason for d in load_casme2(tmp_path).dropped]
    assert any("after apex" in r for r in reasons) and any("offset frame 0" in r for r in reasons)


def test_missing_empty_and_short_frame_folders(tmp_path, fx):
    rows = fx.casme2_rows()[5:9]
    fx.build_casme2(tmp_path, rows, objective=False)
    base = tmp_path / "CASME2_RAW_selected"
    folder = lambda r: base / f"sub{r['Subject']:02d}" / r["Filename"]  # noqa: E731
    for p in folder(rows[0]).iterdir():
        p.unlink()
    folder(rows[0]).rmdir()                                        # missing folder
    for p in folder(rows[1]).iterdir():
        p.unlink()                                                 # empty folder
    (folder(rows[2]) / f"img{rows[2]['OffsetFrame']}.jpg").unlink()  # offset frame not there
    ix = load_casme2(tmp_path)
    assert len(ix) == 1
    reasons = {d.clip: d.reason for d in ix.dropped}
    assert "frame folder not found" in reasons[f"sub{rows[0]['Subject']:02d}/{rows[0]['Filename']}"]
    assert "no frame files" in reasons[f"sub{rows[1]['Subject']:02d}/{rows[1]['Filename']}"]
    assert "not in" in reasons[f"sub{rows[2]['Subject']:02d}/{rows[2]['Filename']}"]
    with pytest.raises(FrameError, match="CASME2_RAW_selected"):
        load_casme2(tmp_path, strict=True)


def test_interior_gap_is_kept_with_a_warning(tmp_path, fx):
    row = dict(fx.casme2_rows()[5])
    row["OffsetFrame"] = row["OnsetFrame"] + 4
    fx.build_casme2(tmp_path, [row], objective=False)
    (tmp_path / "CASME2_RAW_selected" / f"sub{row['Subject']:02d}" / row["Filename"] /
     f"img{row['ApexFrame'] + 1}.jpg").unlink()
    ix = load_casme2(tmp_path)
    assert len(ix) == 1 and ix.clips[0].meta["missing_frames"] == [row["ApexFrame"] + 1] and ix.warnings


def test_duplicate_clip_ids(tmp_path, fx):
    row = fx.casme2_rows()[5]
    fx.build_casme2(tmp_path, [row, dict(row)], objective=False)
    ix = load_casme2(tmp_path)
    assert len(ix) == 1 and "duplicate clip id" in ix.dropped[0].reason and ix.dropped[0].row == 3
    with pytest.raises(AnnotationError, match="duplicate"):
        load_casme2(tmp_path, strict=True)


@pytest.mark.parametrize("name", ["../../etc", "/abs", "..", "a\\..\\b"])
def test_paths_cannot_escape_the_root(tmp_path, fx, name):
    row = dict(fx.casme2_rows()[5])
    fx.build_casme2(tmp_path, [row], objective=False)
    fx.write_casme2_xlsx(tmp_path / "CASME2-coding-20140508.xlsx", [dict(row, Filename=name)])
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        load_casme2(tmp_path)                              # never a silent skip


def test_wrong_sheet_and_header(tmp_path, fx):
    rows = fx.casme2_rows()[5:6]
    fx.build_casme2(tmp_path, rows, objective=False)
    fx.write_casme2_xlsx(tmp_path / "CASME2-coding-20140508.xlsx", rows, sheet="Data")
    with pytest.raises(AnnotationError, match=r"sheet 'Sheet1' not found; sheets found: \['Data'"):
        load_casme2(tmp_path)
    from openpyxl import Workbook
    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.active.append(["Subj", "Clip"])
    wb.save(tmp_path / "CASME2-coding-20140508.xlsx")
    with pytest.raises(AnnotationError, match="header row .* not found.*Subj"):
        load_casme2(tmp_path)


def test_missing_annotation_and_frame_root(tmp_path, fx):
    with pytest.raises(AnnotationError, match="CASME2-coding"):
        load_casme2(tmp_path)
    fx.build_casme2(tmp_path, fx.casme2_rows()[5:6], objective=False)
    with pytest.raises(FrameError, match="Cropped"):
        load_casme2(tmp_path, frames="cropped")
    (tmp_path / "CASME2-coding-20140508.xlsx").write_bytes(b"not a zip")
    with pytest.raises(AnnotationError, match="cannot read spreadsheet"):
        load_casme2(tmp_path)
    json.dumps([])
