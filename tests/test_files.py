"""Files as a user expects them: the umask's mode, and a full disk that keeps the last good file."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from hsta_edu import create_model
from hsta_edu.errors import WriteError
from hsta_edu.io import atomic_write_text, safe_torch_load
from hsta_edu.training import recipe, train
from tests.configs import TINY_16PX_2FRAMES_1STAGE


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_of_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "result.json", "{}")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode


def test_a_full_disk_keeps_the_previous_file_and_names_it(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "metrics.json", "good")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match=r"could not write .*metrics\.json \(its previous version is unchanged\): "
                                         r"No space left on device"):
        atomic_write_text(path, "half")
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]      # no temporary file left behind


def test_a_full_disk_during_a_checkpoint_keeps_the_last_good_one(tmp_path, monkeypatch):
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(12, 3, 2, 16, 16, generator=g), torch.randn(12, 3, 2, 16, 16, generator=g),
                         torch.as_tensor(np.arange(12) % 3))
    cfg = recipe("fast", epochs=3, batch_size=6, warmup_epochs=0, progress=False)
    real_fsync = os.fsync

    def fill_disk_after_epoch_1(row):
        if row["epoch"] == 1:
            monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))

    with pytest.raises(WriteError, match=r"last\.pt \(its previous version is unchanged\)"):
        train(create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE), data, cfg, checkpoint_dir=tmp_path,
              callback=fill_disk_after_epoch_1)
    monkeypatch.setattr(os, "fsync", real_fsync)
    state = safe_torch_load(tmp_path / "last.pt")
    assert state["epoch"] == 1                                            # the good checkpoint of epoch 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
