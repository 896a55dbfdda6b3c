"""Training: the paper's recipe as a dataclass, a trainer that checkpoints every epoch and resumes.

``train(model, dataset, cfg)`` fits an HSTA model on a dataset of ``(video, special, label)``
items and returns a `TrainResult` (the model, a per-epoch history table, timings).

- Recipe defaults follow the paper (batch 32, 150 epochs, base lr 5e-5, weight decay 0.05,
  5 warm-up epochs from 1e-6, balanced sampling); `RECIPES` also holds the reference code's
  recipe and a fast recipe for CPU tutorials.
- Every epoch ends with an atomic checkpoint (model, optimiser, schedule, GradScaler, the
  sampler's generator and the torch / numpy / Python RNG states, the history so far), all
  stored as plain tensors, numbers, lists and dicts so ``torch.load(weights_only=True)``
  reads it. A run killed at any moment resumes from the last finished epoch and, on CPU,
  ends with bit-identical weights to a run that was never interrupted.
- Nothing here ever looks at a test set: model selection, when asked for, uses a validation
  set that the caller draws from training subjects only (see `hsta_edu.evaluate`).
"""

from __future__ import annotations

import math
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, recall_score
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, WeightedRandomSampler
from tqdm.auto import tqdm

from .device import describe_device, pick_device
from .errors import CheckpointError, ConfigError, DataError, HSTAError, check_fields
from .io import atomic_torch_save, safe_torch_load

__all__ = [
    "TrainConfig", "RECIPES", "recipe", "TrainResult", "train", "predict", "WarmupCosine",
    "param_groups", "set_seed", "dataset_labels", "save_model", "load_model",
    "load_video_pretrained", "LoadReport", "TrainingDiverged",
]


class TrainingDiverged(HSTAError):
    """The loss became NaN or infinite; the message says at which epoch and step."""


@dataclass
class TrainConfig:
    """One training run. Defaults are the paper's recipe (Sec. 4.2).

    Loss: ``"ce"`` (cross-entropy, the default) or ``"mse"`` (mean squared error between the
    softmax probabilities and the one-hot target). The paper's text writes MSE, but the
    reference code that produced its numbers trains with cross-entropy; cross-entropy is also
    the better-behaved choice: its gradient on a confidently wrong prediction stays large,
    while softmax + MSE saturates there and learns slowly. So "ce" is the default and "mse"
    is kept to reproduce the text.

    Learning rate: ``lr`` is the peak rate reached after ``warmup_epochs`` of linear warm-up
    from ``warmup_lr``; ``schedule="cosine"`` then decays it to ``min_lr`` (per step),
    ``"constant"`` keeps it. ``layer_decay`` < 1 scales stage k's rate by
    ``layer_decay ** (K + 1 - layer_id)`` (embeddings lowest, head highest).

    Weight decay applies to weight matrices only: never to norms, biases, the fixed
    positional table (not a parameter) or the [CLS] tokens (the reference decays the
    [CLS] tokens by a naming slip; this does not).

    ``drop_path`` is a model option (``HSTAConfig.drop_path_rate``): builders in
    `hsta_edu.evaluate` and the command line pass it to ``create_model`` when set here.
    """

    epochs: int = 150
    batch_size: int = 32
    lr: float = 5e-5
    warmup_epochs: float = 5
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6
    schedule: str = "cosine"              # "cosine" | "constant"
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    layer_decay: float = 1.0              # 1.0 = off; the reference uses 0.9 per stage
    loss: str = "ce"                      # "ce" | "mse"
    label_smoothing: float = 0.0          # cross-entropy only
    balanced: bool = True                 # inverse-class-frequency sampling
    drop_path: float | None = None        # model drop-path rate (None: keep the preset's)
    grad_clip: float | None = None        # max global grad norm (None: no clipping)
    amp: str = "auto"                     # "auto" (bf16/fp16 on CUDA, off on CPU) | "bf16" | "fp16" | "off"
    compile: bool = False                 # torch.compile the model
    device: str | None = None             # None/"auto": CUDA > MPS > CPU
    seed: int = 0
    num_workers: int = 0
    select: str = "last"                  # "last" (fixed budget) | "best_val" (needs a validation set)
    eval_every: int = 1                   # validation every n epochs (when a validation set is given)
    progress: bool = True                 # tqdm bars (terminal and notebook)

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        checks = [
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1),
            ("lr", self.lr > 0), ("warmup_lr", self.warmup_lr >= 0), ("min_lr", self.min_lr >= 0),
            ("warmup_epochs", self.warmup_epochs >= 0), ("weight_decay", self.weight_decay >= 0),
            ("layer_decay", 0 < self.layer_decay <= 1),
            ("schedule", self.schedule in ("cosine", "constant")),
            ("loss", self.loss in ("ce", "mse")),
            ("label_smoothing", 0 <= self.label_smoothing < 1),
            ("drop_path", self.drop_path is None or 0 <= self.drop_path < 1),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0),
            ("amp", self.amp in ("auto", "bf16", "fp16", "off")),
            ("select", self.select in ("last", "best_val")),
            ("eval_every", isinstance(self.eval_every, int) and self.eval_every >= 1),
            ("num_workers", isinstance(self.num_workers, int) and self.num_workers >= 0),
        ]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"TrainConfig.{name}={getattr(self, name)!r} is not valid")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        check_fields(cls, d, "TrainConfig field(s)")
        return cls(**d)


