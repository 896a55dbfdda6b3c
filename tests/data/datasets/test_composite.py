import pytest

from hsta_edu.data.datasets import load_composite, load_dataset
from hsta_edu.data.datasets.composite import read_gt
from hsta_edu.errors import AnnotationError


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
