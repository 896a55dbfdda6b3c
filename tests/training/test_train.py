"""Tests of hsta_edu/training/loop.py: recipe, parameter groups, schedule, checkpoints, exact resume (also
after a real SIGKILL), video-branch initialisation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hsta_edu import create_model
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.errors import CheckpointError, ConfigError
from hsta_edu.model import load_model, load_video_pretrained, save_model
from hsta_edu.training import RECIPES, TrainConfig, WarmupCosine, param_groups, recipe, set_seed, train
from tests.configs import TINY_16PX_2FRAMES

ROOT = Path(__file__).resolve().parents[2]
TINY = TINY_16PX_2FRAMES


class ToyClips(LabelledDataset):
    """Small (video, special, label) clips whose class is a bright band at a class-specific height."""

    def __init__(self, n: int = 24, subjects: int = 4, seed: int = 0, size: int = 16, frames: int = 2,
                 delay: float = 0.0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = np.arange(n) % 3
        self.groups = [f"toy/s{i % subjects}" for i in range(n)]
        self.classes = ["negative", "positive", "surprise"]
        self.video = torch.randn(n, 3, frames, size, size, generator=g) * 0.3
        self.special = torch.randn(n, 3, 2, size, size, generator=g) * 0.3
        for i, y in enumerate(self.labels):
            rows = slice(5 * y, 5 * y + 5)
            self.video[i, :, :, rows] += 1.0
            self.special[i, :, 1, rows] += 1.0
        self.delay = delay

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.delay:
            time.sleep(self.delay)
        # train-time "augmentation" drawing from the global RNG, as MERDataset(train=True) does
        noise = torch.randn(()) * 0.01
        return self.video[i] + noise, self.special[i], torch.tensor(self.labels[i])




def fresh_model(seed: int = 0):
    set_seed(seed)
    return create_model("hsta-tiny", **TINY)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=8, warmup_epochs=1, progress=False, drop_path=None)
    base.update(kw)
    return recipe("fast", **base)


def test_paper_recipe_defaults():
    c = RECIPES["paper"]
    assert (c.batch_size, c.epochs, c.lr, c.weight_decay, c.warmup_epochs, c.warmup_lr, c.balanced, c.loss) == (
        32, 150, 5e-5, 0.05, 5, 1e-6, True, "ce")
    assert RECIPES["reference"].layer_decay == 0.9 and RECIPES["reference"].lr == 6.25e-5
    with pytest.raises(ConfigError, match="loss"):
        TrainConfig(loss="l1")
    with pytest.raises(ConfigError, match="epochs"):
        recipe("fast", epochs=0)
    with pytest.raises(ConfigError, match="unknown"):
        recipe("fast", epoch=3)


def test_no_weight_decay_on_norms_biases_cls_and_layer_decay():
    model = fresh_model()
    groups = param_groups(model, 0.05, layer_decay=0.5)
    decay_of = {n: g["weight_decay"] for g in groups for n in g["param_names"]}
    scale_of = {n: g["lr_scale"] for g in groups for n in g["param_names"]}
    assert decay_of["embed.video.cls_token"] == 0.0 and decay_of["embed.special.cls_token"] == 0.0
    assert decay_of["norm.video.weight"] == 0.0 and decay_of["head.bias"] == 0.0
    assert decay_of["stages.0.usta.video.blocks.0.attn.q_bias"] == 0.0
    assert decay_of["head.weight"] == 0.05 and decay_of["stages.1.usta.video.blocks.0.mlp.fc1.weight"] == 0.05
    assert decay_of["embed.video.proj.weight"] == 0.05
    # layer decay: head 1, last stage 0.5, first stage 0.25, embeddings 0.125 (K = 2)
    assert scale_of["head.weight"] == 1.0
    assert scale_of["stages.1.usta.video.blocks.0.mlp.fc1.weight"] == 0.5
    assert scale_of["stages.0.usta.video.blocks.0.mlp.fc1.weight"] == 0.25
    assert scale_of["embed.video.proj.weight"] == 0.125
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_warmup_cosine_schedule():
    c = TrainConfig(epochs=10, lr=1e-3, warmup_epochs=2, warmup_lr=1e-6, min_lr=1e-5)
    opt = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr_scale": 0.5}])
    s = WarmupCosine(opt, c, steps_per_epoch=5)
    assert s.lr_at(0) == pytest.approx(1e-6) and opt.param_groups[0]["lr"] == pytest.approx(0.5e-6)
    assert s.lr_at(10) == pytest.approx(1e-3)
    assert s.lr_at(30) == pytest.approx((1e-3 + 1e-5) / 2)
    assert s.lr_at(50) == pytest.approx(1e-5)
    lrs = [s.lr_at(i) for i in range(51)]
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:11], strict=True))
    assert all(a >= b for a, b in zip(lrs[10:-1], lrs[11:], strict=True))


def test_min_steps_raises_epochs_to_a_step_budget_keyed_to_the_data_size():
    c = TrainConfig(epochs=30, batch_size=16, min_steps=500)
    assert c.steps_per_epoch(90) == 6 and c.steps_per_epoch(96) == 6 and c.steps_per_epoch(97) == 7
    assert c.for_data(90).epochs == 84            # ceil(500 / 6): a small corpus trains for more epochs
    assert c.for_data(264).epochs == 30           # 17 steps x 30 = 510 >= 500: the epochs stand
    assert c.for_data(90).min_steps == 500 and c.for_data(90).lr == c.lr
    assert TrainConfig(epochs=30, batch_size=16).for_data(90).epochs == 30   # min_steps=0: off
    # an explicit epochs is the budget (min_steps off) unless min_steps is given too
    fast = RECIPES["fast"]
    assert fast.min_steps > 0
    assert recipe("fast", epochs=3).min_steps == 0 and recipe("fast", epochs=3).for_data(20).epochs == 3
    assert recipe("fast", epochs=3, min_steps=10).for_data(20).epochs == 5   # batch 16: 2 steps per epoch
    with pytest.raises(ConfigError, match="min_steps"):
        TrainConfig(min_steps=-1)


def test_train_runs_the_raised_epochs(tmp_path):
    result = train(fresh_model(), ToyClips(n=12), cfg(epochs=1, min_steps=6))   # batch 8: 2 steps per epoch
    assert len(result.history) == 3 and result.config.epochs == 3
    assert result.history["epoch"].tolist() == [1, 2, 3]


def test_training_learns_and_history_table(tmp_path):
    ds = ToyClips(n=24)
    result = train(fresh_model(), ds, cfg(epochs=8, lr=3e-3), checkpoint_dir=tmp_path)
    h = result.history
    assert list(h["epoch"]) == list(range(1, 9))
    assert {"loss", "acc", "uf1", "lr", "seconds"} <= set(h.columns)
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    fig = result.plot()
    assert len(fig.axes) >= 3
    # the checkpoint holds only tensors / plain containers: weights_only loading works
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 8 and set(state["rng"]) >= {"torch", "sampler", "numpy", "python"}


def test_mse_loss_option(tmp_path):
    result = train(fresh_model(), ToyClips(n=12), cfg(epochs=1, loss="mse"))
    assert np.isfinite(result.history["loss"]).all() and result.history["loss"].iloc[0] < 1.0


def test_resume_after_interruption_gives_identical_weights(tmp_path):
    ds = ToyClips(n=20)
    c = cfg(epochs=3)
    full = train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "a").model.state_dict()

    class Stop(Exception):
        pass

    def stop_after_first(row):
        if row["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "b", callback=stop_after_first)
    # resume into a differently initialised model: everything must come from the checkpoint
    resumed = train(fresh_model(seed=99), ds, c, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from == 1 and len(resumed.history) == 3
    state = resumed.model.state_dict()
    assert all(torch.equal(full[k], state[k]) for k in full)
    # a finished run resumes to the end at once
    again = train(fresh_model(seed=5), ds, c, checkpoint_dir=tmp_path / "b")
    assert again.resumed_from == 3


def test_checkpoint_every_writes_less_often_and_the_result_is_the_same(tmp_path, monkeypatch):
    import hsta_edu.training.loop as train_module
    written = []
    real = train_module._write_checkpoint
    monkeypatch.setattr(train_module, "_write_checkpoint",
                        lambda run, c, epoch, path: (written.append(epoch + 1), real(run, c, epoch, path)))
    ds, c = ToyClips(n=20), cfg(epochs=4)
    every = train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "a").model.state_dict()
    assert written == [1, 2, 3, 4]                        # the default: after every epoch
    written.clear()
    sparse = train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "b", checkpoint_every=3600).model.state_dict()
    assert written == [4]                                 # only the last epoch within the hour
    assert all(torch.equal(every[k], sparse[k]) for k in every)

    class Stop(Exception):
        pass

    def stop_at_3(row):
        if row["epoch"] == 3:
            raise Stop

    written.clear()
    with pytest.raises(Stop):
        train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "c", checkpoint_every=3600, callback=stop_at_3)
    assert written == [] and not (tmp_path / "c" / "last.pt").exists()   # stopped before any was due
    now = [0.0]                                           # a clock on which every epoch takes 6 s
    epoch_fn = train_module._train_epoch
    monkeypatch.setattr(train_module, "time", SimpleNamespace(time=lambda: now[0]))
    monkeypatch.setattr(train_module, "_train_epoch", lambda *a: (now.__setitem__(0, now[0] + 6), epoch_fn(*a))[1])
    written.clear()
    with pytest.raises(Stop):
        train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "d", checkpoint_every=10, callback=stop_at_3)
    assert written == [2]                                 # 12 s after the start; epoch 3 came 6 s after that
    monkeypatch.undo()
    resumed = train(fresh_model(seed=7), ds, c, checkpoint_dir=tmp_path / "d")
    assert resumed.resumed_from == written[-1]            # repeats the epochs after it, to the same weights
    assert all(torch.equal(every[k], v) for k, v in resumed.model.state_dict().items())
    with pytest.raises(ConfigError, match="checkpoint_every=-1"):
        train(fresh_model(), ds, c, checkpoint_dir=tmp_path / "e", checkpoint_every=-1)


KILL_SCRIPT = textwrap.dedent("""
    import sys, pathlib, torch
    sys.path.insert(0, {tests!r})
    torch.set_num_threads(1)
    from test_train import ToyClips, fresh_model, cfg
    from hsta_edu.training import train
    ckpt, marker = sys.argv[1], sys.argv[2]
    def cb(row):
        if row["epoch"] == 2:
            pathlib.Path(marker).write_text("epoch 2 saved")
    train(fresh_model(), ToyClips(n=20, delay=0.02), cfg(epochs=5), checkpoint_dir=ckpt, callback=cb)