#: Named recipes. "paper": Sec. 4.2 of the paper. "reference": what the authors' code does
#: (peak lr 6.25e-5, layer decay 0.9, drop path 0.2). "fast": hsta-tiny on a laptop CPU in
#: minutes (short cosine run at a higher rate; tuned on SynthME training subjects only).
RECIPES: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "reference": TrainConfig(lr=6.25e-5, layer_decay=0.9, drop_path=0.2),
    "fast": TrainConfig(epochs=30, batch_size=16, lr=1e-3, warmup_epochs=2, warmup_lr=1e-5,
                        min_lr=1e-5, weight_decay=0.05, grad_clip=1.0),
}


def recipe(name: str = "paper", **overrides: Any) -> TrainConfig:
    """A copy of a named recipe ("paper", "reference", "fast") with field overrides."""
    if name not in RECIPES:
        raise ConfigError(f"unknown training recipe {name!r}; choose one of {sorted(RECIPES)}")
    check_fields(TrainConfig, overrides, "TrainConfig option(s)")
    return replace(RECIPES[name], **overrides)


# ----------------------------------------------------------------------------------- pieces

def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class WarmupCosine:
    """Per-step learning rate: linear warm-up from ``warmup_lr`` to ``lr``, then cosine to
    ``min_lr`` (or constant). Its whole state is the step counter, so it checkpoints as an int.
    Each optimiser group's rate is the schedule times the group's ``lr_scale``."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> None:
        self.optimizer = optimizer
        self.cfg = cfg
        self.warmup_steps = int(round(cfg.warmup_epochs * steps_per_epoch))
        self.total_steps = max(1, cfg.epochs * steps_per_epoch)
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        c = self.cfg
        if step < self.warmup_steps:
            return c.warmup_lr + (c.lr - c.warmup_lr) * step / self.warmup_steps
        if c.schedule == "constant":
            return c.lr
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + math.cos(math.pi * progress))

    def _apply(self) -> None:
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    @property
    def lr(self) -> float:
        return self.lr_at(self.step_count)

    def state_dict(self) -> dict[str, int]:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step_count = int(state["step_count"])
        self._apply()


_NO_DECAY_NAME = re.compile(r"(^|\.)(cls_token|pos_embed|pos|norm\w*)(\.|$)")


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float = 1.0) -> list[dict[str, Any]]:
    """AdamW groups: weight matrices decayed; norms, biases, [CLS] tokens and positions not.

    With ``layer_decay`` < 1 each depth gets ``lr_scale = layer_decay ** (max_depth - depth)``,
    using ``model.layer_id(name)`` when the model has it (HSTA: 0 embeddings, k+1 stage k,
    K+1 final norms and head).
    """
    skip = set(getattr(model, "no_weight_decay", lambda: set())())
    layer_id = getattr(model, "layer_id", None)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    depths = {n: (layer_id(n) if layer_id is not None else 0) for n, _ in named}
    max_depth = max(depths.values(), default=0)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, p in named:
        no_decay = p.ndim <= 1 or name.endswith(".bias") or name in skip or bool(_NO_DECAY_NAME.search(name))
        depth = depths[name]
        key = (depth, no_decay)
        if key not in groups:
            groups[key] = {"params": [], "param_names": [], "weight_decay": 0.0 if no_decay else weight_decay,
                           "lr_scale": float(layer_decay ** (max_depth - depth))}
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    return [groups[k] for k in sorted(groups)]


def dataset_labels(dataset: Dataset) -> np.ndarray:
    """Integer labels of every item, without loading tensors when the dataset says them
    (``.labels``, a `Subset` of such a dataset, or a `TensorDataset`)."""
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        return np.asarray(labels, dtype=np.int64)
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None and len(tensors) >= 3:
        return tensors[2].cpu().numpy().astype(np.int64)
    return np.asarray([int(dataset[i][2]) for i in range(len(dataset))], dtype=np.int64)


def _balanced_sampler(labels: np.ndarray, generator: torch.Generator):
    """Inverse-class-frequency sampling, one epoch = len(labels) draws with replacement."""
    try:
        from .data.torch_data import balanced_sampler
    except ImportError:
        balanced_sampler = None
    if balanced_sampler is not None:
        return balanced_sampler(labels, generator)
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), len(labels),
                                 replacement=True, generator=generator)


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.amp == "off" or (cfg.amp == "auto" and device.type != "cuda"):
        return None
    if cfg.amp == "bf16":
        return torch.bfloat16
    if cfg.amp == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _loss(logits: torch.Tensor, target: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    logits = logits.float()
    if cfg.loss == "ce":
        return F.cross_entropy(logits, target, label_smoothing=cfg.label_smoothing)
    onehot = F.one_hot(target, logits.shape[-1]).float()
    return F.mse_loss(logits.softmax(-1), onehot)


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG the training loop touches, as weights_only-safe tensors and lists."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "sampler": generator.get_state(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["sampler"])
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _move(x: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else x.to(device, non_blocking=True)


def _check_batch(tensors: Sequence[torch.Tensor | None], epoch: int, step: int) -> None:
    for name, t in zip(("video", "special"), tensors, strict=False):
        if t is not None and t.is_floating_point() and not torch.isfinite(t).all():
            raise DataError(f"non-finite values (NaN/inf) in the {name} batch at epoch {epoch}, step {step}: "
                            "check the preprocessing cache of this dataset")


# ----------------------------------------------------------------------------------- results

@dataclass
class TrainResult:
    """What `train` returns: the model (best or last, per ``cfg.select``), the history table
    (one row per epoch: loss, acc, uf1, lr, seconds, and val_* when validating)."""

    model: nn.Module
    history: pd.DataFrame
    config: TrainConfig
    device: str
    seconds: float
    best_epoch: int | None = None
    checkpoint: Path | None = None
    resumed_from: int = 0

    def plot(self, **kwargs: Any):
        """Loss and learning-rate curves (`hsta_edu.viz.plot_history`)."""
        from .viz import plot_history
        return plot_history(self.history, **kwargs)


# ----------------------------------------------------------------------------------- trainer

def train(model: nn.Module, dataset: Dataset, cfg: TrainConfig | None = None, *,
          val_dataset: Dataset | None = None, checkpoint_dir: str | Path | None = None,
          resume: bool = True, callback: Callable[[dict[str, Any]], None] | None = None,
          desc: str = "train") -> TrainResult:
    """Train ``model`` on ``dataset`` items ``(video, special, label)``; returns a `TrainResult`.

    ``checkpoint_dir``: where ``last.pt`` is written atomically after every epoch; with
    ``resume=True`` an existing ``last.pt`` there is loaded first and training continues
    from the epoch after it (a finished run returns at once). ``val_dataset`` (drawn from
    training subjects only) is scored every ``cfg.eval_every`` epochs; with
    ``cfg.select == "best_val"`` the weights of the best validation UF1 are returned.
    The model is left on the chosen device. Seeds: call `set_seed` before building the model
    to make its initialisation repeatable; this function seeds everything it uses itself.
    """
    cfg = cfg or TrainConfig()
    if len(dataset) == 0:
        raise DataError("cannot train on an empty dataset")
    if cfg.select == "best_val" and val_dataset is None:
        raise ConfigError("TrainConfig.select='best_val' needs a val_dataset drawn from training subjects")
    if cfg.drop_path is not None:
        model_rate = getattr(getattr(model, "config", None), "drop_path_rate", None)
        if model_rate is not None and not math.isclose(model_rate, cfg.drop_path):
            warnings.warn(f"TrainConfig.drop_path={cfg.drop_path} but the model was built with "
                          f"drop_path_rate={model_rate}; build it with create_model(..., "
                          f"drop_path_rate={cfg.drop_path})", stacklevel=2)
    device = pick_device(cfg.device)
    t_start = time.time()
    set_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)

    labels = dataset_labels(dataset)
    if labels.min() < 0:
        raise DataError(f"labels must be class indices >= 0, got {int(labels.min())}")
    sampler = _balanced_sampler(labels, generator) if cfg.balanced else None
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, shuffle=sampler is None,
                        generator=generator, num_workers=cfg.num_workers, drop_last=False,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    steps_per_epoch = len(loader)

    model.to(device)
    groups = param_groups(model, cfg.weight_decay, cfg.layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    schedule = WarmupCosine(optimizer, cfg, steps_per_epoch)
    amp_dtype = _amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    forward = torch.compile(model) if cfg.compile else model

    history: list[dict[str, Any]] = []
    start_epoch = 0
    best: dict[str, Any] = {"score": -1.0, "epoch": None, "state": None}
    ckpt_path = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    if ckpt_path is not None and resume and ckpt_path.exists():
        state = safe_torch_load(ckpt_path, map_location="cpu")
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"{ckpt_path} does not match this model/optimiser "
                                  f"(another configuration?): {exc}") from exc
        old = state.get("train_config", {})
        changed = {k: (old.get(k), v) for k, v in cfg.to_dict().items()
                   if k not in ("progress", "device", "num_workers") and old.get(k) != v}
        if changed:
            warnings.warn(f"resuming {ckpt_path} with a changed TrainConfig: {changed}", stacklevel=2)
        schedule.load_state_dict(state["schedule"])
        scaler.load_state_dict(state["scaler"]) if state.get("scaler") else None
        _set_rng_state(state["rng"], generator)
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        best = {"score": float(state["best"]["score"]), "epoch": state["best"]["epoch"],
                "state": state["best"].get("state")}

    bar = tqdm(range(start_epoch, cfg.epochs), desc=desc, disable=not cfg.progress, leave=False,
               initial=start_epoch, total=cfg.epochs)
    for epoch in bar:
        t0 = time.time()
        model.train()
        total_loss, n_seen, preds, trues = 0.0, 0, [], []
        for step, (video, special, target) in enumerate(
                tqdm(loader, desc=f"epoch {epoch + 1}", disable=not cfg.progress, leave=False)):
            _check_batch((video, special), epoch + 1, step)
            video, special = _move(video, device), _move(special, device)
            target = torch.as_tensor(target).long().to(device)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                logits = forward(video, special)
            loss = _loss(logits, target, cfg)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss is {loss.item()} at epoch {epoch + 1}, step {step}: "
                                       f"lower TrainConfig.lr ({cfg.lr}) or set grad_clip")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            total_loss += loss.item() * len(target)
            n_seen += len(target)
            preds.append(logits.detach().argmax(-1).cpu())
            trues.append(target.cpu())
        p, t = torch.cat(preds).numpy(), torch.cat(trues).numpy()
        row: dict[str, Any] = {
            "epoch": epoch + 1, "loss": total_loss / n_seen, "acc": float((p == t).mean()),
            "uf1": float(f1_score(t, p, average="macro", zero_division=0)),
            "lr": optimizer.param_groups[-1]["lr"] / optimizer.param_groups[-1].get("lr_scale", 1.0),
            "seconds": time.time() - t0,
        }
        if val_dataset is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            vp = predict(model, val_dataset, batch_size=max(cfg.batch_size, 32), device=device,
                         amp=cfg.amp, progress=False)
            vt = dataset_labels(val_dataset)
            row.update(val_loss=float(F.cross_entropy(torch.as_tensor(vp["logits"]), torch.as_tensor(vt))),
                       val_acc=float((vp["pred"] == vt).mean()),
                       val_uf1=float(f1_score(vt, vp["pred"], average="macro", zero_division=0)),
                       val_uar=float(recall_score(vt, vp["pred"], average="macro", zero_division=0)))
            if cfg.select == "best_val" and row["val_uf1"] > best["score"]:
                best = {"score": row["val_uf1"], "epoch": epoch + 1,
                        "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['acc']:.2f}")
        if ckpt_path is not None:
            atomic_torch_save({
                "format": "hsta_edu.train/1", "epoch": epoch + 1,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "rng": _rng_state(generator), "history": history, "train_config": cfg.to_dict(),
                "best": best,
            }, ckpt_path)
        if callback is not None:
            callback(row)  # after the checkpoint: a callback that stops the run loses nothing
    bar.close()

    best_epoch = None
    if cfg.select == "best_val" and best["state"] is not None:
        model.load_state_dict(best["state"])
        best_epoch = int(best["epoch"])
    return TrainResult(model=model, history=pd.DataFrame(history), config=cfg, device=describe_device(device),
                       seconds=time.time() - t_start, best_epoch=best_epoch, checkpoint=ckpt_path,
                       resumed_from=start_epoch)


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, *, batch_size: int = 32, device: str | torch.device | None = None,
            amp: str = "auto", progress: bool = False) -> dict[str, np.ndarray]:
    """Deterministic inference (eval mode, no sampling; give the dataset with ``train=False``).

    Returns ``{"logits": (N, K) float32, "prob": (N, K), "pred": (N,) int64}`` in dataset order.
    """
    device = pick_device(None if device is None else str(device))
    model.to(device)
    was_training = model.training
    model.eval()
    amp_dtype = _amp_dtype(TrainConfig(amp=amp), device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = []
    for video, special, _ in tqdm(loader, desc="predict", disable=not progress, leave=False):
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(_move(video, device), _move(special, device))
        out.append(logits.float().cpu())
    model.train(was_training)
    logits = torch.cat(out) if out else torch.zeros(0, 0)
    return {"logits": logits.numpy(), "prob": logits.softmax(-1).numpy(),
            "pred": logits.argmax(-1).numpy().astype(np.int64)}


# ----------------------------------------------------------------------------------- saving

def save_model(path: str | Path, model: nn.Module, *, preset: str | None = None, classes: Sequence[str] = (),
               extra: dict[str, Any] | None = None) -> Path:
    """Save weights plus what rebuilds the model (preset name and HSTAConfig as a dict), atomically."""
    config = getattr(model, "config", None)
    obj = {"format": "hsta_edu.model/1", "preset": preset,
           "model_config": config.to_dict() if hasattr(config, "to_dict") else None,
           "classes": list(classes), "state_dict": model.state_dict(), "extra": extra or {}}
    return atomic_torch_save(obj, path)


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_model` (weights_only loading); returns (model, metadata)."""
    from .model import HSTA, HSTAConfig
    obj = safe_torch_load(path, map_location=map_location)
    if not isinstance(obj, dict) or obj.get("format") != "hsta_edu.model/1" or obj.get("model_config") is None:
        raise CheckpointError(f"{path} is not a model file written by hsta_edu.train.save_model")
    model = HSTA(HSTAConfig.from_dict(obj["model_config"]))
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored configuration: {exc}") from exc
    meta = {k: v for k, v in obj.items() if k != "state_dict"}
    return model, meta


