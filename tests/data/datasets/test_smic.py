import shutil

import pytest

from hsta_edu.data.datasets import load_smic
from hsta_edu.data.datasets.smic import smic_clip_id, smic_subject
from hsta_edu.errors import AnnotationError, DataError


def test_hs_counts_labels_and_normalised_ids(composite_root):
    ix = load_smic(composite_root / "SMIC")
    assert ix.name == "smic-hs" and len(ix) == 164 and not ix.dropped
    assert ix.class_counts() == {"negative": 70, "positive": 51, "surprise": 43}
    assert len({c.subject for c in ix.clips}) == 16
    c = next(c for c in ix.clips if c.meta["folder"].endswith("/s1_ne_01"))
    assert c.subject == "s01" and c.clip_id == "s01_ne_01" and c.group == "smic-hs/s01"
    assert c.frames[0].name.startswith("reg_image") and c.onset == c.frame_numbers[0]
    assert c.apex == c.frame_numbers[len(c.frame_numbers) // 2] and c.offset == c.frame_numbers[-1]
    gap = next(c for c in ix.clips if c.clip_id == "s03_po_01")
    assert len(gap.meta["missing_frames"]) == 1
    assert any("non_micro" in w for w in ix.warnings) and any("s7" in w for w in ix.warnings)


def test_missing_clip_empty_folder_bad_label_raw_release(tmp_path, fx):
    clips = [(1, "negative", "s1_ne_01"), (1, "positive", "s1_po_01"), (18, "surprise", "s18_sur_03"),
             (2, "negative", "s2_ne_01")]
    fx.build_smic(tmp_path, clips, release="raw", gap_clip=None)
    hs = tmp_path / "SMIC_all_raw" / "HS"
    shutil.rmtree(hs / "s18" / "micro" / "surprise" / "s18_sur_03")            # missing clip: simply absent
    for p in (hs / "s2" / "micro" / "negative" / "s2_ne_01").iterdir():
        p.unlink()                                                          # empty clip folder
    fx.write_frames(hs / "s1" / "micro" / "happy" / "s1_ha_01", ["image000001.bmp", "image000002.bmp"])
    fx.write_frames(hs / "s1" / "micro" / "negative" / "s2_ne_09", ["image000001.bmp", "image000002.bmp"])
    ix = load_smic(tmp_path, release="raw")
    assert sorted(c.clip_id for c in ix.clips) == ["s01_ne_01", "s01_po_01"]
    reasons = " | ".join(d.reason for d in ix.dropped)
    assert "no frame files" in reasons and "'happy'" in reasons and "under s1" in reasons
    with pytest.raises(DataError):
        load_smic(tmp_path, release="raw", strict=True)
    with pytest.raises(DataError, match="SMIC VIS folder not found"):
        load_smic(tmp_path, variant="VIS", release="raw")


def test_id_normalisation():
    assert smic_subject("s1") == smic_subject("s01") == smic_subject(1) == "s01"
    assert smic_clip_id("s1_ne_01") == smic_clip_id("s01_ne_01") == "s01_ne_01"
    with pytest.raises(AnnotationError):
        smic_clip_id("ne_01")
