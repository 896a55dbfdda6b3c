"""The shipped learning curve (issue 26): what `benchmarks/learning_curve.py --report` measured on the
evaluation seeds, read back and drawn as notebook 04 does; a broken file is named."""

from __future__ import annotations

import json

import pytest

from hsta_edu.errors import DataError
from hsta_edu.evaluate.curve import MEASURED, measured_learning_curve, plot_measured_learning_curve
from hsta_edu.viz import plot_learning_curve


def test_shipped_curve_is_the_evaluation_grid_and_draws():
    data = measured_learning_curve()
    rows = data["rows"]
    assert rows and data["source"] == "benchmarks/learning_curve.py"
    assert {r["seed"] for r in rows} <= set(data["seeds"]) == {7301, 7302}   # never a development seed
    for r in rows:
        assert r["clips"] == r["subjects"] * r["per_class"] * 3 and 0.0 <= r["uf1"] <= 1.0
    assert data["recipe"]["min_steps"] > 0                                     # measured with the size-keyed recipe
    fig = plot_measured_learning_curve()
    assert len([ax for ax in fig.axes if ax.get_xlabel()]) == len({r["level"] for r in rows})


def test_bad_curve_files_are_named(tmp_path):
    with pytest.raises(DataError, match="missing.json"):
        measured_learning_curve(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": "no"}))
    with pytest.raises(DataError, match="bad.json.*rows"):
        measured_learning_curve(bad)
    with pytest.raises(DataError, match="row 0 lacks"):
        plot_learning_curve([{"level": "x", "clips": 3}])
    assert MEASURED.name == "learning_curve.json"