# ----------------------------------------------------------------------------------- VideoMAE init

@dataclass
class LoadReport:
    """What `load_video_pretrained` did: target keys loaded (with their source key), skipped
    ones and why. ``str(report)`` is a short human-readable summary."""

    source: str
    loaded: dict[str, str] = field(default_factory=dict)          # target key -> source key
    shape_mismatch: dict[str, str] = field(default_factory=dict)  # target key -> "src shape vs dst shape"
    missing: list[str] = field(default_factory=list)              # video-branch target keys not in the file
    unused: list[str] = field(default_factory=list)               # source keys nothing was mapped to

    def __str__(self) -> str:
        lines = [f"video-branch init from {self.source}: {len(self.loaded)} tensors loaded, "
                 f"{len(self.shape_mismatch)} shape mismatches, {len(self.missing)} missing, "
                 f"{len(self.unused)} unused source tensors"]
        for k, why in self.shape_mismatch.items():
            lines.append(f"  shape mismatch {k}: {why}")
        if self.missing:
            lines.append("  missing (kept random): " + ", ".join(self.missing[:12])
                         + (" ..." if len(self.missing) > 12 else ""))
        if self.unused:
            lines.append("  unused: " + ", ".join(self.unused[:12]) + (" ..." if len(self.unused) > 12 else ""))
        return "\n".join(lines)


