"""Tests of hsta_edu/evaluate/: metrics vs scikit-learn and the MEGC pooled definition, protocols
without subject leakage, protocols as frozen dataclasses rebuilt from their dicts, fold jobs
(skip, shard, merge, resume after SIGKILL), run folders."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, recall_score

from hsta_edu import create_model
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.errors import ConfigError, DataError
from hsta_edu.evaluate import (
    LODO,
    LOSO,
    PROTOCOLS,
    KFoldProtocol,
    SampleKFold,
    SubjectKFold,
    SubjectLeakageWarning,
    compute_metrics,
    make_protocol,
    merge_run,
    parse_shard,
    protocol_folds,
    train_only_mask,
)
from hsta_edu.runs import execute, prepare_run, run_protocol
from hsta_edu.training import recipe
from tests.configs import TINY_16PX_2FRAMES_1STAGE

ROOT = Path(__file__).resolve().parents[2]
TINY = TINY_16PX_2FRAMES_1STAGE




class ToyClips(LabelledDataset):
    """(video, special, label) clips with `labels`, `groups` ('dataset/subject') and `classes`."""

    def __init__(self, n: int = 18, subjects: int = 3, seed: int = 0, datasets: int = 1) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = np.arange(n) % 3
        self.groups = [f"d{i % subjects % datasets}/s{i % subjects}" for i in range(n)]
        self.classes = ["negative", "positive", "surprise"]
        self.video = torch.randn(n, 3, 2, 16, 16, generator=g) * 0.3
        self.special = torch.randn(n, 3, 2, 16, 16, generator=g) * 0.3
        for i, y in enumerate(self.labels):
            self.video[i, :, :, 5 * y:5 * y + 5] += 1.0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


def tiny_model():
    return create_model("hsta-tiny", **TINY)


def fast_cfg(**kw):
    return recipe("fast", **{"epochs": 1, "batch_size": 8, "warmup_epochs": 0, "progress": False, **kw})


# ----------------------------------------------------------------------------------- metrics

@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_sklearn_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    y, p = rng.integers(0, k, 200), rng.integers(0, k, 200)
    m = compute_metrics(y, p, [f"c{i}" for i in range(k)])
    assert m["uf1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert m["uar"] == pytest.approx(recall_score(y, p, average="macro"))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert np.asarray(m["confusion"]).sum() == 200 and len(m["confusion"]) == k
    assert m["report"]["c0"]["support"] == int((y == 0).sum())


def write_run(tmp_path: Path, folds: list[tuple[list[int], list[int]]]) -> Path:
    """A run folder written by hand (two LOSO folds), to check pooling independently of training."""
    config = {"format": "hsta_edu.run/1", "protocol": {"name": "loso"}, "n_folds": len(folds), "n_samples": 0,
              "classes": ["negative", "positive", "surprise"], "train_config": recipe("fast").to_dict(),
              "val_subjects": 0.0, "info": {}, "folds": []}
    start = 0
    for i, (yt, yp) in enumerate(folds):
        idx = list(range(start, start + len(yt)))
        start += len(yt)
        config["folds"].append({"index": i, "name": f"d/s{i}", "n_train": 0, "n_test": len(yt)})
        rec = {"index": i, "name": f"d/s{i}", "test_index": idx, "uid": [f"d/s{i}/c{j}" for j in idx],
               "group": [f"d/s{i}"] * len(yt), "y_true": yt, "y_pred": yp,
               "prob": [[1.0 if c == q else 0.0 for c in range(3)] for q in yp], "best_epoch": None,
               "seconds": 1.0}
        (tmp_path / "folds").mkdir(parents=True, exist_ok=True)
        (tmp_path / "folds" / f"fold_{i:03d}.json").write_text(json.dumps(rec))
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_megc_pooled_metrics_on_a_hand_checked_example(tmp_path):
    # fold A: F1 per class 2/3, 2/3, 1 -> UF1 7/9; fold B: 1/2, 2/3, 0 -> UF1 7/18
    # pooled: class 0 TP2 FP2 FN1 -> 4/7; class 1 TP2 FP1 FN1 -> 2/3; class 2 TP1 FP0 FN1 -> 2/3
    #         UF1 = 40/63; recalls 2/3, 2/3, 1/2 -> UAR 11/18; accuracy 5/8
    run = write_run(tmp_path, [([0, 0, 1, 2], [0, 1, 1, 2]), ([0, 1, 1, 2], [0, 1, 0, 0])])
    result = merge_run(run)
    assert result.complete
    assert result.metrics["uf1"] == pytest.approx(40 / 63)
    assert result.metrics["uar"] == pytest.approx(11 / 18)
    assert result.metrics["accuracy"] == pytest.approx(5 / 8)
    per_fold = result.per_fold.set_index("fold")["uf1"]
    assert per_fold[0] == pytest.approx(7 / 9) and per_fold[1] == pytest.approx(7 / 18)
    assert result.metrics["per_fold_uf1_mean"] == pytest.approx(7 / 12) != pytest.approx(40 / 63)
    assert result.metrics["confusion"] == [[2, 1, 0], [1, 2, 0], [1, 0, 1]]
    for name in ("metrics.json", "predictions.csv", "per_fold.csv", "confusion.png", "report.md"):
        assert (run / name).stat().st_size > 0
    assert "0.6349" in (run / "report.md").read_text()
    assert json.loads((run / "metrics.json").read_text())["uf1"] == pytest.approx(40 / 63)


def test_incomplete_run_is_reported_not_scored(tmp_path):
    run = write_run(tmp_path, [([0, 1], [0, 1]), ([2, 2], [2, 0])])
    (run / "folds" / "fold_001.json").unlink()
    result = merge_run(run)
    assert not result.complete and result.metrics is None and result.folds_done == [0]
    with pytest.raises(DataError, match="not a run folder"):
        merge_run(tmp_path / "nowhere")


def test_metric_input_errors():
    with pytest.raises(DataError, match="outside"):
        compute_metrics([0, 1, 5], [0, 1, 1], ["a", "b", "c"])
    with pytest.raises(DataError, match="same length"):
        compute_metrics([0, 1], [0], ["a", "b"])


# ----------------------------------------------------------------------------------- protocols

def test_loso_never_puts_a_subject_in_train_and_test():
    rng = np.random.default_rng(0)
    groups = [f"casme2/sub{rng.integers(0, 9):02d}" if i % 2 else f"samm/{rng.integers(0, 7):03d}"
              for i in range(120)]
    labels = rng.integers(0, 3, 120)
    folds = LOSO().split(labels, groups)
    assert len(folds) == len(set(groups))
    seen = np.concatenate([f.test for f in folds])
    assert sorted(seen.tolist()) == list(range(120))
    for f in folds:
        test_groups = {groups[i] for i in f.test}
        assert test_groups == {f.name}
        assert f.name not in {groups[i] for i in f.train}
        assert len(f.train) + len(f.test) == 120


def test_subject_kfold_groups_and_sample_kfold_warns():
    rng = np.random.default_rng(1)
    groups = [f"d/s{i % 10}" for i in range(100)]
    labels = rng.integers(0, 3, 100)
    for f in SubjectKFold(5, seed=0).split(labels, groups):
        assert not {groups[i] for i in f.train} & {groups[i] for i in f.test}
    with pytest.warns(SubjectLeakageWarning, match="same subjects"):
        folds = SampleKFold(5).split(labels, groups)
    assert any({groups[i] for i in f.train} & {groups[i] for i in f.test} for f in folds)
    with pytest.raises(DataError, match="at least 2 subjects"):
        LOSO().split([0, 1], ["d/a", "d/a"])
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ConfigError):
        parse_shard("4/4")


# The stored form of each protocol: run folders keep it in their fingerprint, so it must not drift.
STORED_PROTOCOLS = [
    (LOSO(), {"name": "loso"}),
    (LODO(), {"name": "lodo"}),
    (SubjectKFold(), {"name": "subject-kfold", "k": 5, "seed": 0, "stratified": True}),
    (SubjectKFold(3, seed=7, stratified=False),
     {"name": "subject-kfold", "k": 3, "seed": 7, "stratified": False}),
    (SampleKFold(), {"name": "sample-kfold", "k": 5, "seed": 0}),
    (SampleKFold(4, seed=2), {"name": "sample-kfold", "k": 4, "seed": 2}),
]


@pytest.mark.parametrize(("protocol", "stored"), STORED_PROTOCOLS, ids=lambda x: getattr(x, "name", ""))
def test_protocols_round_trip_through_the_registry_and_are_frozen(protocol, stored):
    assert protocol.to_dict() == stored and list(protocol.to_dict()) == list(stored)
    assert make_protocol(protocol.to_dict()) == protocol
    assert make_protocol(json.loads(json.dumps(protocol.to_dict()))) == protocol
    assert make_protocol(protocol.name) == type(protocol)()
    assert PROTOCOLS[protocol.name] is type(protocol)
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol.k = 3  # type: ignore[misc]


def test_subject_independence_is_a_fact_of_the_class():
    assert LOSO.subject_independent and LODO.subject_independent and SubjectKFold.subject_independent
    assert not SampleKFold.subject_independent and not SampleKFold(3).subject_independent
    assert "subject_independent" not in SampleKFold().to_dict()


@pytest.mark.parametrize("cls", [SubjectKFold, SampleKFold])
@pytest.mark.parametrize("k", [1, 0, -3, 2.5, "5", True])
def test_k_fold_protocols_reject_k_below_2_in_their_shared_base(cls, k):
    assert issubclass(cls, KFoldProtocol)
    with pytest.raises(ConfigError, match=f"{cls.__name__} needs k >= 2"):
        cls(k=k)
    with pytest.raises(ConfigError, match="needs k >= 2"):
        make_protocol({"name": cls.name, "k": k})
    assert cls(k=2).k == 2


def test_sample_kfold_warns_on_every_split():
    labels, groups = [0, 1] * 10, [f"d/s{i % 4}" for i in range(20)]
    protocol = SampleKFold(2)
    for _ in range(2):
        with pytest.warns(SubjectLeakageWarning):
            protocol.split(labels, groups)


def test_unknown_protocol_name_or_field_is_a_config_error_listing_the_valid_ones():
    for spec in ("kfold", {"name": "leave-one-out"}, {"k": 5}):
        with pytest.raises(ConfigError, match="unknown protocol") as err:
            make_protocol(spec)
        assert all(name in str(err.value) for name in ("loso", "lodo", "subject-kfold", "sample-kfold"))
    with pytest.raises(ConfigError, match=r"unknown SubjectKFold field\(s\) \['folds'\]") as err:
        make_protocol({"name": "subject-kfold", "folds": 5})
    assert "['k', 'seed', 'stratified']" in str(err.value)
    with pytest.raises(ConfigError, match=r"unknown LOSO field\(s\) \['k'\]"):
        make_protocol({"name": "loso", "k": 5})


# ----------------------------------------------------------------------------------- fold jobs

def test_sharded_loso_merged_equals_unsharded_and_reruns_skip(tmp_path):
    ds = ToyClips(n=18, subjects=3, datasets=2)
    full = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "full")
    assert full.complete and full.n_folds == 3 and full.metrics["n_samples"] == 18
    assert set(full.per_dataset["dataset"]) == {"d0", "d1"}
    for rec in (tmp_path / "full" / "folds").glob("*.json"):
        r = json.loads(rec.read_text())
        assert not set(r["train_groups"]) & set(r["test_groups"])
    part = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "sharded", shard="1/2")
    assert not part.complete and part.folds_done == [1]
    merged = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "sharded", shard=(0, 2))
    assert merged.complete
    pd.testing.assert_frame_equal(merged.predictions, full.predictions)
    assert merged.metrics["uf1"] == full.metrics["uf1"]

    built = []

    def counting():
        built.append(1)
        return tiny_model()

    again = run_protocol(ds, LOSO(), counting, fast_cfg(), tmp_path / "full")
    pd.testing.assert_frame_equal(again.predictions, full.predictions)
    assert len(built) == 1      # the run's identity probe only: no finished fold was trained again
    with pytest.raises(ConfigError, match="different run"):
        run_protocol(ds, LOSO(), tiny_model, fast_cfg(epochs=2), tmp_path / "full")


def test_validation_split_uses_training_subjects_only(tmp_path):
    ds = ToyClips(n=24, subjects=4)
    result = run_protocol(ds, LOSO(), tiny_model, fast_cfg(epochs=2), tmp_path, val_subjects=1)
    for rec in (tmp_path / "folds").glob("*.json"):
        r = json.loads(rec.read_text())
        assert len(r["val_groups"]) == 1
        assert not set(r["val_groups"]) & set(r["test_groups"])
        assert set(r["val_groups"]) <= set(r["train_groups"])   # drawn from the fold's training subjects
        assert r["best_epoch"] in (1, 2)
    assert result.metrics["best_epochs"] is not None


# ----------------------------------------------------------------------------------- extra training data, LODO

def test_train_only_clips_train_every_fold_of_their_subjects_complement_and_are_never_tested(tmp_path):
    ds = ToyClips(n=24, subjects=4)
    extra = np.zeros(24, dtype=bool)
    extra[[0, 5, 10, 15, 21]] = True          # subjects s0, s1, s2, s3, s1
    folds = protocol_folds(LOSO(), ds.labels, ds.groups, extra)
    assert len(folds) == 4
    groups = np.asarray(ds.groups)
    for f in folds:
        assert not extra[f.test].any()                                       # never in a test fold
        assert set(groups[f.test]) == {f.name}
        want_extra = {i for i in np.flatnonzero(extra) if groups[i] != f.name}
        assert {i for i in f.train if extra[i]} == want_extra                 # all of the complement's extras
        assert not set(groups[f.train]) & set(groups[f.test])
    result = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "run", train_only=extra)
    assert result.complete and result.metrics["n_samples"] == 24 - 5        # pooled over the other clips only
    assert set(result.predictions["index"]) == set(np.flatnonzero(~extra))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["n_train_only"] == 5 and config["n_samples"] == 19
    assert "5 train-only clips" in (tmp_path / "run" / "report.md").read_text()
    rec = json.loads((tmp_path / "run" / "folds" / "fold_000.json").read_text())
    assert rec["n_train_only"] == 4 and rec["n_train"] == (19 - 5) + 4     # s0 test: other micro + other extras
    with pytest.raises(ConfigError, match="different run"):          # the same folder without extras: refused
        run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "run")


def test_train_only_marks_come_from_the_clips():
    from hsta_edu.data.clip import Clip, DatasetIndex
    from hsta_edu.data.prep import PrepConfig
    from hsta_edu.data.torch_data import MERDataset

    classes = ["negative", "positive", "surprise"]
    clips = [Clip("casme3", f"s{i % 2}", f"c{i}", (), (), 1, 2, 3, classes[i % 3], meta={"train_only": i >= 4})
             for i in range(6)]
    ds = MERDataset(DatasetIndex("casme3", clips, classes), PrepConfig())   # nothing decoded: no frames needed
    assert train_only_mask(ds).tolist() == [False] * 4 + [True] * 2
    assert not train_only_mask(ds, False).any()
    with pytest.raises(DataError, match="6 booleans"):
        train_only_mask(ds, [True])
    with pytest.raises(DataError, match="every clip is train-only"):
        protocol_folds(LOSO(), ds.labels, ds.groups, np.ones(6, dtype=bool))


def test_leave_one_dataset_out_folds_and_per_corpus_metrics(tmp_path):
    ds = ToyClips(n=24, subjects=4, datasets=3)      # d0 = subjects s0 and s3, d1 = s1, d2 = s2
    folds = LODO().split(ds.labels, ds.groups)
    assert [f.name for f in folds] == ["d0", "d1", "d2"]
    for f in folds:
        assert {g.split("/")[0] for g in np.asarray(ds.groups)[f.test]} == {f.name}
        assert f.name not in {g.split("/")[0] for g in np.asarray(ds.groups)[f.train]}
    assert isinstance(make_protocol("lodo"), LODO) and make_protocol(LODO().to_dict()).name == "lodo"
    result = run_protocol(ds, LODO(), tiny_model, fast_cfg(), tmp_path)
    assert result.complete and result.metrics["n_samples"] == 24
    assert list(result.per_dataset["dataset"]) == ["d0", "d1", "d2"]
    assert set(result.metrics["per_dataset"]) == {"d0", "d1", "d2"}
    assert set(result.summary()["per_dataset"]) == {"d0", "d1", "d2"}
    with pytest.raises(DataError, match="at least 2 datasets"):
        LODO().split([0, 1, 2], ["a/s1", "a/s2", "a/s3"])


LOSO_SCRIPT = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, {tests!r})
    torch.set_num_threads(1)
    from test_evaluate import ToyClips, tiny_model, fast_cfg
    from hsta_edu.evaluate import LOSO
    from hsta_edu.runs import run_protocol
    r = run_protocol(ToyClips(n=24, subjects=4), LOSO(), tiny_model, fast_cfg(epochs=2), sys.argv[1])
    print("UF1", r.metrics["uf1"])
""")


