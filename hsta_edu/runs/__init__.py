"""Runs: how a protocol run (and a ``train`` output) is claimed, described, executed and resumed.

- `folders`: the one rule for output folders (claim, identity, overwrite, resume), for protocol run
  folders (`RUN_FOLDER`) and ``train`` outputs (`TRAIN_FOLDER`);
- `spec`: the picklable records, `RunOptions` (what the caller chooses) and `RunSpec` (a claimed run
  and everything a fold needs);
- `fold`: one fold (`run_fold`), what every executor runs;
- `executors`: `InProcess`, `WorkerProcesses` (with the warm fork server of `forkserver`) and
  `Submitit` (Slurm job arrays), behind one interface;
- `run`: `prepare_run`, `execute` and `run_protocol`.
"""

from .executors import Executor, InProcess, Submitit, WorkerProcesses, available_cpus
from .fold import fold_order, run_fold, val_split
from .folders import RUN_FOLDER, TRAIN_FOLDER, claim_folder, read_record
from .forkserver import WORKER_MODULES, start_method, warm_workers
from .run import default_executor, execute, prepare_run, run_protocol
from .spec import RunOptions, RunSpec

__all__ = ["RunOptions", "RunSpec", "prepare_run", "execute", "run_protocol", "default_executor", "Executor",
           "InProcess", "WorkerProcesses", "Submitit", "available_cpus", "run_fold", "val_split", "fold_order",
           "RUN_FOLDER", "TRAIN_FOLDER", "claim_folder", "read_record", "warm_workers", "start_method",
           "WORKER_MODULES"]
