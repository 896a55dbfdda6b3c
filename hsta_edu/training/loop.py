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

The recipe itself (`TrainConfig`, `RECIPES`, `recipe`, `RUNTIME_FIELDS`) is written in `recipe`, a
trained model's weights (`save_model`, `load_model`, `load_video_pretrained`) in `hsta_edu.model`.
"""

from __future__ import annotations

import math
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, recall_score
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from ..data.clip import require_classes
from ..data.labelled import DatasetInfo, dataset_info
from ..errors import CheckpointError, ConfigError, DataError, HSTAError, Interrupted
from ..fingerprint import refuse_if_different, training_identity
from ..io import atomic_torch_save, safe_torch_load
from ..progress import progress_bar
from .device import describe_device, pick_device
from .distributed import DistContext, RankBatches, barrier, gather_epoch
from .distributed import context as dist_context
from .distributed import wrap as wrap_ddp
from .recipe import AMP_MODES, TrainConfig, WarmupCosine


class TrainingDiverged(HSTAError):
    """The loss became NaN or infinite; the message says at which epoch and step."""


# ----------------------------------------------------------------------------------- pieces

def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` mode (`TrainConfig.amp`) on ``device``; None: full precision."""
    if amp not in AMP_MODES:
        raise ConfigError(f"amp={amp!r} is not valid; choose one of {list(AMP_MODES)}")
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)


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
        if t is not None and t.is_floating_point() and not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
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
        from ..viz import plot_history
        return plot_history(self.history, **kwargs)


# ----------------------------------------------------------------------------------- trainer

@dataclass
class _Run:
    """The live state of one training run, shared by the steps of `train`."""

    model: nn.Module
    forward: Callable[..., torch.Tensor]  # the model, or its torch.compile'd version
    device: torch.device
    loader: DataLoader
    generator: torch.Generator            # the sampler's; checkpointed with the other RNGs
    optimizer: torch.optim.Optimizer
    schedule: WarmupCosine
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    t_start: float
    history: list[dict[str, Any]]
    best: dict[str, Any]                  # {"score": val UF1, "epoch", "state": weights} for select="best_val"
    start_epoch: int = 0                  # epochs done when this call began (resume)
    dist: DistContext = DistContext()     # this process's rank under torchrun (hsta_edu.training.distributed)
    identity: dict[str, Any] = field(default_factory=dict)   # what decides the result (hsta_edu.fingerprint)


def _check_inputs(model: nn.Module, dataset: Dataset, cfg: TrainConfig,
                  val_dataset: Dataset | None) -> tuple[DatasetInfo, DatasetInfo | None]:
    """Refuse what cannot train; returns what `dataset_info` says of the training and validation data."""
    if len(dataset) == 0:
        raise DataError("cannot train on an empty dataset")
    require_classes(dataset, what="training data")
    info = dataset_info(dataset)
    val_info = None if val_dataset is None else dataset_info(val_dataset)
    for what, data in (("training data", info), ("validation data", val_info)):
        if data is not None and len(data):
            _check_labels_fit(model, data, what)
    if cfg.select == "best_val" and val_dataset is None:
        raise ConfigError("TrainConfig.select='best_val' needs a val_dataset drawn from training subjects")
    if cfg.drop_path is not None:
        model_rate = getattr(getattr(model, "config", None), "drop_path_rate", None)
        if model_rate is not None and not math.isclose(model_rate, cfg.drop_path):
            warnings.warn(f"TrainConfig.drop_path={cfg.drop_path} but the model was built with "
                          f"drop_path_rate={model_rate}; build it with create_model(..., "
                          f"drop_path_rate={cfg.drop_path})", stacklevel=3)  # 3: train's caller
    return info, val_info


def _check_labels_fit(model: nn.Module, info: DatasetInfo, what: str) -> None:
    """DataError for a negative label; ConfigError when a label of the data ``info`` describes is not
    below the model's number of outputs (``model.config.num_classes``, when it has one), naming both numbers."""
    labels = info.labels
    if labels.min() < 0:
        i = int(np.argmin(labels))
        raise DataError(f"{what}: item {i} has label {int(labels[i])}; labels must be class indices >= 0")
    n_out = getattr(getattr(model, "config", None), "num_classes", None)
    if n_out is None or labels.max() < int(n_out):
        return
    n_data = max(len(info.classes), int(labels.max()) + 1)
    raise ConfigError(f"{what} has {n_data} classes (labels up to {int(labels.max())}) but the model has "
                    f"{int(n_out)} outputs (num_classes={int(n_out)}): build it with num_classes={n_data} "
                    f"(create_model(..., num_classes={n_data}))")


