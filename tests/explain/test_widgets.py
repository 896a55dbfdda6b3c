import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from hsta_edu.errors import ConfigError
from hsta_edu.explain import Explorer, explore
from hsta_edu.explain.widgets import widgets_available


class _Data:
    """A dataset-like object: (video, special, label) items and class names."""
    classes = ["negative", "positive", "surprise"]

    def __init__(self, n=2):
        g = torch.Generator().manual_seed(3)
        self.items = [(torch.randn(3, 4, 16, 16, generator=g), torch.randn(3, 2, 16, 16, generator=g), i % 3)
                      for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


METHODS = ["rollout", "attention", "csta", "saliency", "layer_gradcam"]


def test_no_widget_front_end_under_pytest(monkeypatch):
    assert widgets_available() is False          # no kernel here, and PYTEST_CURRENT_TEST is set
    monkeypatch.setenv("HSTA_EDU_WIDGETS", "1")
    assert widgets_available() is True
    monkeypatch.setenv("HSTA_EDU_WIDGETS", "0")
    assert widgets_available() is False


def test_explorer_builds_controls_and_redraws_without_piling_figures(tiny_model):
    ex = Explorer(tiny_model, _Data(), METHODS, widgets=True)
    descriptions = {w.description for w in ex.controls.values()}
    assert descriptions == {"clip", "method", "modality", "stage", "block", "head", "frame"}
    n_open = len(plt.get_fignums())
    first = ex.redraw()
    assert isinstance(first, Figure) and len(first.axes) >= 2
    seen = [first]
    for method in METHODS[1:]:
        ex.controls["method"].value = method          # as a user would: through the widget
        assert ex.state["method"] == method and ex.figure is not seen[-1]
        seen.append(ex.figure)
    ex.controls["modality"].value = "special"
    assert ex.controls["frame"].options[-1][1] == 1   # special data has 2 frames
    ex.controls["frame"].value = 1
    ex.controls["clip"].value = 1
    ex.controls["head"].value = 1
    assert ex.state == {**ex.state, "modality": "special", "frame": 1, "clip": 1, "head": 1}
    assert len(ex.output.outputs) <= 1                # the Output holds only the latest picture
    assert len(plt.get_fignums()) == n_open           # no pyplot figures left open
    assert all(len(f.axes) == 0 for f in seen)        # old figures were cleared


def test_irrelevant_controls_are_disabled(tiny_model):
    ex = Explorer(tiny_model, _Data(1), METHODS, widgets=True)
    ex.set(method="rollout")
    assert ex.controls["block"].disabled and not ex.controls["head"].disabled
    ex.set(method="attention")
    assert not ex.controls["block"].disabled and not ex.controls["stage"].disabled


def test_static_mode_and_choice_validation(tiny_model):
    ex = Explorer(tiny_model, _Data(1), ["rollout"], widgets=False)
    bundle = ex._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" not in bundle
    fig = ex.set(frame=3)
    assert "frame 3" in fig.axes[0].get_title()
    with pytest.raises(ConfigError):
        ex.set(frame=4)
    with pytest.raises(ConfigError):
        ex.set(method="occlusion")               # not one of this explorer's methods
    with pytest.raises(ConfigError):
        Explorer(tiny_model, _Data(1), ["nope"])


def test_explore_shows_once_and_returns_the_explorer(tiny_model, capsys):
    ex = explore(tiny_model, _Data(1), ["csta"], widgets=False)
    assert isinstance(ex, Explorer) and ex.figure is not None
    assert ex._repr_mimebundle_() .keys() == {"text/plain"}    # already shown: not shown twice


def test_block_control_follows_the_stage_when_stages_differ():
    """Stage 0 has 3 video blocks, stage 1 one: the block choice is checked and clamped per stage."""
    import hsta_edu

    from ..configs import TINY_16PX_4FRAMES
    torch.manual_seed(0)
    uniform = {k: v for k, v in TINY_16PX_4FRAMES.items() if k not in ("num_stages", "video_blocks", "special_blocks")}
    model = hsta_edu.create_model("hsta-tiny", **uniform, stage_blocks=((1, 3), (1, 1))).eval()
    ex = Explorer(model, _Data(1), ["attention"], widgets=True)
    ex.set(modality="video", stage=0, block=2)
    assert ex.controls["block"].max == 2
    fig = ex.set(stage=1)                        # block 2 does not exist in stage 1: clamped to 0
    assert ex.state["block"] == 0 and ex.controls["block"].max == 0 and isinstance(fig, Figure)
    with pytest.raises(ConfigError, match="1 blocks in stage 1"):
        ex.set(block=1)
    plt.close("all")


def test_explorer_outlines_the_true_region_on_synthme_and_not_elsewhere(tiny_model):
    from pathlib import Path

    from hsta_edu.data.datasets import load_dataset
    from hsta_edu.data.prep import PrepConfig
    from hsta_edu.data.torch_data import MERDataset

    root = Path(__file__).resolve().parents[2] / "data_samples"
    model = tiny_model
    prep = PrepConfig.for_model(model, face="none", register="none", magnify=0.0)
    synth = MERDataset(load_dataset(root, scheme="megc3"), prep)

    def legend_labels(explorer):
        legend = explorer.render().axes[0].get_legend()
        return [t.get_text() for t in legend.get_texts()] if legend is not None else []

    assert legend_labels(Explorer(model, synth, ["saliency"], widgets=False)) == ["true moving region"]
    assert legend_labels(Explorer(model, synth, ["saliency"], widgets=False, true_regions=False)) == []
    # not SynthME (no ground truth): no outline, and no error unless the outline was asked for
    assert legend_labels(Explorer(model, _Data(), ["saliency"], widgets=False)) == []
    with pytest.raises(AttributeError):
        Explorer(model, _Data(), ["saliency"], widgets=False, true_regions=True).render()