@pytest.mark.slow
def test_sigkill_during_loso_then_rerun_matches_uninterrupted(tmp_path):
    script = tmp_path / "loso.py"
    script.write_text(LOSO_SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed")], env=env)
    deadline = time.time() + 240
    while not (tmp_path / "killed" / "folds" / "fold_000.json").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (tmp_path / "killed" / "folds").glob("*.json"))
    assert 1 <= len(done) < 4
    for p in (tmp_path / "killed" / "folds").glob("*.json"):
        json.loads(p.read_text())   # every fold file present is complete (atomic writes)
    subprocess.run([sys.executable, str(script), str(tmp_path / "killed")], env=env, check=True, timeout=300)
    run_protocol(ToyClips(n=24, subjects=4), LOSO(), tiny_model, fast_cfg(epochs=2), tmp_path / "clean")
    a = pd.read_csv(tmp_path / "killed" / "predictions.csv")
    b = pd.read_csv(tmp_path / "clean" / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)


def test_subject_kfold_unstratified_is_a_different_whole_subject_split():
    labels = np.repeat([0, 1, 2, 0, 1, 2, 0, 0], 3)
    groups = [f"d/s{i // 3}" for i in range(len(labels))]
    for stratified in (True, False):
        folds = SubjectKFold(4, seed=0, stratified=stratified).split(labels, groups)
        tested = np.concatenate([f.test for f in folds])
        assert sorted(tested.tolist()) == list(range(len(labels)))
        for f in folds:
            assert not {groups[i] for i in f.train} & {groups[i] for i in f.test}
    plain = SubjectKFold(4, seed=0, stratified=False).split(labels, groups)
    assert [len(f.test) for f in plain] == [6, 6, 6, 6]          # GroupKFold balances sizes