_PREFIXES = ("module.", "model.", "encoder.", "backbone.", "videomae.")


def load_video_pretrained(model: nn.Module, path_or_state: str | Path | dict[str, torch.Tensor], *,
                          strict_shapes: bool = False) -> LoadReport:
    """Initialise the video branch of an HSTA model from a local VideoMAE-style checkpoint.

    Source keys (after stripping ``module.``/``encoder.``/... prefixes and unwrapping a
    ``model``/``state_dict`` entry): ``patch_embed.proj.*`` -> ``embed.video.proj.*``,
    ``cls_token`` -> ``embed.video.cls_token``, ``blocks.{i}.*`` -> the i-th video USTA block
    counted across stages (stage ``i // M``, block ``i % M``), ``norm.*`` / ``fc_norm.*`` ->
    ``norm.video.*``. Tensors whose shapes differ are skipped and reported (or raise with
    ``strict_shapes``). Nothing is downloaded: the file must be local. Loads weights_only.
    """
    source = "<state_dict>"
    if isinstance(path_or_state, (str, Path)):
        source = str(path_or_state)
        state = safe_torch_load(path_or_state)
    else:
        state = path_or_state
    for key in ("model", "state_dict", "module"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: expected a state dict of tensors")
    clean, original = {}, {}
    for k0, v in state.items():
        k, changed = k0, True
        while changed:
            changed = False
            for pre in _PREFIXES:
                if k.startswith(pre):
                    k, changed = k[len(pre):], True
        clean[k], original[k] = v, k0
    cfg = getattr(model, "config", None)
    if cfg is None or "video" not in getattr(cfg, "modalities", ()):
        raise ConfigError("load_video_pretrained needs an HSTA model with a video branch")
    # VideoMAE's blocks fill the video USTA blocks in order, stage by stage (stages may differ in depth)
    slots = [(k, j) for k, n in enumerate(cfg.blocks("video")) for j in range(n)]
    target = model.state_dict()
    report = LoadReport(source=source)
    mapped: dict[str, str] = {}
    for k in clean:
        m = re.match(r"blocks\.(\d+)\.(.+)$", k)
        if m:
            i = int(m.group(1))
            if i < len(slots):
                stage, j = slots[i]
                mapped[f"stages.{stage}.usta.video.blocks.{j}.{m.group(2)}"] = k
        elif k.startswith("patch_embed.proj."):
            mapped["embed.video.proj." + k[len("patch_embed.proj."):]] = k
        elif k == "cls_token":
            mapped["embed.video.cls_token"] = k
        elif k.startswith(("norm.", "fc_norm.")):
            mapped["norm.video." + k.split(".", 1)[1]] = k
    new_state = {}
    for dst, src in mapped.items():
        if dst not in target:
            continue
        if tuple(clean[src].shape) != tuple(target[dst].shape):
            why = f"{tuple(clean[src].shape)} in file vs {tuple(target[dst].shape)} in model"
            if strict_shapes:
                raise CheckpointError(f"{source}: {src} -> {dst}: {why}")
            report.shape_mismatch[dst] = why
            continue
        new_state[dst] = clean[src].to(target[dst].dtype)
        report.loaded[dst] = original[src]
    used = {mapped[d] for d in report.loaded} | {mapped[d] for d in report.shape_mismatch}
    report.unused = sorted(original[k] for k in clean if k not in used)
    video_keys = [k for k in target if k.startswith(("embed.video.", "norm.video.")) or ".usta.video." in k]
    report.missing = sorted(k for k in video_keys if k not in report.loaded)
    model.load_state_dict(new_state, strict=False)
    return report
