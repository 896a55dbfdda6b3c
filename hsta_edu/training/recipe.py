"""The training recipe: `TrainConfig` (one run's settings, the paper's by default), named `RECIPES`,
and the learning-rate schedule every run follows, `WarmupCosine`.

`hsta_edu.training.loop` trains with it and re-exports every name here (``from hsta_edu.training.loop import
recipe, train`` is the usual import).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, ConfigError, DataError, check_fields
from ..typed_fields import check_field_types

if TYPE_CHECKING:
    import torch


#: Values of `TrainConfig.amp` (and of ``predict(amp=...)``).
AMP_MODES = ("auto", "bf16", "fp16", "off")


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

    Budget: ``epochs`` passes over the training clips, raised when ``min_steps`` > 0 until the run
    makes at least that many optimiser steps (`for_data`; one step per batch of ``batch_size``). A
    fixed number of epochs gives a small corpus few updates: the ``fast`` recipe's 30 epochs are about
    500 steps on the 264 training clips of a SynthME-benchmark fold but 180 on the 90 of a 108-clip
    corpus, where hsta-tiny has not finished learning (`benchmarks/learning_curve.py`). Giving
    ``epochs`` to `recipe` explicitly turns ``min_steps`` off unless it is given too.

    ``drop_path`` is a model option (``HSTAConfig.drop_path_rate``): builders in
    `hsta_edu.evaluate` and the command line pass it to ``create_model`` when set here.
    """

    epochs: int = 150
    min_steps: int = 0                    # raise epochs until the run makes this many steps (0 = off)
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
    pretrain_epochs: int = 0              # masked-reconstruction epochs on the training clips first (0 = off)
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
        check_field_types(self)   # the annotations above: epochs=2.5, balanced="no" or lr=nan is refused, named
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        checks = [   # (field, valid, what it must be); the types are already checked
            ("epochs", self.epochs >= 1, ">= 1"), ("min_steps", self.min_steps >= 0, ">= 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"), ("warmup_lr", self.warmup_lr >= 0, ">= 0"),
            ("min_lr", self.min_lr >= 0, ">= 0"), ("warmup_epochs", self.warmup_epochs >= 0, ">= 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("layer_decay", 0 < self.layer_decay <= 1, "in (0, 1]; 1 = off"),
            ("schedule", self.schedule in ("cosine", "constant"), "'cosine' or 'constant'"),
            ("loss", self.loss in ("ce", "mse"), "'ce' or 'mse'"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("pretrain_epochs", self.pretrain_epochs >= 0, ">= 0"),
            ("drop_path", self.drop_path is None or 0 <= self.drop_path < 1, "None or in [0, 1)"),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0, "None or > 0"),
            ("amp", self.amp in AMP_MODES, f"one of {list(AMP_MODES)}"),
            ("select", self.select in ("last", "best_val"), "'last' or 'best_val'"),
            ("eval_every", self.eval_every >= 1, ">= 1"),
            ("num_workers", self.num_workers >= 0, ">= 0"),
            ("betas", all(0 <= b < 1 for b in self.betas), "two numbers in [0, 1)"),
            ("seed", self.seed >= 0, ">= 0"),
        ]
        for name, ok, must in checks:
            if not ok:
                raise ConfigError(f"TrainConfig.{name}={getattr(self, name)!r} is not valid: must be {must}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    def steps_per_epoch(self, n_items: int) -> int:
        """Optimiser steps in one pass over ``n_items`` training clips (the last batch may be short)."""
        return -(-int(n_items) // self.batch_size)

    def for_data(self, n_items: int) -> TrainConfig:
        """This recipe for ``n_items`` training clips: ``epochs`` raised, when ``min_steps`` asks for it,
        to the fewest epochs that make at least ``min_steps`` optimiser steps; otherwise ``self``."""
        if self.min_steps <= 0 or n_items < 1:
            return self
        need = -(-self.min_steps // self.steps_per_epoch(n_items))
        return self if need <= self.epochs else replace(self, epochs=need)

    def budget_note(self, n_items: int, what: str = "training clips") -> str | None:
        """One line for a user when `for_data` raises the epochs for ``n_items`` training clips, else None;
        ``what`` names the clips (e.g. "training clips (median fold)" for a protocol's folds)."""
        run = self.for_data(n_items)
        if run.epochs == self.epochs:
            return None
        return (f"note: {run.epochs} epochs instead of {self.epochs}: {n_items} {what} make "
                f"{self.steps_per_epoch(n_items)} steps per epoch and the recipe asks for at least "
                f"{self.min_steps} (--min-steps; --epochs N runs exactly N)")

    def recipe_dict(self) -> dict[str, Any]:
        """`to_dict` without the run-time-only fields (`RUNTIME_FIELDS`): what a run's result
        depends on, as run, checkpoint and model fingerprints record it."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        check_fields(cls, d, "TrainConfig field(s)")
        return cls(**d)


#: TrainConfig fields that say how a run is executed, not what it computes: a resumed run may
#: change them without a warning, and run fingerprints (`hsta_edu.evaluate`) leave them out.
RUNTIME_FIELDS: tuple[str, ...] = ("progress", "device", "num_workers")

#: Named recipes. "paper": Sec. 4.2 of the paper. "reference": what the authors' code does
#: (peak lr 6.25e-5, layer decay 0.9, drop path 0.2). "fast": hsta-tiny on a laptop CPU in
#: minutes (short cosine run at a higher rate, at least 500 optimiser steps whatever the data size, label
#: smoothing 0.1; chosen on SynthME development corpora only, benchmarks/learning_curve_notes.md).
RECIPES: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "reference": TrainConfig(lr=6.25e-5, layer_decay=0.9, drop_path=0.2),
    "fast": TrainConfig(epochs=30, min_steps=500, batch_size=16, lr=1e-3, warmup_epochs=2, warmup_lr=1e-5,
                        min_lr=1e-5, weight_decay=0.05, grad_clip=1.0, label_smoothing=0.1),
}


def recipe(name: str = "paper", **overrides: Any) -> TrainConfig:
    """A copy of a named recipe ("paper", "reference", "fast") with field overrides. Giving ``epochs``
    sets ``min_steps`` to 0 (the epochs given are run) unless ``min_steps`` is given too."""
    if name not in RECIPES:
        raise ConfigError(f"unknown training recipe {name!r}; choose one of {sorted(RECIPES)}")
    check_fields(TrainConfig, overrides, "TrainConfig option(s)")
    if "epochs" in overrides and "min_steps" not in overrides:
        overrides = {**overrides, "min_steps": 0}   # an explicit budget is the budget
    return replace(RECIPES[name], **overrides)


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


#: Below this many training clips per fold, hsta-tiny trained from scratch on frames was not measured to
#: learn: it is the training fold of the smallest corpus of the shipped learning curve (4 subjects x 4 clips
#: per class: 36 clips; `benchmarks/learning_curve.py`, `hsta_edu.evaluate.curve`). The 24 clips of
#: ``data_samples/`` (18 per fold) score at chance.
FROM_SCRATCH_MIN_CLIPS = 36


def _smallest_measured() -> tuple[int, float, float] | None:
    """(clips, lowest UF1, highest UF1) of the smallest corpus of the shipped learning curve (from
    scratch, every level and seed), or None without one."""
    from ..evaluate.curve import measured_learning_curve
    try:
        rows = [r for r in measured_learning_curve()["rows"]
                if not r.get("init") and r.get("branch", "both") == "both"]
        _ = [(int(r["clips"]), float(r["uf1"])) for r in rows]
    except (DataError, KeyError, TypeError, ValueError, AttributeError):   # a note never stops a run
        return None
    if not rows:
        return None
    n = min(int(r["clips"]) for r in rows)
    u = [float(r["uf1"]) for r in rows if int(r["clips"]) == n]
    return n, min(u), max(u)


def data_size_note(n_train: int, special: str = "frames", pretrained: bool = False) -> str | None:
    """What to tell a user, before training, whose folds train from scratch on ``n_train`` clips (the
    median fold's), or None when nothing needs saying: enough clips, the easier optical-flow input
    (``special="flow"``), or pretrained weights. Its figures come from the shipped learning curve."""
    if n_train >= FROM_SCRATCH_MIN_CLIPS or special != "frames" or pretrained:
        return None
    small = _smallest_measured()
    from ..pretrained import list_self_supervised
    try:
        ssl = list_self_supervised()
    except (OSError, ValueError, DataError, CheckpointError):   # a note never stops a run
        ssl = []
    init = (f" Fine-tuning from the shipped self-supervised encoders (--init {ssl[0]}) needs fewer clips than "
            f"training from scratch, but not this few: on data_samples/ it scored little above chance."
            if ssl else "")
    measured = (f" (on new SynthME identities the smallest corpus measured, {small[0]} clips, scores a pooled "
                f"LOSO UF1 of {small[1]:.2f}-{small[2]:.2f})" if small else "")
    return (f"note: each fold trains on about {n_train} clips, from scratch, fewer than the "
            f"{FROM_SCRATCH_MIN_CLIPS} from which hsta-tiny was measured to learn from frames{measured}; the "
            f"24 clips of data_samples/ (18 per fold) score at chance (docs/results/learning_curve.md). "
            f"Expect a score near chance from this run. "
            f"To see a model that works: `hsta-edu demo` (a shipped pretrained model); to see one learn from "
            f"few clips: add --flow (onset + optical flow) on the notebooks' 72-clip corpus, "
            f"`hsta-edu synth --preset tutorial --out DIR`; to train from frames: more clips, for example "
            f"`hsta-edu synth --preset benchmark --out DIR` (288 clips).{init}")
