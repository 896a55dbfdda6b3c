"""Self-supervised pretraining inside a run (`TrainConfig.pretrain_epochs`, issue 26): masked
reconstruction on the clips the run trains on, then fine-tuning; in a LOSO fold only that fold's training
clips are seen, and a run stopped after its pretraining resumes to the same weights."""

from __future__ import annotations

import torch

from hsta_edu.data.labelled import dataset_info
from hsta_edu.evaluate import LOSO
from hsta_edu.runs import run_protocol
from hsta_edu.training import pretrain as pretrain_module
from hsta_edu.training import train
from tests.evaluate.test_evaluate import ToyClips as GroupedClips
from tests.evaluate.test_evaluate import fast_cfg, tiny_model
from tests.training.test_train import ToyClips, cfg, fresh_model


def _usta(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if ".usta." in k}


def test_pretraining_runs_first_and_changes_the_start(tmp_path):
    ds = ToyClips(n=16)
    plain = train(fresh_model(), ds, cfg(epochs=1), checkpoint_dir=tmp_path / "plain")
    first = train(fresh_model(), ds, cfg(epochs=1, pretrain_epochs=2), checkpoint_dir=tmp_path / "ssl")
    state = torch.load(tmp_path / "ssl" / "pretrain_checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["losses"]) == 2
    assert not (tmp_path / "plain" / "pretrain_checkpoint.pt").exists()
    a, b = _usta(plain.model.state_dict()), _usta(first.model.state_dict())
    assert any(not torch.equal(a[k], b[k]) for k in a)            # the supervised run started elsewhere
    ids = [torch.load(tmp_path / d / "last.pt", weights_only=True)["identity"] for d in ("plain", "ssl")]
    assert first.config.pretrain_epochs == 2 and ids[0] != ids[1]   # a checkpoint of one never resumes the other


def test_run_stopped_after_its_pretraining_resumes_to_the_same_weights(tmp_path):
    ds = ToyClips(n=16)
    c = cfg(epochs=2, pretrain_epochs=2)
    full = train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "a").model.state_dict()
    train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "b")
    (tmp_path / "b" / "last.pt").unlink()          # as if killed after pretraining, before the first epoch's checkpoint
    resumed = train(fresh_model(seed=99), ds, c, checkpoint_dir=tmp_path / "b").model.state_dict()
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_loso_fold_pretrains_on_its_training_subjects_only(tmp_path, monkeypatch):
    seen: list[set[str]] = []
    real = pretrain_module.pretrain

    def spy(model, dataset, *args, **kwargs):
        seen.append(set(dataset_info(dataset).groups))
        return real(model, dataset, *args, **kwargs)

    monkeypatch.setattr(pretrain_module, "pretrain", spy)
    ds = GroupedClips(n=24, subjects=4)
    result = run_protocol(ds, LOSO(), tiny_model, fast_cfg(pretrain_epochs=1), tmp_path / "run")
    assert result.complete and len(seen) == 4
    subjects = {f"d0/s{i}" for i in range(4)}
    assert sorted(map(sorted, seen)) == sorted(sorted(subjects - {s}) for s in subjects)   # never the test subject
    assert not list((tmp_path / "run").rglob("*.pt"))     # finished folds leave no checkpoint, pretraining's included
