"""Evaluation that can be trusted: MEGC metrics, protocols as objects, folds as resumable jobs.

The package is three modules, each importing only the ones before it:

- `metrics`: UF1, UAR, accuracy, per-class report and confusion matrix (scikit-learn),
  computed on predictions **pooled over all folds** (the MEGC definition), with per-fold and
  per-dataset breakdowns (groups are ``dataset/subject``).
- `protocols`: `LOSO` (one fold per subject), `LODO` (leave one dataset out: train on the
  other corpora of a composite, test on one), `SubjectKFold` (subject-grouped, stratified
  k-fold) and `SampleKFold` (the paper's clip-level k-fold, which puts one subject in train and
  test and warns so), as frozen dataclasses that `make_protocol` rebuilds from ``to_dict()``.
  Train-only clips (the paper's Table 7: CAS(ME)^3 macro-expressions as extra training data):
  clips marked ``clip.meta["train_only"]`` (or given by ``train_only=``) never enter a test
  fold; each fold trains on them unless their subject is in its test fold, and the metrics are
  pooled over the other (micro-expression) clips only.
- `results`: `merge_run` pools a run folder's checked fold records into ``metrics.json``,
  ``predictions.csv``, ``confusion.png`` and ``report.md``; `RunResult`.

Running a protocol (folds as resumable jobs, here, in worker processes or on Slurm) is the
`hsta_edu.runs` package's. Everything is importable from ``hsta_edu.evaluate`` itself. A fourth module, `pitfalls`, is not
a way to evaluate: it measures what the known mistakes (epochs chosen on the test folds, clip-level
splits, random test-time sampling) do to a score, for notebook 04 and ``benchmarks/pitfalls.py``;
import it as ``hsta_edu.evaluate.pitfalls``.
"""

from __future__ import annotations

from .metrics import compute_metrics, metrics_table
from .protocols import (
    LODO,
    LOSO,
    PROTOCOLS,
    Fold,
    KFoldProtocol,
    MissingClassWarning,
    Protocol,
    SampleKFold,
    SubjectKFold,
    SubjectLeakageWarning,
    check_val_subjects,
    dataset_of,
    fold_cost,
    make_protocol,
    parse_shard,
    protocol_folds,
    shard_folds,
    train_only_mask,
)
from .results import RunResult, fold_file, merge_run

__all__ = [
    "compute_metrics", "metrics_table", "Fold", "Protocol", "LOSO", "LODO", "KFoldProtocol",
    "SubjectKFold", "SampleKFold", "PROTOCOLS", "SubjectLeakageWarning", "MissingClassWarning",
    "make_protocol", "merge_run", "fold_file", "RunResult", "parse_shard", "check_val_subjects",
    "protocol_folds", "train_only_mask", "dataset_of", "fold_cost", "shard_folds",
]