def test_shards_are_balanced_by_fold_size_and_cover_every_fold_once():
    from hsta_edu.evaluate import Fold, shard_folds
    sizes = [30, 2, 2, 2, 2, 2, 30, 2, 2, 2, 28, 2]      # test clips of 12 subjects, 106 clips in all
    folds = [Fold(i, f"s{i}", np.arange(106 - n), np.arange(n)) for i, n in enumerate(sizes)]
    parts = [shard_folds(folds, (i, 3)) for i in range(3)]
    assert sorted(f.index for p in parts for f in p) == list(range(12))   # each fold in exactly one shard
    work = [sum(len(f.train) for f in p) for p in parts]
    strided = [sum(len(f.train) for f in folds if f.index % 3 == i) for i in range(3)]
    assert max(work) - min(work) <= max(len(f.train) for f in folds) - min(len(f.train) for f in folds)
    assert max(work) - min(work) < max(strided) - min(strided)
    assert [f.index for f in shard_folds(folds, (5, 12))] == [5]          # one job per fold: shard k is fold k
    assert [f.index for f in shard_folds(folds, (3, 20))] == [3] and shard_folds(folds, (15, 20)) == []
    assert shard_folds(folds, None) == folds


def test_a_run_folder_refuses_another_run_naming_what_differs(tmp_path):
    """A reused run folder never answers for another run: model, preprocessing, recipe or clips."""
    ds = ToyClips(n=12, subjects=2)
    run = tmp_path / "run"
    first = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), run, info={"prep": {"special": "apex_diff"}})
    assert first.complete
    other_model = lambda: create_model("hsta-tiny", **{**TINY, "use_csta": False})  # noqa: E731
    with pytest.raises(ConfigError, match=r"different run \(model\.use_csta: true there, false now\).*--overwrite"):
        run_protocol(ds, LOSO(), other_model, fast_cfg(), run, info={"prep": {"special": "apex_diff"}})
    with pytest.raises(ConfigError, match=r"prep\.special: 'apex_diff' there, 'flow' now"):
        run_protocol(ds, LOSO(), tiny_model, fast_cfg(), run, info={"prep": {"special": "flow"}})
    relabelled = ToyClips(n=12, subjects=2)
    relabelled.labels = relabelled.labels[::-1].copy()
    with pytest.raises(ConfigError, match=r"data\.digest"):
        run_protocol(relabelled, LOSO(), tiny_model, fast_cfg(), run, info={"prep": {"special": "apex_diff"}})
    # overwrite: the old results go, the new run's replace them
    fresh = run_protocol(ds, LOSO(), other_model, fast_cfg(), run, info={"prep": {"special": "apex_diff"}},
                         overwrite=True)
    assert fresh.complete and json.loads((run / "config.json").read_text())["identity"]["model"]["use_csta"] is False
    # a fold record of another run is not merged into this one
    stray = json.loads((tmp_path / "run" / "folds" / "fold_000.json").read_text())
    stray["run_id"] = "0" * 16
    (run / "folds" / "fold_000.json").write_text(json.dumps(stray))
    with pytest.raises(DataError, match=r"fold_000.json comes from another run"):
        merge_run(run)


