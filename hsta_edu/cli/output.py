"""What the commands print: the metrics line(s) and the ``--json`` last line."""

from __future__ import annotations

import json
from typing import Any


def emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str), flush=True)


def print_metrics(summary: dict[str, Any]) -> None:
    if "uf1" in summary:
        print(f"UF1 {summary['uf1']:.4f}  UAR {summary['uar']:.4f}  accuracy {summary['accuracy']:.4f}  "
              f"({summary['n_samples']} clips, {summary['n_folds']} folds)")
        for name, d in (summary.get("per_dataset") or {}).items():
            print(f"  {name}: UF1 {d['uf1']:.4f}  UAR {d['uar']:.4f}  (n={d['n']})")
    else:
        print(f"{summary['folds_done']}/{summary['n_folds']} folds done in {summary['run_dir']}; "
              f"run the remaining shards, then `hsta-edu report {summary['run_dir']}`")
