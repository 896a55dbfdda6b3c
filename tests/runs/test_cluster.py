"""Scale-out through an existing engine: submitit jobs per fold (--launcher), --shard auto, requeue."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hsta_edu.cli import main
from hsta_edu.errors import ConfigError
from hsta_edu.evaluate import parse_shard

submitit = pytest.importorskip("submitit")
from hsta_edu.runs.executors import FoldTask  # noqa: E402 - needs submitit

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"


def test_shard_auto_reads_the_slurm_array_variables(monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "12")
    monkeypatch.delenv("SLURM_ARRAY_TASK_MIN", raising=False)
    assert parse_shard("auto") == (7, 12)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "12")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")                  # sbatch --array=1-12
    assert parse_shard("auto") == (11, 12)
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT")
    with pytest.raises(ConfigError, match="SLURM_ARRAY_TASK_COUNT.*not set"):
        parse_shard("auto")


def _spec(tmp_path, epochs: int):
    """A claimed 2-fold run on data_samples/ (library API, as a user's script would build it)."""
    from hsta_edu import create_model
    from hsta_edu.data.datasets import load_dataset
    from hsta_edu.data.prep import PrepConfig
    from hsta_edu.data.torch_data import MERDataset
    from hsta_edu.evaluate import SubjectKFold
    from hsta_edu.runs import prepare_run
    from hsta_edu.training import recipe
    from tests.configs import TINY_16PX_2FRAMES_1STAGE

    make = lambda: create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE)   # noqa: E731 - a lambda travels
    ds = MERDataset(load_dataset(SAMPLES), PrepConfig.for_model(make())).preload(progress=False)
    cfg = recipe("fast", epochs=epochs, batch_size=4, progress=False)
    return prepare_run(ds, SubjectKFold(2, seed=0), make, cfg, tmp_path / "run", train_dataset=ds.train_view(),
                       checkpoint_every=0)


def test_the_jobs_carry_the_pickled_run_spec_not_a_command_line(tmp_path):
    """Each job is `FoldTask(spec.pkl)`: the run's `RunSpec` pickled once, as the worker processes get
    it; no command line is rebuilt, so no option can be lost or repeated on the way."""
    import cloudpickle

    from hsta_edu.runs import Submitit, execute

    spec = _spec(tmp_path, epochs=1)
    executor = Submitit("local", timeout_min=10)
    result = execute(spec, executor)
    assert result.complete and len(executor.jobs) == 2
    tasks = {job.submission().function.spec_path for job in executor.jobs}
    assert tasks == {str((spec.run_dir / "slurm" / "spec.pkl").resolve())}
    stored = cloudpickle.loads(Path(tasks.pop()).read_bytes())
    assert stored.run_id == spec.run_id and [f.index for f in stored.folds] == [0, 1]
    assert all(not hasattr(job.submission().function, "argv") for job in executor.jobs)


def test_local_launcher_runs_two_folds_and_report_merges_them(tmp_path, capsys):
    # the launcher prepares the clips into the cache once; the fold tasks read them from there
    common = ["kfold", "--k", "2", "--data", str(SAMPLES), "--epochs", "1", "--no-progress",
              "--cache", str(tmp_path / "cache")]
    assert main([*common, "--out", str(tmp_path / "seq"), "--json"]) == 0
    seq = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = tmp_path / "launched"
    assert main([*common, "--out", str(run), "--launcher", "local", "--json"]) == 0
    text = capsys.readouterr().out
    assert "submitted 2 fold job(s) with submitit (local" in text
    assert sorted(p.name for p in (run / "folds").glob("*.json")) == ["fold_000.json", "fold_001.json"]
    assert (run / "slurm").is_dir()                                     # submitit's logs and pickles
    for i in range(2):
        a = json.loads((tmp_path / "seq" / "folds" / f"fold_{i:03d}.json").read_text())
        b = json.loads((run / "folds" / f"fold_{i:03d}.json").read_text())
        assert a["y_pred"] == b["y_pred"]
    (run / "metrics.json").unlink()
    assert main(["report", str(run), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert merged["uf1"] == pytest.approx(seq["uf1"]) and (run / "metrics.json").exists()
    with pytest.raises(SystemExit):
        main([*common, "--launcher", "pbs"])                            # argparse: invalid choice


@pytest.mark.slow
def test_a_killed_fold_task_is_requeued_and_resumes_from_its_checkpoint(tmp_path, sigint_delivered):
    import cloudpickle

    from hsta_edu.runs import execute, run_fold

    spec = _spec(tmp_path, epochs=40)
    run = spec.run_dir
    run_fold(spec, spec.folds[1])                                       # fold 1 done here
    spec_path = tmp_path / "spec.pkl"
    spec_path.write_bytes(cloudpickle.dumps(spec))
    task = FoldTask(spec_path)
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs" / "%j", cluster="local")
    executor.update_parameters(timeout_min=10)
    job = executor.submit(task, 0)
    ckpt = run / "checkpoints" / "fold_000" / "last.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and not job.done():
        time.sleep(0.05)
    assert ckpt.exists(), "the fold never wrote a checkpoint"
    time.sleep(0.5)
    job.cancel()                                                        # killed mid-training (as on preemption)
    while not job.done():
        time.sleep(0.1)
    assert not (run / "folds" / "fold_000.json").exists()
    # what submitit does on preemption or timeout: the same task, the same arguments, submitted again
    again = task.checkpoint(0)
    assert again.function is task and again.args == (0,)
    assert executor.submit(again.function, *again.args).result() == 0
    record = json.loads((run / "folds" / "fold_000.json").read_text())
    assert record["resumed_from"] > 0 and record["epochs"] == 40
    assert (run / "metrics.json").exists()                              # the last fold merged the run
    assert execute(spec).complete
