import pytest
from matplotlib.figure import Figure

from hsta_edu.data.clip import DatasetIndex
from hsta_edu.data.figures import plot_class_counts
from hsta_edu.errors import DataError


def test_panels_and_stacked():
    counts = {"native": {"disgust": 63, "others": 99}, "megc3": {"negative": 88, "positive": 32, "surprise": 25}}
    fig = plot_class_counts(counts, title="CASME II")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[1].get_title() == "megc3 (145)"
    fig = plot_class_counts({"casme2": {"negative": 88, "positive": 32}, "samm": {"negative": 92}}, stacked=True)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 4           # 2 classes x 2 corpora


def test_accepts_indexes_and_rejects_empty():
    ix = DatasetIndex("x", [], ["a", "b"])
    fig = plot_class_counts({"x": {"a": 1}, "y": ix})
    assert len(fig.axes) == 2
    with pytest.raises(DataError):
        plot_class_counts({})
