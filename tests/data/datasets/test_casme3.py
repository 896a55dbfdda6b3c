import pytest

from hsta_edu.data.datasets import load_casme3
from hsta_edu.data.datasets.frames import child_folder
from hsta_edu.data.datasets.rows import UnsafePathError
from hsta_edu.data.examples import casme3_rows, write_casme3_label_xlsx, write_frames
from hsta_edu.errors import ConfigError, FrameError


def test_label_file_quirks_are_dropped(casme3_root):
    ix = load_casme3(casme3_root)
    assert len(ix) == 855 and len({c.subject for c in ix.clips}) == 94
    assert ix.class_counts() == {"anger": 64, "disgust": 245, "fear": 86, "happy": 55, "others": 161, "sad": 57,
                                 "surprise": 187}
    reasons = {d.clip: d.reason for d in ix.dropped}
    assert set(reasons) == {"spNO.40/e_1", "spNO.40/e_2", "spNO.149/d_1", "spNO.216/d_1", "spNO.216/e_1"}
    assert "offset frame 0" in reasons["spNO.40/e_1"] and "after apex" in reasons["spNO.216/d_1"]
    assert sum(c.apex == c.onset for c in ix.clips) == 55           # apex = onset is valid here
    assert any(c.meta["video"] == "j" and c.clip_id.startswith("j_") for c in ix.clips)  # uppercase 'J'


def test_correction_from_full_file_restores_860(casme3_root):
    ix = load_casme3(casme3_root, correct=True)
    assert len(ix) == 860 and not ix.dropped and len(ix.warnings) == 5
    c = next(c for c in ix.clips if c.subject == "spNO.149" and c.clip_id == "d_1")
    assert (c.onset, c.apex, c.offset) == (80, 83, 90) and "corrected_from" in c.meta


def test_megc3_and_objective(casme3_root):
    m = load_casme3(casme3_root, scheme="megc3", correct=True)
    assert m.class_counts() == {"negative": 250 + 86 + 64 + 57, "positive": 55, "surprise": 187}
    o = load_casme3(casme3_root, scheme="objective", correct=True)
    assert set(o.classes) == {"I", "II", "III", "IV", "V", "VI", "VII"} and len(o) == 860


def test_macro_expressions_as_extra_data(casme3_root):
    ix = load_casme3(casme3_root, scheme="objective", correct=True, macro=True)
    macro = [c for c in ix.clips if c.meta["expression"] == "macro"]
    assert len(macro) == 3346 and len(ix) == 860 + 3346 and all(c.label in ix.classes for c in macro)
    assert len({c.uid for c in ix.clips}) == len(ix)
    with pytest.raises(ConfigError, match="objective"):
        load_casme3(casme3_root, macro=True)


# ----------------------------------------------------------------------------- folder case

LABEL = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"


def _row(subject="spNO.1", video="a", onset=110, **kw):
    return {"Subject": subject, "Filename": video, "Onset": onset, "Apex": onset + 1, "Offset": onset + 3,
            "AU": "12", "Objective class": "I", "emotion": "happy", **kw}


def _mini(root, rows, folders):
    """A label file with ``rows`` and frames 100..120 in each of ``folders`` ('RGB/spNO.1/j/color')."""
    write_casme3_label_xlsx(root / LABEL, rows)
    for f in folders:
        write_frames(root / f, [f"{n}.jpg" for n in range(100, 121)])


def test_uppercase_J_in_the_file_finds_the_lowercase_folder(casme3_root):
    rows, _ = casme3_rows()
    (jdx,) = [i for i, r in enumerate(rows) if r["Filename"] == "J"]      # exactly one, as distributed
    subject = rows[jdx]["Subject"]
    assert (casme3_root / "RGB" / subject / "j").is_dir()
    assert "J" not in {p.name for p in (casme3_root / "RGB" / subject).iterdir()}
    ix = load_casme3(casme3_root)
    (clip,) = [c for c in ix.clips if c.meta["row"] == jdx + 2]          # header is row 1
    assert clip.subject == subject and clip.clip_id.startswith("j_") and clip.meta["video"] == "j"
    assert clip.meta["folder"] == f"RGB/{subject}/j/color"
    assert all(p.parent == casme3_root / "RGB" / subject / "j" / "color" for p in clip.frames) and clip.frames
    assert not [d for d in ix.dropped if "J" in (d.clip or "")]
    assert len(load_casme3(casme3_root, correct=True)) == 860           # nothing lost to the case


