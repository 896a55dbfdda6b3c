"""Degenerate data is named: one person is one subject, one class is an error, a clip without motion
is a drop (an apex at an end a warning), and every drop reaches stderr and a CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Subset

from hsta_edu.data.clip import DatasetIndex, DroppedRow, require_classes
from hsta_edu.data.datasets import load_dataset, load_folder, load_smic
from hsta_edu.data.datasets.rows import subject_key
from hsta_edu.data.examples import write_frames
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.errors import AnnotationError, DataError
from hsta_edu.evaluate import LOSO, protocol_folds

ROOT = Path(__file__).resolve().parents[2]
HEADER = "subject,clip,label,onset,apex,offset\n"


def _folder(root: Path, rows: list[str], frames: range = range(1, 6)) -> Path:
    """annotations.csv of ``rows`` (CSV lines after the header) and frames ``frames`` for each clip's
    folder ``subject/clip`` (spaces around the subject stripped, as the loader reads it)."""
    root.mkdir(parents=True, exist_ok=True)
    for line in rows:
        subject, clip = (c.strip() for c in line.split(",")[:2])
        write_frames(root / subject / clip, [f"{n:04d}.png" for n in frames])
    (root / "annotations.csv").write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return root


def _casme2(root: Path, fx, subjects: list[object], **first: object) -> Path:
    """A CASME II miniature of one clip per entry of ``subjects`` (as the Subject cell), its frames under
    sub01/; ``first`` changes the first row."""
    rows = [{"Subject": 1, "Filename": f"EP01_0{i}f", "OnsetFrame": 46 + 10 * i, "ApexFrame": 47 + 10 * i,
             "OffsetFrame": 48 + 10 * i, "Action Units": 12, "Estimated Emotion": ("happiness", "disgust")[i % 2]}
            for i in range(len(subjects))]
    rows[0].update(first)
    fx.build_casme2(root, rows, objective=False)
    written = [dict(r, Subject=s) for r, s in zip(rows, subjects, strict=True)]
    fx.write_casme2_xlsx(root / "CASME2-coding-20140508.xlsx", written)
    return root


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hsta_edu.cli", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


# ------------------------------------------------------------------------------ one person, one subject

def test_subject_key_equates_case_spaces_and_zero_padding_only():
    assert {subject_key(v) for v in ("sub01", "SUB01", " sub01 ", "sub1", "Sub 001")} == {"sub1"}
    assert subject_key("006") == subject_key(6) == subject_key("6") == "6"
    assert subject_key("spNO.1") != subject_key("spNO.10") and subject_key("s01") != subject_key("sub01")
    assert subject_key("sub10") == "sub10" and subject_key("alice") == "alice"


def test_spellings_of_one_subject_are_one_loso_group(tmp_path):
    root = _folder(tmp_path / "d", ["sub01,c1,happy,1,3,5", "SUB01,c2,sad,1,3,5", " sub01 ,c3,happy,1,3,5",
                                    "sub1,c4,sad,1,3,5", "sub02,c5,happy,1,3,5", "sub02,c6,sad,1,3,5"])
    ix = load_folder(root)
    assert len(ix) == 6 and not ix.dropped
    assert [c.subject for c in ix.clips] == ["sub01"] * 4 + ["sub02"] * 2     # the first spelling is kept
    assert sorted(set(ix.groups)) == ["folder/sub01", "folder/sub02"]
    folds = protocol_folds(LOSO(), ix.labels, ix.groups)
    assert len(folds) == 2 and sorted(len(f.test) for f in folds) == [2, 4]
    merged = [w for w in ix.warnings if "one person" in w]
    assert len(merged) == 2 and "'SUB01' (row 3) taken as 'sub01' (first written so at row 2)" in merged[0]
    assert "'sub1'" in merged[1]               # ' sub01 ' is read as 'sub01' already: nothing to say
    assert ix.clips[1].meta["subject_as_written"] == "SUB01" and "subject_as_written" not in ix.clips[0].meta
    assert ix.clips[1].meta["folder"] == "SUB01/c2"                            # frames read where written


def test_respelled_subject_repeating_a_clip_is_a_duplicate(tmp_path):
    root = _folder(tmp_path / "d", ["sub01,c1,happy,1,3,5", "sub02,c2,sad,1,3,5"])
    write_frames(root / "SUB01" / "c1", [f"{n:04d}.png" for n in range(1, 6)])
    (root / "annotations.csv").write_text(HEADER + "sub01,c1,happy,1,3,5\nsub02,c2,sad,1,3,5\nSUB01,c1,happy,1,3,5\n")
    ix = load_folder(root)
    assert len(ix) == 2 and [d.row for d in ix.dropped] == [4] and "duplicate clip id sub01/c1" in ix.dropped[0].reason
    with pytest.raises(AnnotationError, match="duplicate"):
        load_folder(root, strict=True)


def test_corpus_ids_are_unchanged(tmp_path, fx):
    ix = load_dataset(_casme2(tmp_path / "c", fx, [1, "SUB01", " sub01 ", "sub1"]))
    assert [c.uid for c in ix.clips] == [f"casme2/sub01/EP01_0{i}f" for i in range(4)] and not ix.warnings
    samples = load_dataset(ROOT / "data_samples")
    assert (len(samples), len(samples.dropped), samples.warnings) == (24, 0, [])
    assert sorted(set(samples.groups)) == [f"synthme/sub0{i}" for i in range(1, 5)]
    fx.build_smic(tmp_path / "s", [(1, "negative", "s1_ne_01")])
    assert [c.uid for c in load_smic(tmp_path / "s").clips] == ["smic-hs/s01/s01_ne_01"]


# ------------------------------------------------------------------------------ clips without motion

def test_onset_apex_offset_equal_is_a_drop_and_an_apex_at_an_end_a_warning(tmp_path):
    root = _folder(tmp_path / "d", ["a,flat,happy,3,3,3", "a,rise,sad,2,2,4", "a,fall,happy,2,4,4",
                                    "b,ok,sad,1,3,5"])
    ix = load_folder(root)
    assert [c.clip_id for c in ix.clips] == ["rise", "fall", "ok"]
    (d,) = ix.dropped
    assert (d.row, d.clip) == (2, "a/flat") and "onset == apex == offset (frame 3)" in d.reason
    assert "no motion to measure" in d.reason
    assert any("a/rise: onset == apex (frame 2" in w for w in ix.warnings)
    assert any("a/fall: apex == offset (frame 4" in w for w in ix.warnings) and len(ix.warnings) == 2
    with pytest.raises(AnnotationError, match=r"onset == apex == offset \(frame 3\).*row 2"):
        load_folder(root, strict=True)


def test_casme2_row_of_one_frame_is_dropped_and_apex_at_onset_warned(tmp_path, fx):
    ix = load_dataset(_casme2(tmp_path / "c", fx, [1, 1, 1], ApexFrame=46, OffsetFrame=46))
    assert len(ix) == 2 and len(ix.dropped) == 1 and ix.dropped[0].row == 2
    assert "onset == apex == offset (frame 46): only 1 frame, no motion to measure" in ix.dropped[0].reason
    ix = load_dataset(_casme2(tmp_path / "w", fx, [1, 1], ApexFrame=46))
    assert len(ix) == 2 and ix.warnings == ["sub01/EP01_00f: onset == apex (frame 46, offset 48): no rise to the "
                                            "apex; kept"]


def test_smic_folder_of_one_frame_is_dropped(tmp_path, fx):
    fx.build_smic(tmp_path, [(1, "negative", "s1_ne_01"), (1, "positive", "s1_po_01")])
    one = tmp_path / "SMIC_all_cropped" / "HS" / "s1" / "micro" / "positive" / "s1_po_01"
    for f in sorted(one.iterdir())[1:]:
        f.unlink()
    ix = load_smic(tmp_path)
    assert [c.clip_id for c in ix.clips] == ["s01_ne_01"]
    assert "only 1 frame" in ix.dropped[0].reason and ix.dropped[0].source.endswith("s1_po_01")


# ------------------------------------------------------------------------------ one class is an error

def _index(root: Path, labels: list[str], classes: list[str]) -> DatasetIndex:
    ix = load_folder(_folder(root, [f"s{i},c{i},{lab},1,3,5" for i, lab in enumerate(labels)]))
    return DatasetIndex(ix.name, ix.clips, classes)


def test_require_classes_names_the_class_and_the_count(tmp_path):
    with pytest.raises(DataError, match=r"^d: all 3 clips are of class 'happy' \(no clip of 'sad'\); training"):
        require_classes(_index(tmp_path / "a", ["happy"] * 3, ["happy", "sad"]), what="d")
    require_classes(_index(tmp_path / "b", ["happy", "sad"], ["happy", "sad"]))
    require_classes(DatasetIndex("x", [], ["a", "b"]))                     # empty: reported elsewhere


class _Clips(LabelledDataset):
    def __init__(self, labels: list[int]) -> None:
        self.labels, self.classes = np.asarray(labels), ["negative", "positive", "surprise"]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return torch.zeros(3, 2, 16, 16), torch.zeros(3, 2, 16, 16), torch.tensor(self.labels[i])


def test_train_refuses_one_class_but_a_fold_lacking_a_class_trains():
    from hsta_edu.training import recipe, train
    with pytest.raises(DataError, match="training data: all 4 clips are of class 'positive'"):
        train(torch.nn.Linear(1, 1), _Clips([1, 1, 1, 1]), recipe("fast", epochs=1, progress=False))
    whole = _Clips([0, 0, 1, 1])
    require_classes(Subset(whole, [0, 1]))        # one fold: MissingClassWarning's case
    with pytest.raises(DataError, match="all 2 clips"):
        require_classes(Subset(_Clips([2, 2, 2]), [0, 1]))


# ------------------------------------------------------------------------------ drops outside Python

def test_dropped_csv_has_one_quoted_row_per_drop(tmp_path):
    ix = DatasetIndex("x", [], ["a"], [DroppedRow("ann.csv", 3, "s1/c1", 'bad cell, value "x"'),
                                       DroppedRow("s1/c2", None, None, "only 1 frame\nin folder")])
    path = ix.to_dropped_csv(tmp_path / "dropped.csv")
    text = path.read_text()
    assert text.splitlines()[0] == "source,row,clip,reason" and '"bad cell, value ""x"""' in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1:] == [["ann.csv", "3", "s1/c1", 'bad cell, value "x"'], ["s1/c2", "", "", "only 1 frame\nin folder"]]
    df = pd.read_csv(path, keep_default_na=False)
    assert list(df.columns) == ["source", "row", "clip", "reason"] and len(df) == 2
    assert DatasetIndex("x", [], ["a"]).to_dropped_csv(tmp_path / "none.csv").read_text() == "source,row,clip,reason\n"