def test_a_prepared_run_is_a_picklable_claim_that_execute_runs(tmp_path):
    """The CLI claims the folder once (`prepare_run`, nothing trained) and executes that claim (`execute`);
    the claim is a picklable record, and a claim with other arguments on the same folder is refused."""
    import cloudpickle

    ds = ToyClips(n=12, subjects=2)
    spec = prepare_run(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "run")
    assert not (tmp_path / "run" / "folds").exists() and spec.n_folds == 2
    with pytest.raises(ConfigError, match=r"holds a different run \(train_config.epochs"):
        prepare_run(ds, LOSO(), tiny_model, fast_cfg(epochs=2), tmp_path / "run")
    with pytest.raises(ConfigError, match=r"holds a different run \(folds: .*protocol"):
        prepare_run(ds, SubjectKFold(2), tiny_model, fast_cfg(), tmp_path / "run")
    copy = cloudpickle.loads(cloudpickle.dumps(spec))        # what an executor sends to a worker or a job
    assert copy.run_id == spec.run_id and copy.groups == spec.groups
    done = execute(copy)
    assert done.complete and done.n_folds == 2
    again = run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path / "again")
    assert np.array_equal(done.predictions["y_pred"], again.predictions["y_pred"])


@pytest.mark.parametrize("text, message", [
    ("{", r"config.json is not valid JSON"),
    ("[1, 2]", r"config.json is not (a run configuration|the record of a run folder)"),
])
def test_a_corrupt_run_config_is_named(tmp_path, text, message):
    ds = ToyClips(n=12, subjects=2)
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(DataError, match=message):
        merge_run(tmp_path)
    with pytest.raises(DataError, match=message):
        run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda r: {}, r"fold_001.json is not a fold record of hsta_edu"),
    (lambda r: {**r, "y_pred": [7] * len(r["y_pred"])}, r"class index 7 outside the run's 3 classes"),
    (lambda r: "[]", r"not a fold record"),
])
def test_a_bad_fold_record_is_named(tmp_path, edit, message):
    ds = ToyClips(n=12, subjects=2)
    assert run_protocol(ds, LOSO(), tiny_model, fast_cfg(), tmp_path).complete
    path = tmp_path / "folds" / "fold_001.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(DataError, match=message):
        merge_run(tmp_path)