def test_lowercase_in_the_file_finds_an_uppercase_folder(tmp_path):
    _mini(tmp_path, [_row(video="j"), _row(video="j", onset=112), _row(subject="spno.2", video="A")],
          ["RGB/spNO.1/J/color", "RGB/SPNO.2/a/Color"])
    ix = load_casme3(tmp_path, strict=True)
    assert [(c.subject, c.clip_id, c.meta["folder"]) for c in ix.clips] == [
        ("spNO.1", "j_1", "RGB/spNO.1/J/color"), ("spNO.1", "j_2", "RGB/spNO.1/J/color"),
        ("spNO.2", "a_1", "RGB/SPNO.2/a/Color")]


def _needs_case_sensitive_fs(tmp_path):
    (tmp_path / "case").mkdir()
    if (tmp_path / "CASE").exists():
        pytest.skip("this file system cannot hold folders 'j' and 'J' side by side")
    (tmp_path / "case").rmdir()


def test_exact_case_folder_wins(tmp_path):
    _needs_case_sensitive_fs(tmp_path)
    _mini(tmp_path, [_row(video="J"), _row(video="j"), _row(video=" J ")], ["RGB/spNO.1/J/color", "RGB/spNO.1/j/color"])
    ix = load_casme3(tmp_path, strict=True)
    assert [(c.clip_id, c.meta["folder"]) for c in ix.clips] == [
        ("j_1", "RGB/spNO.1/J/color"), ("j_2", "RGB/spNO.1/j/color"), ("j_3", "RGB/spNO.1/J/color")]


def test_two_folders_matching_only_ignoring_case_is_an_error_naming_both(tmp_path):
    _needs_case_sensitive_fs(tmp_path)
    # neither folder is spelled 'spNO.1' exactly; both equal it ignoring case
    _mini(tmp_path, [_row(), _row(subject="spNO.2")],
          ["RGB/spno.1/a/color", "RGB/SPNO.1/a/color", "RGB/spNO.2/a/color"])
    ix = load_casme3(tmp_path)
    assert [c.uid for c in ix.clips] == [ix.clips[0].uid] and ix.clips[0].subject == "spNO.2"
    (drop,) = ix.dropped
    assert drop.row == 2 and drop.clip == "spNO.1/a_1"
    assert "ambiguous" in drop.reason and "'RGB/SPNO.1'" in drop.reason and "'RGB/spno.1'" in drop.reason
    with pytest.raises(FrameError, match=r"ambiguous.*'RGB/SPNO.1'.*'RGB/spno.1'"):
        load_casme3(tmp_path, strict=True)


def test_case_insensitive_lookup_cannot_escape_the_root(tmp_path):
    _mini(tmp_path, [_row(video="..")], ["RGB/spNO.1/a/color"])
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        load_casme3(tmp_path)
    (tmp_path / "RGB" / "spNO.1" / "..x").mkdir()
    for bad in ("..", ".", "", "a/b", "a\\b", "x\x00"):
        with pytest.raises(UnsafePathError):
            child_folder(tmp_path / "RGB" / "spNO.1", bad)
    assert child_folder(tmp_path / "RGB", "SPNO.1") == tmp_path / "RGB" / "spNO.1"
    assert child_folder(tmp_path / "RGB", "spNO.9") == tmp_path / "RGB" / "spNO.9"     # missing: as written


def test_macro_expressions_are_train_only_in_every_protocol(casme3_root):
    """The paper's Table 7: macro-expressions as extra training data. LOSO over the micro clips;
    each fold also trains on the macro clips of the other subjects; no macro clip is ever tested."""
    import numpy as np

    from hsta_edu.evaluate import LOSO, SubjectKFold, protocol_folds

    ix = load_casme3(casme3_root, scheme="objective", correct=True, macro=True)
    extra = np.asarray([bool(c.meta.get("train_only")) for c in ix.clips])
    assert extra.sum() == 3346 and all(c.meta["expression"] == "macro" for c, e in zip(ix.clips, extra, strict=True) if e)
    groups = np.asarray(ix.groups)
    for protocol in (LOSO(), SubjectKFold(5)):
        folds = protocol_folds(protocol, ix.labels, ix.groups, extra)
        tested = np.concatenate([f.test for f in folds])
        assert len(tested) == len(set(tested.tolist())) == 860 and not extra[tested].any()
        for f in folds[:3]:
            test_groups = set(groups[f.test])
            macro_train = {i for i in f.train if extra[i]}
            assert macro_train == {i for i in np.flatnonzero(extra) if groups[i] not in test_groups}
    assert "scheme objective:" in ix.summary()