""")


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_matches_uninterrupted(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "ck"), str(marker)], env=env)
    deadline = time.time() + 240
    while not marker.exists():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.15)   # now somewhere inside epoch 3
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)["epoch"]
    assert saved in (2, 3)   # at most the current epoch is lost
    # resume here (one thread, like the killed process) and compare with a run never interrupted
    resumed = train(fresh_model(seed=42), ToyClips(n=20), cfg(epochs=5), checkpoint_dir=tmp_path / "ck")
    assert resumed.resumed_from == saved
    ref = train(fresh_model(), ToyClips(n=20), cfg(epochs=5)).model.state_dict()
    out = resumed.model.state_dict()
    assert all(torch.equal(ref[k], out[k]) for k in ref)


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    train(fresh_model(), ToyClips(n=12), cfg(epochs=1), checkpoint_dir=tmp_path)
    other = create_model("hsta-tiny", **{**TINY, "embed_dim": 48})
    with pytest.raises(CheckpointError, match="last.pt"):
        train(other, ToyClips(n=12), cfg(epochs=2), checkpoint_dir=tmp_path)
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="weights_only"):
        train(fresh_model(), ToyClips(n=12), cfg(epochs=2), checkpoint_dir=tmp_path)


def test_save_and_load_model_roundtrip(tmp_path):
    model = fresh_model()
    save_model(tmp_path / "m.pt", model, preset="hsta-tiny", classes=["a", "b", "c"])
    loaded, meta = load_model(tmp_path / "m.pt")
    assert meta["classes"] == ["a", "b", "c"] and loaded.config == model.config
    x, s = torch.randn(2, 3, 2, 16, 16), torch.randn(2, 3, 2, 16, 16)
    model.eval()
    loaded.eval()
    assert torch.equal(model(x, s), loaded(x, s))


def test_video_branch_init_from_videomae_style_file(tmp_path):
    src = create_model("hsta-tiny", **{**TINY, "num_stages": 2, "video_blocks": 1})
    target = fresh_model(seed=3)
    sd = src.state_dict()
    vm = {"encoder.patch_embed.proj.weight": sd["embed.video.proj.weight"],
          "encoder.patch_embed.proj.bias": sd["embed.video.proj.bias"],
          "encoder.norm.weight": sd["norm.video.weight"], "encoder.norm.bias": sd["norm.video.bias"],
          "decoder.blocks.0.mlp.fc1.weight": torch.zeros(3, 3), "mask_token": torch.zeros(1, 1, 32)}
    for k, v in sd.items():
        prefix = "stages.{}.usta.video.blocks.0."
        for stage in (0, 1):
            if k.startswith(prefix.format(stage)):
                vm[f"encoder.blocks.{stage}." + k[len(prefix.format(stage)):]] = v
    vm["encoder.blocks.1.mlp.fc2.bias"] = torch.zeros(7)          # wrong shape: reported, skipped
    torch.save({"model": vm}, tmp_path / "videomae.pth")
    report = load_video_pretrained(target, tmp_path / "videomae.pth")
    t = target.state_dict()
    assert "stages.1.usta.video.blocks.0.mlp.fc2.bias" in report.shape_mismatch
    assert "embed.video.cls_token" in report.missing
    assert {"decoder.blocks.0.mlp.fc1.weight", "mask_token"} <= set(report.unused)
    for dst, srckey in report.loaded.items():
        assert torch.equal(t[dst], vm[srckey])
    assert torch.equal(t["stages.0.usta.video.blocks.0.attn.qkv.weight"],
                       sd["stages.0.usta.video.blocks.0.attn.qkv.weight"])
    assert "tensors loaded" in str(report)
    with pytest.raises(CheckpointError, match="fc2.bias"):
        load_video_pretrained(fresh_model(), tmp_path / "videomae.pth", strict_shapes=True)


def test_videomae_blocks_fill_uneven_stages_in_order(tmp_path):
    """VideoMAE blocks 0..3 go to the video blocks in forward order: stage 0 has one, stage 1 three."""
    uniform = {k: v for k, v in TINY.items() if k not in ("num_stages", "video_blocks", "special_blocks")}
    target = create_model("hsta-tiny", **uniform, stage_blocks=((1, 1), (1, 3)))
    g = torch.Generator().manual_seed(0)
    dim = target.config.embed_dim
    vm = {f"blocks.{i}.norm1.weight": torch.randn(dim, generator=g) for i in range(5)}
    torch.save(vm, tmp_path / "vm.pth")
    report = load_video_pretrained(target, tmp_path / "vm.pth")
    slots = ["stages.0.usta.video.blocks.0", "stages.1.usta.video.blocks.0", "stages.1.usta.video.blocks.1",
             "stages.1.usta.video.blocks.2"]
    for i, slot in enumerate(slots):
        assert report.loaded[f"{slot}.norm1.weight"] == f"blocks.{i}.norm1.weight"
        assert torch.equal(target.state_dict()[f"{slot}.norm1.weight"], vm[f"blocks.{i}.norm1.weight"])
    assert "blocks.4.norm1.weight" in report.unused
