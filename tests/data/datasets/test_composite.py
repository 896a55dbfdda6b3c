import pytest

from hsta_edu.data.datasets import load_composite, load_dataset
from hsta_edu.data.datasets.composite import read_gt
from hsta_edu.errors import AnnotationError, DataError


def test_official_megc2019_counts(composite_root):
    ix = load_composite(composite_root)
    assert len(ix) == 442 and len(set(ix.groups)) == 68
    assert ix.class_counts() == {"negative": 250, "positive": 109, "surprise": 83}
    assert ix.meta["per_dataset"] == {"casme2": {"negative": 88, "positive": 32, "surprise": 25},
                                      "samm": {"negative": 92, "positive": 26, "surprise": 15},
                                      "smic-hs": {"negative": 70, "positive": 51, "surprise": 43}}
    subjects = {ds: len({c.subject for c in ix.clips if c.dataset == ds}) for ds in ix.meta["per_dataset"]}
    assert subjects == {"casme2": 24, "samm": 28, "smic-hs": 16}
    assert ix.meta["gt_differences"] == []                 # agrees with combined_3class_gt.csv
    assert all(g.split("/")[0] in ("casme2", "samm", "smic-hs") for g in ix.groups)
    assert load_dataset(composite_root).class_counts() == ix.class_counts()


def test_gt_file_format_and_differences(composite_root, tmp_path):
    raw = (composite_root / "combined_3class_gt.csv").read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"database")
    rows = read_gt(composite_root / "combined_3class_gt.csv")
    assert len(rows) == 442 and rows[0][1] == "sub01" and any(r[1] == "006" for r in rows)
    bad = tmp_path / "gt.csv"
    bad.write_bytes(raw.replace(b"smic,s01,s01_ne_01,0", b"smic,s01,s01_ne_01,1")
                    + b"smic,s18,s18_sur_99,2\r\n")
    ix = load_composite(composite_root, gt=bad)
    diffs = ix.meta["gt_differences"]
    assert len(diffs) == 2 and any("s18_sur_99" in d and "not loaded" in d for d in diffs)
    with pytest.raises(AnnotationError, match="differences from the ground truth"):
        load_composite(composite_root, gt=bad, strict=True)
    bad.write_bytes(b"casme2,sub01,EP02_01f\r\n")
    with pytest.raises(AnnotationError, match="4 columns"):
        read_gt(bad)


@pytest.mark.parametrize("scheme", ["megc2019", "megc3"])
def test_each_corpus_alone_gives_the_sets_of_the_composite(composite_root, scheme):
    """Under the scheme a user reaches for, CASME II, SAMM and SMIC-HS alone hold exactly the
    clips the composite holds for them (145, 133, 164) and the composite holds 442."""
    comp = load_dataset(composite_root, scheme=scheme)
    assert len(comp) == 442 and comp.meta["gt_differences"] == []
    alone = {"casme2": load_dataset(composite_root / "CASME2", scheme=scheme),
             "samm": load_dataset(composite_root / "SAMM_v2", scheme=scheme),
             "smic-hs": load_dataset(composite_root / "SMIC", scheme=scheme)}
    assert {k: len(v) for k, v in alone.items()} == {"casme2": 145, "samm": 133, "smic-hs": 164}
    for name, ix in alone.items():
        assert {c.uid for c in ix.clips} == {c.uid for c in comp.clips if c.dataset == name}
        assert ix.class_counts() == comp.meta["per_dataset"][name]
    text = comp.summary()
    assert text.startswith("megc2019: 442 clips from 68 subjects (negative 250, positive 109, surprise 83)")
    assert f"scheme {scheme}:" in text and "casme2: negative = disgust, repression" in text
    assert "casme2: 145 clips from 24 subjects (negative 88, positive 32, surprise 25)" in text


def test_broad3_composite_is_not_compared_with_the_challenge(composite_root):
    ix = load_composite(composite_root, scheme="broad3")
    assert ix.meta["per_dataset"]["casme2"] == {"negative": 98, "positive": 32, "surprise": 25}
    assert "gt_differences" not in ix.meta and any("not compared" in w for w in ix.warnings)
    with pytest.raises(DataError, match="3-class schemes"):
        load_composite(composite_root, scheme="native")
