import pytest

from hsta_edu.data.datasets import load_casme3
from hsta_edu.errors import ConfigError


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
