"""The architecture diagram follows the configuration: stages, USTA blocks per branch and stage, the
CSTA exchange, one or two branches, the head; it is drawn, and no two of its texts overlap."""

from __future__ import annotations

import itertools
from collections import Counter

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import hsta_edu
from hsta_edu.errors import ConfigError
from hsta_edu.model.diagram import plot_architecture
from hsta_edu.model.hsta import preset_config

UNEVEN = preset_config("hsta-tiny", stage_blocks=((2, 1), (1, 3), (1, 1)))
CONFIGS = {"hsta-tiny": preset_config("hsta-tiny"), "hsta-base": preset_config("hsta-base"), "uneven": UNEVEN,
           "no-csta": preset_config("hsta-tiny", use_csta=False),
           "video-only": preset_config("hsta-tiny", modalities=("video",)),
           "no-usta": preset_config("hsta-tiny", video_blocks=0, special_blocks=0)}


def _draw(cfg) -> tuple[Figure, list]:
    fig = plot_architecture(cfg)
    FigureCanvasAgg(fig).draw()
    return fig, [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]


def _usta_boxes(texts) -> Counter:
    """(modality, stage) -> number of USTA block boxes, read from the texts' ids and words."""
    out = Counter()
    for t in texts:
        gid = t.get_gid() or ""
        if gid.startswith("usta:"):
            assert t.get_text().startswith("USTA block")
            _, m, k, _ = gid.split(":")
            out[m, int(k)] += 1
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stages_and_blocks_follow_the_config(name):
    cfg = CONFIGS[name]
    fig, texts = _draw(cfg)
    words = [t.get_text() for t in texts]
    for k in range(cfg.num_stages):
        assert f"stage {k + 1} of {cfg.num_stages}" in words
    boxes = _usta_boxes(texts)
    for m in cfg.modalities:
        for k, n in enumerate(cfg.branch(m).blocks):
            assert boxes[m, k] == n, f"{name}: {m} stage {k + 1} shows {boxes[m, k]} USTA blocks, config has {n}"
            empty = [t for t in texts if t.get_gid() == f"empty:{m}:{k}"]
            assert len(empty) == (n == 0)                             # a stage without blocks says so
    assert sum(boxes.values()) == sum(sum(cfg.branch(m).blocks) for m in cfg.modalities)
    head = next(t.get_text() for t in texts if t.get_gid() == "head")
    assert f"{cfg.num_classes} classes" in head


def test_embedding_names_patch_size_and_token_count():
    _, texts = _draw("hsta-base")
    embed = {t.get_gid(): t.get_text() for t in texts if (t.get_gid() or "").startswith("embed:")}
    assert "2 x 12 x 12" in embed["embed:special"] and "324 tokens" in embed["embed:special"]
    assert "2 x 16 x 16" in embed["embed:video"] and "588 tokens" in embed["embed:video"]
    assert "D = 384" in embed["embed:special"] and "D = 768" in embed["embed:video"]


def _exchanges(fig: Figure) -> list:
    return [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("exchange:")]


def test_csta_exchange_after_every_stage_with_the_projection():
    cfg = CONFIGS["hsta-base"]
    fig, texts = _draw(cfg)
    assert len(_exchanges(fig)) == 2 * cfg.num_stages
    csta = [t.get_text() for t in texts if (t.get_gid() or "").startswith("csta:")]
    assert len(csta) == 2 * cfg.num_stages
    assert all("384 → 768 → 384" in t for t in csta if "video tokens" in t)
    assert all("768 → 384 → 768" in t for t in csta if "special tokens" in t)
    tiny = [t.get_text() for t in _draw("hsta-tiny")[1] if (t.get_gid() or "").startswith("csta:")]
    assert tiny and all("→" not in t and "D = 64" in t for t in tiny)   # equal widths: no projection shown


def test_ablations_are_drawn():
    fig, texts = _draw(CONFIGS["no-csta"])
    assert not _exchanges(fig) and not any((t.get_gid() or "").startswith("csta:") for t in texts)
    assert any("no CSTA" in t.get_text() for t in texts)
    fig, texts = _draw(CONFIGS["video-only"])
    gids = {t.get_gid() for t in texts}
    assert "input:video" in gids and "input:special" not in gids and not _exchanges(fig)
    assert not any("special" in (t.get_gid() or "") for t in texts)
    fig, _ = _draw(preset_config("hsta-tiny", num_stages=0))
    assert isinstance(fig, Figure)


def test_takes_a_model_a_preset_name_or_a_dict():
    model = hsta_edu.create_model("hsta-tiny", num_classes=3)
    texts = [t.get_text() for t in _draw(model)[1]]
    assert any("→ 3 classes" in t for t in texts)
    assert len(_draw(model.config.to_dict())[1]) == len(_draw(model.config)[1])
    with pytest.raises(ConfigError):
        plot_architecture(42)


def test_size_follows_the_stages():
    tiny, base = plot_architecture("hsta-tiny"), plot_architecture("hsta-base")
    assert base.get_size_inches()[1] > tiny.get_size_inches()[1] + 3
    one = plot_architecture(CONFIGS["video-only"])
    assert one.get_size_inches()[0] < tiny.get_size_inches()[0] / 2 + 0.5


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_drawn_and_no_texts_overlap(name):
    fig, texts = _draw(CONFIGS[name])
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
    assert pixels.std() > 10                                            # not blank
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    page = fig.bbox
    for text, b in boxes:
        assert page.x0 <= b.x0 and b.x1 <= page.x1 and page.y0 <= b.y0 and b.y1 <= page.y1, \
            f"{name}: {text!r} leaves the figure"
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"{name}: {ta!r} overlaps {tb!r}"
    # every box text sits inside its own box
    patches = {p.get_gid()[:-4]: p for p in fig.axes[0].patches if (p.get_gid() or "").endswith(":box")}
    for t in texts:
        if t.get_gid() in patches:
            outer = patches[t.get_gid()].get_window_extent(renderer)
            inner = t.get_window_extent(renderer)
            assert outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1, \
                f"{name}: {t.get_text()!r} does not fit in its box"