def _set_up(model: nn.Module, dataset: Dataset, labels: np.ndarray, cfg: TrainConfig) -> _Run:
    """Seed, then build the loader, optimiser, schedule and scaler, in a fixed order: the order in
    which they draw from the RNGs is part of what makes a run repeat exactly."""
    from ..data.torch_data import balanced_sampler  # importing hsta_edu.data pulls in OpenCV: import it late

    device = pick_device(cfg.device)
    ctx = dist_context(device.type)
    if ctx.active and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)   # one GPU per process
    t_start = time.time()
    set_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    if labels.min() < 0:
        raise DataError(f"labels must be class indices >= 0, got {int(labels.min())}")
    sampler = balanced_sampler(labels, generator) if cfg.balanced else None
    if ctx.active:   # every rank draws the same global order and takes its slice of each global batch
        order = sampler if sampler is not None else RandomSampler(dataset, generator=generator)
        loader = DataLoader(dataset, batch_sampler=RankBatches(order, cfg.batch_size, ctx), generator=generator,
                            num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    else:
        loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, shuffle=sampler is None,
                            generator=generator, num_workers=cfg.num_workers, drop_last=False,
                            pin_memory=device.type == "cuda", persistent_workers=False)
    model.to(device)
    groups = param_groups(model, cfg.weight_decay, cfg.layer_decay)
    # on a CPU the multi-tensor step: the same values as the per-tensor loop (tested), in fewer calls
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                  foreach=True if device.type == "cpu" else None)
    schedule = WarmupCosine(optimizer, cfg, len(loader))
    amp_dtype = _amp_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    wrapped = wrap_ddp(model, device, ctx)
    forward = torch.compile(wrapped) if cfg.compile else wrapped
    return _Run(model=model, forward=forward, device=device, loader=loader, generator=generator,
                optimizer=optimizer, schedule=schedule, scaler=scaler, amp_dtype=amp_dtype, t_start=t_start,
                history=[], best={"score": -1.0, "epoch": None, "state": None}, dist=ctx)


def _pretrain_first(run: _Run, dataset: Dataset, cfg: TrainConfig, checkpoint_dir: str | Path | None,
                    resume: bool) -> None:
    """``cfg.pretrain_epochs`` of masked reconstruction (`hsta_edu.training.pretrain`) on ``dataset``, the
    clips this run trains on (in a LOSO fold: that fold's training clips only, never the test subject's),
    before the first supervised epoch; resumable from its own checkpoint beside ``last.pt``. The
    optimiser `_set_up` made holds the same parameters, with no state yet."""
    from .pretrain import PretrainConfig, pretrain
    if run.dist.active:
        raise ConfigError("TrainConfig.pretrain_epochs: pretraining inside a distributed run is not supported; "
                          "pretrain first (`hsta-edu pretrain`) and fine-tune with --init")
    pcfg = PretrainConfig(epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                          progress=cfg.progress)
    pretrain(run.model, dataset, pcfg, checkpoint_dir=checkpoint_dir, resume=resume, device=run.device)
    run.model.train()
    set_seed(cfg.seed)   # the supervised epochs draw as they would after a pretraining resumed or never stopped


def _resume(run: _Run, cfg: TrainConfig, ckpt_path: Path) -> None:
    """Continue from the checkpoint `_write_checkpoint` left: weights, optimiser, schedule, scaler,
    every RNG, the history and the best epoch so far."""
    state = safe_torch_load(ckpt_path, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != "hsta_edu.train/1" or "identity" not in state:
        raise CheckpointError(f"{ckpt_path} is not a training checkpoint of hsta_edu (no format and identity); "
                              "delete it (CLI: --overwrite) or train with resume=False to start afresh")
    # another model, recipe or set of clips: refused, naming what differs
    refuse_if_different(state["identity"], run.identity, f"{ckpt_path} holds another training run",
                        "delete it (CLI: --overwrite) or train with resume=False to start afresh", CheckpointError)
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{ckpt_path} does not match this model/optimiser "
                              f"(another configuration?): {exc}") from exc
    run.schedule.load_state_dict(state["schedule"])
    if state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"], run.generator)
    run.history = list(state["history"])
    run.start_epoch = int(state["epoch"])
    run.best = {"score": float(state["best"]["score"]), "epoch": state["best"]["epoch"],
                "state": state["best"].get("state")}


