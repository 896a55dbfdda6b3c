"""Output folders of runs: one rule for every kind (claim, identity, overwrite, resume).

A run writes only into a folder that is missing, empty, or its own. "Its own" is decided by the
folder's *record*, a JSON file written first (``config.json`` of a protocol run, ``train_run.json``
of a ``train`` output) that holds the run's ``identity``: everything that decides its results. A
rerun with the same identity resumes there; one with another identity is refused, naming the
fields that differ; ``overwrite`` deletes the run's own files (`hsta_edu.io.OutputFolder`) and
nothing else. The two kinds differ only in their file lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..fingerprint import refuse_if_different
from ..io import OutputFolder, atomic_write_json

_FOLD = r"fold_\d{3,}"

#: a protocol run's folder: ``config.json`` (written first) marks it; these are every file a run writes there
RUN_FOLDER = OutputFolder("run folder", ("config.json",), (
    r"config\.json", r"metrics\.json", r"predictions\.csv", r"per_fold\.csv", r"confusion\.png", r"report\.md",
    r"dropped\.csv", rf"folds/{_FOLD}\.json", rf"checkpoints/{_FOLD}/last\.pt",
    # the submitit executor's files (default folder RUN_DIR/slurm): the run's spec once, then per job
    # submitit's pickles, scripts and logs
    r"slurm/spec\.pkl", r"slurm/[0-9a-f]{32}\.pkl", r"slurm/\.submission_file_[0-9a-f]{32}\.sh",
    r"slurm/[0-9_]+/[0-9_]+_(?:submitted\.pkl|result\.pkl|log\.err|log\.out|submission\.sh)"))

#: ``train --out``: ``train_run.json`` (written first) marks it; these are every file a training run writes
TRAIN_FOLDER = OutputFolder("training output folder", ("train_run.json",), (
    r"train_run\.json", r"model\.pt", r"checkpoint/last\.pt", r"history\.csv", r"history\.png",
    r"train_summary\.json", r"dropped\.csv"))

_FORMATS = {RUN_FOLDER.kind: "hsta_edu.run/1", TRAIN_FOLDER.kind: "hsta_edu.train/1"}
_OTHER = {RUN_FOLDER.kind: "holds a different run", TRAIN_FOLDER.kind: "holds the model of another training run"}


def read_record(path: str | Path, kind: OutputFolder = RUN_FOLDER) -> dict[str, Any]:
    """The record at ``path``, checked to be a ``kind`` folder's record of hsta_edu (a `DataError`
    naming the file otherwise: a file that is not a run's own is never replaced, not even with
    ``overwrite``)."""
    path = Path(path)
    fix = "it is not a record hsta_edu can use, so it is not replaced: choose another folder"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path} cannot be read as the record of a {kind.kind} ({exc}); {fix}") from None
    except ValueError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); {fix}") from None
    if not isinstance(record, dict) or record.get("format") != _FORMATS[kind.kind] or "identity" not in record:
        raise DataError(f"{path} is not the record of a {kind.kind} of hsta_edu; {fix}")
    return record


def claim_folder(kind: OutputFolder, folder: str | Path, record: dict[str, Any], *, overwrite: bool = False,
                 fix: str = "rerun with --overwrite to delete its results and start afresh, or choose another "
                            "folder") -> dict[str, Any]:
    """Claim ``folder`` for the run that ``record`` describes (a dict with ``identity``; its ``format``
    is set here). A new or empty folder (or one cleared by ``overwrite``) gets the record, written
    before anything else; a folder of the same run keeps its record (the run resumes there); a folder
    of another run is refused with a `ConfigError` naming what differs; a folder of other files is
    refused naming some of them. Returns the record the folder now holds."""
    folder = Path(folder).expanduser()
    record = {"format": _FORMATS[kind.kind], **record}
    old = kind.claim(folder, overwrite=overwrite, read_record=lambda p: read_record(p, kind))
    if old is None:
        atomic_write_json(folder / kind.records[0], record)
        return record
    refuse_if_different(old["identity"], record["identity"], f"{folder} {_OTHER[kind.kind]}", fix, ConfigError)
    return old