def test_cli_refuses_one_class_data(tmp_path):
    root = _folder(tmp_path / "one", ["s1,c1,happy,1,3,5", "s2,c2,happy,1,3,5"])
    r = _cli("prepare", "--data", str(root), "--no-progress")
    assert r.returncode == 2, r.stderr
    assert "error:" in r.stderr and "all 2 clips are of class 'happy'" in r.stderr and "Traceback" not in r.stderr


def test_cli_prints_each_drop_and_merges_spellings(tmp_path):
    good = ["sub01,c1,happy,1,3,5", "SUB01,c2,sad,1,3,5", "sub02,c3,happy,1,3,5"]
    root = _folder(tmp_path / "d", good)
    bad = [f"sub02,gone{i},sad,1,3,5" for i in range(6)] + ["sub02,flat,sad,3,3,3"]
    write_frames(root / "sub02" / "flat", [f"{n:04d}.png" for n in range(1, 6)])
    (root / "annotations.csv").write_text(HEADER + "".join(f"{r}\n" for r in good + bad))
    r = _cli("prepare", "--data", str(root), "--no-progress", "--face", "none")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "7 annotation rows dropped" in r.stderr
    assert "annotations.csv:5 sub02/gone0: frame folder not found" in r.stderr and "... and 2 more" in r.stderr
    assert "gone5" not in r.stderr and "from 2 subjects" in r.stdout
