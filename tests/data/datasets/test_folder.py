import pytest

from hsta_edu.data.datasets import detect_dataset, load_dataset, load_folder
from hsta_edu.data.datasets.rows import UnsafePathError
from hsta_edu.errors import DataError


def test_folder_csv(tmp_path, fx):
    fx.build_folder(tmp_path)
    ix = load_folder(tmp_path)
    assert ix.classes == ["happy", "sad"] and len(ix) == 3
    a1, a2, b = ix.clips
    assert (a1.onset, a1.apex, a1.offset) == (0, 2, 5)                  # numbering from 0 is fine
    assert (a2.onset, a2.apex, a2.offset) == (0, 2, 3)                  # defaults: first, middle, last
    assert b.frame_numbers == (121, 122, 123, 124, 125) and b.aus == "6+12"
    assert detect_dataset(tmp_path) == "folder" and len(load_dataset(tmp_path, scheme="megc3")) == 3


def test_folder_rejects_escaping_paths(tmp_path, fx):
    fx.build_folder(tmp_path)
    (tmp_path / "annotations.csv").write_text("subject,clip,label,folder\nalice,clip01,happy,../../etc\n")
    with pytest.raises(UnsafePathError):
        load_folder(tmp_path)
    (tmp_path / "annotations.csv").write_text("subject,clip,label,folder\nalice,clip01,happy,/etc\n")
    with pytest.raises(UnsafePathError):
        load_folder(tmp_path)


def test_unknown_folder(tmp_path):
    with pytest.raises(DataError, match="cannot tell which dataset"):
        load_dataset(tmp_path)
    with pytest.raises(DataError, match="neither a folder nor a dataset name"):
        load_dataset("no-such-corpus")


def test_duplicate_row_does_not_repeat_the_kept_clips_warnings():
    from pathlib import Path

    from hsta_edu.data.clip import Clip
    from hsta_edu.data.datasets.rows import RowLog

    log = RowLog("annotations.csv")
    clip = Clip("folder", "s1", "c1", (Path("a.jpg"),), (1,), 1, 1, 1, "x")

    def build():
        log.warn("s1/c1: 1 frames missing inside 1..5")
        return clip

    for row in (2, 3):  # the same clip twice: the second is a dropped duplicate
        built = log.attempt(row, "s1/c1", build)
        log.accept_unique(built, row)
    assert log.warnings == ["s1/c1: 1 frames missing inside 1..5"]
    assert [d.row for d in log.dropped] == [3] and "duplicate" in log.dropped[0].reason