def _train_step(run: _Run, cfg: TrainConfig, batch: Sequence[Any], epoch: int,
                step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on one batch; returns (loss, logits, target)."""
    video, special, target = batch
    _check_batch((video, special), epoch + 1, step)
    video, special = _move(video, run.device), _move(special, run.device)
    target = torch.as_tensor(target).long().to(run.device)
    with _autocast(run.device, run.amp_dtype):
        logits = run.forward(video, special)
    loss = _loss(logits, target, cfg)
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"loss is {loss.item()} at epoch {epoch + 1}, step {step}: "
                               f"lower TrainConfig.lr ({cfg.lr}) or set grad_clip")
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if cfg.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip, foreach=run.device.type == "cpu" or None)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.schedule.step()
    return loss, logits, target


def _train_epoch(run: _Run, cfg: TrainConfig, epoch: int) -> dict[str, Any]:
    """One pass over the loader; returns the epoch's history row (loss, acc, uf1, lr, seconds)."""
    t0 = time.time()
    run.model.train()
    total_loss, n_seen, preds, trues = 0.0, 0, [], []
    batches = progress_bar(run.loader, desc=f"epoch {epoch + 1}", enabled=cfg.progress, leave=False, unit="batch")
    for step, batch in enumerate(batches):
        loss, logits, target = _train_step(run, cfg, batch, epoch, step)
        total_loss += loss.item() * len(target)
        n_seen += len(target)
        preds.append(logits.detach().argmax(-1).cpu())
        trues.append(target.cpu())
    p, t = torch.cat(preds).numpy(), torch.cat(trues).numpy()
    total_loss, n_seen, p, t = gather_epoch(run.dist, total_loss, n_seen, p, t)   # all ranks, under torchrun
    last_group = run.optimizer.param_groups[-1]
    return {
        "epoch": epoch + 1, "loss": total_loss / n_seen, "acc": float((p == t).mean()),
        "uf1": float(f1_score(t, p, average="macro", zero_division=0)),
        "lr": last_group["lr"] / last_group.get("lr_scale", 1.0),
        "seconds": time.time() - t0,
    }


def _validate(run: _Run, cfg: TrainConfig, val_dataset: Dataset, vt: np.ndarray, row: dict[str, Any]) -> None:
    """Add val_loss/val_acc/val_uf1/val_uar to ``row`` (``vt``: the validation labels); keep the
    weights when they are the best so far."""
    vp = predict(run.model, val_dataset, batch_size=max(cfg.batch_size, 32), device=run.device,
                 amp=cfg.amp, progress=False)
    row.update(val_loss=float(F.cross_entropy(torch.as_tensor(vp["logits"]), torch.as_tensor(vt))),
               val_acc=float((vp["pred"] == vt).mean()),
               val_uf1=float(f1_score(vt, vp["pred"], average="macro", zero_division=0)),
               val_uar=float(recall_score(vt, vp["pred"], average="macro", zero_division=0)))
    if cfg.select == "best_val" and row["val_uf1"] > run.best["score"]:
        run.best = {"score": row["val_uf1"], "epoch": row["epoch"],
                    "state": {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}}


def _write_checkpoint(run: _Run, cfg: TrainConfig, epoch: int, ckpt_path: Path) -> None:
    """Atomically write everything `_resume` needs to continue after ``epoch`` (0-based)."""
    atomic_torch_save({
        "format": "hsta_edu.train/1", "epoch": epoch + 1,
        "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
        "schedule": run.schedule.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler.is_enabled() else {},
        "rng": _rng_state(run.generator), "history": run.history, "train_config": cfg.to_dict(),
        "best": run.best, "identity": run.identity,
    }, ckpt_path)


def _finish(run: _Run, cfg: TrainConfig, ckpt_path: Path | None) -> TrainResult:
    """Load the best weights when selecting on validation; wrap everything in a `TrainResult`."""
    best_epoch = None
    if cfg.select == "best_val" and run.best["state"] is not None:
        run.model.load_state_dict(run.best["state"])
        best_epoch = int(run.best["epoch"])
    return TrainResult(model=run.model, history=pd.DataFrame(run.history), config=cfg,
                       device=describe_device(run.device), seconds=time.time() - run.t_start,
                       best_epoch=best_epoch, checkpoint=ckpt_path, resumed_from=run.start_epoch)


def _interruptible(step: Callable[..., Any], epoch: int, epochs: int, *args: Any) -> Any:
    """``step(*args)``, turning Ctrl-C into `Interrupted` saying the epoch (resume: same command)."""
    try:
        return step(*args)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted at epoch {epoch + 1} of {epochs}") from None


# many parameters: keyword-only run-time options of one call (validation, checkpoints, callback)
def train(model: nn.Module, dataset: Dataset, cfg: TrainConfig | None = None, *,
          val_dataset: Dataset | None = None, checkpoint_dir: str | Path | None = None,
          checkpoint_every: float = 0.0, resume: bool = True,
          callback: Callable[[dict[str, Any]], None] | None = None, desc: str = "train") -> TrainResult:
    """Train ``model`` on ``dataset`` items ``(video, special, label)``; returns a `TrainResult`.

    ``checkpoint_dir``: where ``last.pt`` is written atomically after every epoch; with
    ``resume=True`` an existing ``last.pt`` there is loaded first and training continues
    from the epoch after it (a finished run returns at once). ``checkpoint_every`` > 0 writes it
    only once that many seconds have passed since the last write (and always after the last
    epoch): a small model's epochs take a second or two, and a checkpoint each costs a few percent
    of the run; an interrupted run then repeats at most that much training, to the same result. ``val_dataset`` (drawn from
    training subjects only) is scored every ``cfg.eval_every`` epochs; with
    ``cfg.select == "best_val"`` the weights of the best validation UF1 are returned.
    The model is left on the chosen device. Seeds: call `set_seed` before building the model
    to make its initialisation repeatable; this function seeds everything it uses itself.
    """
    cfg = (cfg or TrainConfig()).for_data(len(dataset))   # epochs raised to the recipe's min_steps
    info, val_info = _check_inputs(model, dataset, cfg, val_dataset)
    if not checkpoint_every >= 0:
        raise ConfigError(f"checkpoint_every={checkpoint_every}: must be >= 0 seconds")
    run = _set_up(model, dataset, info.labels, cfg)
    run.identity = training_identity(model, info.uids, info.labels, cfg.recipe_dict())
    ckpt_path = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    if ckpt_path is not None and resume and ckpt_path.exists():
        _resume(run, cfg, ckpt_path)
    elif cfg.pretrain_epochs:
        _pretrain_first(run, dataset, cfg, checkpoint_dir, resume)
    bar = progress_bar(range(run.start_epoch, cfg.epochs), desc=desc, enabled=cfg.progress, leave=False,
                       unit="epoch", initial=run.start_epoch, total=cfg.epochs)
    last_write = time.time()
    for epoch in bar:
        row = _interruptible(_train_epoch, epoch, cfg.epochs, run, cfg, epoch)
        if val_dataset is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            _validate(run, cfg, val_dataset, val_info.labels, row)
        run.history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['acc']:.2f}")
        if ckpt_path is not None:
            due = epoch + 1 == cfg.epochs or time.time() - last_write >= checkpoint_every
            if run.dist.is_main and due:   # under torchrun rank 0 writes, the others wait for the file
                _write_checkpoint(run, cfg, epoch, ckpt_path)
                last_write = time.time()
            barrier(run.dist)
        if callback is not None:
            callback(row)  # after the checkpoint: with checkpoint_every=0 a callback that stops the run loses nothing
    bar.close()
    return _finish(run, cfg, ckpt_path)


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, *, batch_size: int = 32, device: str | torch.device | None = None,
            amp: str = "auto", progress: bool = False) -> dict[str, np.ndarray]:
    """Deterministic inference (eval mode, no sampling; give the dataset with ``train=False``).

    Returns ``{"logits": (N, K) float32, "prob": (N, K), "pred": (N,) int64}`` in dataset order.
    ``amp``: as `TrainConfig.amp`.
    """
    device = pick_device(None if device is None else str(device))
    amp_dtype = _amp_dtype(amp, device)
    model.to(device)
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = []
    for video, special, _ in progress_bar(loader, desc="predict", enabled=progress, leave=False, unit="batch"):
        with _autocast(device, amp_dtype):
            logits = model(_move(video, device), _move(special, device))
        out.append(logits.float().cpu())
    model.train(was_training)
    logits = torch.cat(out) if out else torch.zeros(0, 0)
    return {"logits": logits.numpy(), "prob": logits.softmax(-1).numpy(),
            "pred": logits.argmax(-1).numpy().astype(np.int64)}
