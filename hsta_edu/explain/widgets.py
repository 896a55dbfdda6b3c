"""An interactive explorer of explanations: pick a clip, a method, a modality, a stage, a block,
a head and a frame, and see the map over the face and the per-frame importance curve.

``explore(model, dataset)`` shows ipywidgets controls (JupyterLab, Colab, Binder) that redraw
into one Output widget; where no widget front end can render them (plain Python, a notebook
run by nbmake/nbclient, ``HSTA_EDU_WIDGETS=0``), it shows one static figure of the current
choice instead. Every control has a short ``description`` ('clip', 'method', 'modality',
'stage', 'block', 'head', 'frame') so a browser test can find it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..errors import ConfigError, DataError
from ..viz import figure_png, outline_region, region_handle
from .methods import METHODS, explain_maps
from .plots import display_frames, draw_overlay, frame_importance
from .score import synthme_mask

# which controls each method listens to
_USES = {
    "rollout": {"head"},
    "attention": {"stage", "block", "head"},
    "csta": {"stage", "head"},
    "layer_gradcam": {"stage", "block"},
}


def widgets_available() -> bool:
    """Whether a widget front end can be expected to render ipywidgets here.

    ``HSTA_EDU_WIDGETS=1/0`` forces the answer. Otherwise: no IPython kernel (plain Python,
    a terminal IPython) -> False; a kernel started by a test runner (nbmake runs kernels with
    ``PYTEST_CURRENT_TEST`` in their environment) -> False; a kernel in Colab or Jupyter -> True.
    """
    forced = os.environ.get("HSTA_EDU_WIDGETS")
    if forced is not None:
        return forced.strip().lower() not in ("0", "false", "no", "")
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or not hasattr(ip, "kernel"):
        return False
    if "PYTEST_CURRENT_TEST" in os.environ or "NBMAKE" in os.environ:
        return False
    return True


def _enable_colab_widgets() -> None:
    if "google.colab" in sys.modules:  # ipywidgets 8 needs Colab's custom manager (7.x, Colab's own, not)
        try:
            from google.colab import output  # type: ignore[import-not-found]
            output.enable_custom_widget_manager()
        except Exception:  # pragma: no cover - only in Colab
            pass


def _clip_names(dataset: Any) -> list[str]:
    """``"i: uid (class)"`` of every item the typed dataset interface knows; ``"clip i"`` for a dataset
    that does not say its labels (any dataset of (video, special, label) items can be explored)."""
    from ..data.labelled import dataset_info

    try:
        info = dataset_info(dataset)
    except DataError:
        return [f"clip {i}" for i in range(len(dataset))]
    return [f"{i}: {uid} ({info.classes[y]})" for i, (uid, y) in enumerate(zip(info.uids, info.labels, strict=True))]


class Explorer:
    """Widgets over ``explain_maps`` for one model and one dataset of (video, special, label) items.

    ``Explorer(model, dataset).show()`` (or ``explore(...)``); ``redraw()`` recomputes the figure
    for the current choices (maps are cached per clip, method and options, so moving the frame
    control is instant); ``figure`` is the current matplotlib Figure.
    """

    def __init__(self, model: nn.Module, dataset: Any, methods: Sequence[str] | None = None, *,
                 classes: Sequence[str] | None = None, method_options: dict[str, dict] | None = None,
                 widgets: bool | None = None, true_regions: bool | None = None) -> None:
        if len(dataset) == 0:
            raise ConfigError("the explorer needs a dataset with at least one clip")
        self.model = model
        self.dataset = dataset
        self.methods = list(methods or METHODS)
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ConfigError(f"unknown method(s) {bad}; choose from {list(METHODS)}")
        self.classes = list(classes or getattr(dataset, "classes", []) or [])
        self.method_options = method_options or {"integrated_gradients": {"n_steps": 16},
                                                 "smoothgrad_ig": {"n_steps": 8, "nt_samples": 4}}
        self.use_widgets = widgets_available() if widgets is None else widgets
        self.figure: Figure | None = None
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}
        self._pred: dict[int, tuple[int, np.ndarray]] = {}
        cfg = model.config
        self.modalities = sorted(getattr(model, "modalities", cfg.modalities), key=lambda m: m != "video")
        self.state: dict[str, Any] = {"clip": 0, "method": self.methods[0], "modality": self.modalities[0],
                                      "stage": cfg.num_stages - 1, "block": 0, "head": "mean", "frame": "mean"}
        self.box = None
        # the true moving region (SynthME ground truth) outlined on the map: None finds out per clip
        self.true_regions = true_regions
        self._regions: dict[int, np.ndarray | None] = {}
        self._build_widgets()

    # ------------------------------------------------------------------ controls
    def _frames_of(self, modality: str) -> int:
        return self.model.config.branch(modality).frames

    def _heads_of(self, modality: str) -> int:
        return self.model.config.branch(modality).heads

    def _blocks_of(self, modality: str, stage: int | None = None) -> int:
        """USTA blocks of ``modality`` in ``stage`` (the current one by default): stages may differ."""
        blocks = self.model.config.branch(modality).blocks
        k = self.state["stage"] if stage is None else stage
        return blocks[k] if 0 <= k < len(blocks) else 0

    def _build_widgets(self) -> None:
        import ipywidgets

        _enable_colab_widgets()
        m0 = self.state["modality"]
        style = {"description_width": "70px"}
        self.controls = {
            "clip": ipywidgets.Dropdown(options=[(n, i) for i, n in enumerate(_clip_names(self.dataset))], value=0,
                               description="clip", style=style),
            "method": ipywidgets.Dropdown(options=self.methods, value=self.state["method"], description="method",
                                 style=style),
            "modality": ipywidgets.Dropdown(options=self.modalities, value=m0, description="modality", style=style),
            "stage": ipywidgets.IntSlider(value=self.state["stage"], min=0, max=max(self.model.config.num_stages - 1, 0),
                                 description="stage", continuous_update=False, style=style),
            "block": ipywidgets.IntSlider(value=0, min=0, max=max(self._blocks_of(m0) - 1, 0), description="block",
                                 continuous_update=False, style=style),
            "head": ipywidgets.Dropdown(options=self._head_options(m0), value="mean", description="head", style=style),
            "frame": ipywidgets.Dropdown(options=self._frame_options(m0), value="mean", description="frame", style=style),
        }
        self.output = ipywidgets.Output(layout={"min_height": "240px"})
        self.status = ipywidgets.HTML(value="")
        for name, w in self.controls.items():
            w.observe(self._on_change(name), names="value")
        left = ipywidgets.VBox([self.controls[k] for k in ("clip", "method", "modality", "stage")])
        right = ipywidgets.VBox([self.controls[k] for k in ("block", "head", "frame")] + [self.status])
        self.box = ipywidgets.VBox([ipywidgets.HBox([left, right]), self.output])
        self._sync_enabled()

    def _head_options(self, modality: str) -> list:
        return [("mean", "mean"), ("max", "max"), ("min", "min")] + [
            (f"head {h}", h) for h in range(self._heads_of(modality))]

    def _frame_options(self, modality: str) -> list:
        return [("all (sum)", "mean")] + [(f"frame {t}", t) for t in range(self._frames_of(modality))]

    def _sync_enabled(self) -> None:
        uses = _USES.get(self.state["method"], set())
        for k in ("stage", "block", "head"):
            self.controls[k].disabled = k not in uses

    def _on_change(self, name: str):
        def handler(change: dict) -> None:
            if not getattr(self, "_muted", False) and change["new"] != self.state[name]:
                self.set(**{name: change["new"]})
        return handler

    def set(self, **choices: Any) -> Figure:
        """Change choices (clip, method, modality, stage, block, head, frame) and redraw once."""
        unknown = set(choices) - set(self.state)
        if unknown:
            raise ConfigError(f"unknown explorer choice(s) {sorted(unknown)}; use {sorted(self.state)}")
        new = {**self.state, **choices}
        self._validate(new, set(choices))
        self.state.update(choices)
        if "modality" in choices or "stage" in choices:  # the controls that depend on them
            m = self.state["modality"]
            self.state["block"] = min(self.state["block"], max(self._blocks_of(m) - 1, 0))
            if isinstance(self.state["head"], int) and self.state["head"] >= self._heads_of(m):
                self.state["head"] = "mean"
            if isinstance(self.state["frame"], int) and self.state["frame"] >= self._frames_of(m):
                self.state["frame"] = "mean"
        self._push_state()
        return self.redraw()

    def _validate(self, s: dict[str, Any], changed: set[str]) -> None:
        if s["method"] not in self.methods:
            raise ConfigError(f"method {s['method']!r} is not one of this explorer's {self.methods}")
        if s["modality"] not in self.modalities:
            raise ConfigError(f"modality {s['modality']!r} is not one of the model's {self.modalities}")
        if not 0 <= int(s["clip"]) < len(self.dataset):
            raise ConfigError(f"clip {s['clip']} out of range: the dataset has {len(self.dataset)} clips")
        if not 0 <= int(s["stage"]) < max(self.model.config.num_stages, 1):
            raise ConfigError(f"stage {s['stage']} out of range 0..{self.model.config.num_stages - 1}")
        m = s["modality"]
        if "modality" in changed:  # the dependent choices get clamped in set()
            return
        n_blocks = self._blocks_of(m, int(s["stage"]))
        if "stage" in changed and "block" not in changed:
            pass                   # the block is clamped to the new stage in set()
        elif not 0 <= int(s["block"]) < max(n_blocks, 1):
            raise ConfigError(f"block {s['block']} out of range: {m} has {n_blocks} blocks in stage {s['stage']}")
        if s["head"] not in ("mean", "max", "min") and not 0 <= int(s["head"]) < self._heads_of(m):
            raise ConfigError(f"head {s['head']!r}: use 'mean', 'max', 'min' or 0..{self._heads_of(m) - 1}")
        if s["frame"] != "mean" and not 0 <= int(s["frame"]) < self._frames_of(m):
            raise ConfigError(f"frame {s['frame']!r}: use 'mean' or 0..{self._frames_of(m) - 1} for {m}")

    def _push_state(self) -> None:
        """Mirror ``state`` into the widgets without re-triggering redraws."""
        if self.box is None:
            return
        self._muted = True
        try:
            m = self.state["modality"]
            c = self.controls
            c["block"].max = max(self._blocks_of(m) - 1, 0)
            if [o[1] for o in c["head"].options] != [o[1] for o in self._head_options(m)]:
                c["head"].options = self._head_options(m)
            if [o[1] for o in c["frame"].options] != [o[1] for o in self._frame_options(m)]:
                c["frame"].options = self._frame_options(m)
            for k, w in c.items():
                if w.value != self.state[k]:
                    w.value = self.state[k]
            self._sync_enabled()
        finally:
            self._muted = False

    # ------------------------------------------------------------------ computing and drawing
    def _item(self, i: int):
        video, special, label = self.dataset[i][:3]
        return video, special, int(label)

    def maps(self) -> dict[str, torch.Tensor]:
        """The current method's maps for the current clip: {modality: (T, H, W)}."""
        s = self.state
        uses = _USES.get(s["method"], set())
        opts = {k: s[k] for k in ("stage", "block", "head") if k in uses}
        if "block" in opts:
            # the chosen block in the chosen modality; the other branch's nearest block in the same
            # stage (the branches, and the stages, may have different numbers of blocks)
            per = {m: min(s["block"], self._blocks_of(m) - 1) for m in self.modalities}
            if s["method"] == "attention":
                per = {m: b for m, b in per.items() if b >= 0}
            opts["block"] = {m: max(b, 0) for m, b in per.items()}
        key = (s["clip"], s["method"], tuple(sorted((k, str(v)) for k, v in opts.items())))
        if key not in self._cache:
            video, special, _ = self._item(s["clip"])
            kw = {**self.method_options.get(s["method"], {}), **opts}
            out = explain_maps(self.model, video[None], special[None], s["method"], **kw)
            self._cache[key] = {m: v[0] for m, v in out.items()}
        return self._cache[key]

    def _prediction(self, i: int) -> tuple[int, np.ndarray]:
        if i not in self._pred:
            video, special, _ = self._item(i)
            was = self.model.training
            self.model.eval()
            dev = next(self.model.parameters()).device
            with torch.no_grad():
                p = self.model(video[None].to(dev), special[None].to(dev)).softmax(-1)[0].cpu().numpy()
            self.model.train(was)
            self._pred[i] = (int(p.argmax()), p)
        return self._pred[i]

    def _region(self, i: int) -> np.ndarray | None:
        """Clip ``i``'s true moving region on the input, or None (not SynthME, or switched off)."""
        if self.true_regions is False:
            return None
        if i not in self._regions:
            try:
                self._regions[i] = synthme_mask(self.dataset, i)
            except (AttributeError, ConfigError, DataError, OSError, KeyError):
                if self.true_regions:
                    raise
                self._regions[i] = None
        return self._regions[i]

    def _name(self, k: int) -> str:
        return self.classes[k] if 0 <= k < len(self.classes) else str(k)

    def render(self) -> Figure:
        """A new Figure of the current choices: the map over the frame (or all frames), and the
        per-frame importance curve."""
        s = self.state
        t0 = time.perf_counter()
        maps = self.maps()
        m = s["modality"]
        video, special, label = self._item(s["clip"])
        clip = video if m == "video" else special
        grey = display_frames(clip)
        heat = maps[m].numpy()
        fig = Figure(figsize=(8.0, 3.4), layout="constrained")
        ax_img, ax_curve = fig.subplots(1, 2, width_ratios=[1, 1.3])
        f = s["frame"]
        if f == "mean":
            h = heat.sum(0)
            im = draw_overlay(ax_img, grey[0], h, float(h.max()) or 1.0, 0.5, "jet", f"{m}: all frames")
        else:
            im = draw_overlay(ax_img, grey[f], heat[f], float(heat.max()) or 1.0, 0.5, "jet", f"{m}: frame {f}")
        fig.colorbar(im, ax=ax_img, shrink=0.8, label="map value")
        region = self._region(s["clip"])
        if region is not None:
            h_px, w_px = grey.shape[1:3]
            if outline_region(ax_img, region[:h_px, :w_px]):   # special frames may be a top-left crop
                ax_img.legend(handles=[region_handle()], loc="lower left", fontsize=7, framealpha=0.8)
        curve = frame_importance(heat)
        ax_curve.bar(np.arange(len(curve)), curve, color="tab:blue")
        if f != "mean":
            ax_curve.bar([f], [curve[f]], color="tab:red")
        ax_curve.set_xticks(range(len(curve)))
        ax_curve.set_xlabel("frame")
        ax_curve.set_ylabel("share of the map")
        pred, prob = self._prediction(s["clip"])
        fig.suptitle(f"{s['method']} | true {self._name(label)}, predicted {self._name(pred)} "
                     f"(p={prob[pred]:.2f})", fontsize=10)
        self._elapsed = time.perf_counter() - t0
        return fig

    def redraw(self) -> Figure:
        """Recompute the figure; in widget mode replace the Output's content (no figures pile up)."""
        old = self.figure
        self.figure = self.render()
        if old is not None:
            old.clear()  # free the old figure's artists; it was never registered with pyplot
        if self.box is not None and self.use_widgets:
            from IPython.display import Image, display

            png = figure_png(self.figure)
            with self.output:
                self.output.clear_output(wait=True)
                display(Image(data=png, format="png"))
            self.status.value = f"<small>{self._elapsed:.2f} s</small>"
        return self.figure

    def show(self):
        """Display the widgets (front end present) or one static figure (none); returns self."""
        try:
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython ships with ipywidgets
            self.redraw()
            return self
        if self.use_widgets:
            self.redraw()
            display(self.box)
        else:
            from IPython.display import Image

            display(Image(data=figure_png(self.redraw()), format="png"))
        self._shown = True
        return self

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Shown as the last value of a cell: the widget box, or a static PNG without a front end
        (only text when `show` already displayed it, so ``explore(...)`` never shows twice)."""
        if getattr(self, "_shown", False):
            return {"text/plain": f"<Explorer: {self.state}>"}
        if self.use_widgets:
            self.redraw()
            if not hasattr(self.box, "_repr_mimebundle_"):  # ipywidgets 7 (Colab's) has only _ipython_display_
                return {"application/vnd.jupyter.widget-view+json": {
                            "version_major": 2, "version_minor": 0, "model_id": self.box.model_id},
                        "text/plain": repr(self.box)}
            return self.box._repr_mimebundle_(include=include, exclude=exclude)
        fig = self.redraw()
        import base64

        return {"image/png": base64.b64encode(figure_png(fig)).decode("ascii"),
                "text/plain": f"<Explorer: {self.state}>"}


def explore(model: nn.Module, dataset: Any, methods: Sequence[str] | None = None, **kwargs: Any) -> Explorer:
    """Build an `Explorer` and display it (widgets, or a static figure without a widget front end)."""
    return Explorer(model, dataset, methods, **kwargs).show()
