"""Self-supervised pretraining by masked reconstruction, the way the paper's encoders were made (VideoMAE,
Tong et al. 2022): labels are never read.

Each branch of an HSTA (its tubelet embedding and its USTA blocks of every stage) sees its input with
most of its tubelets hidden, and must rebuild the hidden ones' pixels. Masking is VideoMAE's *tube*
masking: one random set of spatial positions per clip, hidden at every time step, so a tubelet cannot be
copied from its neighbour in time. Because USTA attends over the whole token grid, the hidden tubelets
are replaced by a learned [MASK] token instead of being dropped (the SimMIM form of masked modelling),
and a linear decoder predicts each hidden tubelet's pixels, normalised per tubelet (VideoMAE's target).
CSTA and the classification head are not trained here: fine-tuning (`init_from_pretrained`, the command
line's ``--init``) starts them fresh.

`pretrain` is resumable like every run: a checkpoint after each epoch, and the random draws of epoch
``e`` (order, masks, dropout) come from ``seed`` and ``e`` alone, so a run killed and resumed ends with
the same weights as one never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from einops import rearrange
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..errors import CheckpointError, ConfigError, DataError
from ..io import atomic_torch_save, safe_torch_load
from ..progress import progress_bar
from .device import pick_device

PRETRAINED_FORMAT = "hsta_edu.self_supervised/1"


@dataclass(frozen=True)
class PretrainConfig:
    """The masked-reconstruction recipe. ``mask_ratio``: the share of spatial positions hidden (VideoMAE
    hides 90 % of a video's tubes; a micro-expression clip is short and small, so 0.75 by default).
    ``norm_target``: rebuild each hidden tubelet's pixels standardised by its own mean and std (VideoMAE's
    target) instead of the pixels as the model sees them."""
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    mask_ratio: float = 0.75
    norm_target: bool = True
    seed: int = 0
    modalities: tuple[str, ...] = ("video", "special")
    progress: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise ConfigError(f"mask_ratio={self.mask_ratio}: must be in (0, 1)")
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"lr={self.lr}: must be positive")


class MaskedReconstruction(nn.Module):
    """An HSTA's branches as masked autoencoders: ``forward(video, special, generator)`` -> mean loss over
    the branches (MSE on the hidden tubelets' normalised pixels)."""

    def __init__(self, model: nn.Module, modalities: Sequence[str], mask_ratio: float,
                 norm_target: bool = True) -> None:
        super().__init__()
        self.norm_target = norm_target
        self.model = model
        self.modalities = tuple(m for m in modalities if m in model.modalities)
        if not self.modalities:
            raise ConfigError(f"pretraining modalities {tuple(modalities)}: the model has {model.modalities}")
        self.mask_ratio = mask_ratio
        self.mask_token = nn.ParameterDict()
        self.decoder = nn.ModuleDict()
        for m in self.modalities:
            emb = model.embed[m]
            dim = emb.proj.out_channels
            self.mask_token[m] = nn.Parameter(torch.zeros(1, 1, dim))
            nn.init.trunc_normal_(self.mask_token[m], std=0.02)
            self.decoder[m] = nn.Linear(dim, emb.proj.in_channels * int(torch.tensor(emb.patch).prod()))

    def tube_mask(self, batch: int, modality: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch, N) bool, True = hidden: the same spatial positions at every time step (tube masking)."""
        t, h, w = self.model.embed[modality].grid
        hidden = max(1, round(self.mask_ratio * h * w))
        scores = torch.rand(batch, h * w, generator=generator)
        spatial = torch.zeros(batch, h * w, dtype=torch.bool)
        spatial.scatter_(1, scores.argsort(dim=1)[:, :hidden], True)
        return spatial.repeat(1, t)                      # tokens are ordered (t, h, w)

    def branch_loss(self, modality: str, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        emb = self.model.embed[modality]
        tokens = rearrange(emb.proj(x), "b d t h w -> b (t h w) d")
        mask = mask.to(tokens.device)
        tokens = torch.where(mask[..., None], self.mask_token[modality].to(tokens.dtype), tokens)
        cls = emb.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + emb.pos_embed.to(tokens.dtype)
        for stage in self.model.stages:
            tokens = stage.usta[modality](tokens)
        pred = self.decoder[modality](self.model.norm[modality](tokens[:, 1:]))
        pt, ph, pw = emb.patch
        target = rearrange(x, "b c (t pt) (h ph) (w pw) -> b (t h w) (pt ph pw c)", pt=pt, ph=ph, pw=pw)
        if self.norm_target:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        err = ((pred - target) ** 2).mean(-1)
        return (err * mask).sum() / mask.sum().clamp(min=1)

    def forward(self, video: torch.Tensor | None, special: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        inputs = {"video": video, "special": special}
        losses = [self.branch_loss(m, inputs[m], self.tube_mask(inputs[m].shape[0], m, generator))
                  for m in self.modalities]
        return torch.stack(losses).mean()


@dataclass
class PretrainResult:
    """What `pretrain` did: mean loss per epoch, the epoch it resumed from (0: a fresh start), seconds."""
    losses: list[float]
    resumed_from: int
    seconds: float
    device: str


def _checkpoint_path(checkpoint_dir: str | Path | None) -> Path | None:
    return None if checkpoint_dir is None else Path(checkpoint_dir) / "pretrain_checkpoint.pt"


def pretrain(model: nn.Module, dataset: Dataset, cfg: PretrainConfig | None = None, *,
             checkpoint_dir: str | Path | None = None, resume: bool = True,
             device: str | torch.device | None = None) -> PretrainResult:
    """Train ``model``'s branches (embeddings + USTA) by masked reconstruction of ``dataset``'s clips
    (items ``(video, special, label)``; the labels are not used). Updates ``model`` in place."""
    cfg = cfg or PretrainConfig()
    if len(dataset) == 0:
        raise ConfigError("pretrain: the dataset has no clips")
    dev = pick_device(None if device is None else str(device))
    task = MaskedReconstruction(model, cfg.modalities, cfg.mask_ratio, cfg.norm_target).to(dev)
    optimizer = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    steps = cfg.epochs * -(-len(dataset) // cfg.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=steps, pct_start=0.1,
                                                   anneal_strategy="cos")
    losses: list[float] = []
    start = 0
    ckpt = _checkpoint_path(checkpoint_dir)
    if resume and ckpt is not None and ckpt.exists():
        state = safe_torch_load(ckpt)
        if state.get("config") != asdict(cfg) | {"progress": None}:
            raise CheckpointError(f"{ckpt} belongs to another pretraining recipe; delete it or choose another folder")
        task.load_state_dict(state["task"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        losses, start = list(state["losses"]), int(state["epoch"])
    t0 = time.time()
    task.train()
    for epoch in range(start, cfg.epochs):
        torch.manual_seed(cfg.seed * 100003 + epoch)              # dropout / drop path of this epoch
        g = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, generator=g)
        total, n = 0.0, 0
        for video, special, labels in progress_bar(loader, desc=f"pretrain epoch {epoch + 1}", enabled=cfg.progress,
                                              leave=False, unit="batch"):
            video = None if video is None else video.to(dev)
            special = None if special is None else special.to(dev)
            loss = task(video, special, generator=g)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(task.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(labels)
            n += len(labels)
        losses.append(total / n)
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            atomic_torch_save({"task": task.state_dict(), "optimizer": optimizer.state_dict(),
                               "schedule": schedule.state_dict(), "losses": losses, "epoch": epoch + 1,
                               "config": asdict(cfg) | {"progress": None}}, ckpt)
    return PretrainResult(losses, start, time.time() - t0, str(dev))


def save_pretrained(path: str | Path, model: nn.Module, meta: dict[str, Any] | None = None) -> Path:
    """Write the self-supervised weights of ``model``'s branches (embeddings, USTA blocks, branch norms)
    with its config and ``meta`` (data, recipe, losses) as a tensors-and-plain-data file."""
    keep = {k: v.detach().cpu() for k, v in model.state_dict().items() if _pretrained_key(k)}
    payload = {"format": PRETRAINED_FORMAT, "model_config": model.config.to_dict(), "state_dict": keep,
               "meta": dict(meta or {})}
    return atomic_torch_save(payload, path)


def _pretrained_key(key: str) -> bool:
    return key.startswith("embed.") or ".usta." in key or key.startswith("norm.")


@dataclass
class InitReport:
    """What `init_from_pretrained` did: the parameters loaded, and those left as initialised (CSTA, head)."""
    loaded: list[str]
    fresh: list[str]
    source: str

    def __str__(self) -> str:
        parts = sorted({"CSTA" if ".csta." in k else k.split(".")[0] for k in self.fresh})
        return (f"initialised from {self.source}: {len(self.loaded)} tensors (embeddings, USTA, norms) loaded; "
                f"{len(self.fresh)} start fresh ({', '.join(parts) or 'none'})")


def resolve_init(init: str | Path) -> Path:
    """The file of ``--init``: a path to a `save_pretrained` file, or the name of shipped self-supervised
    weights (`hsta_edu.pretrained.list_self_supervised`; their sha256 checked). DataError naming both
    readings when it is neither."""
    p = Path(init).expanduser()
    if p.is_file():
        return p
    from ..pretrained import list_self_supervised, self_supervised_path
    shipped = list_self_supervised()
    if str(init) in shipped:
        return self_supervised_path(str(init))
    raise DataError(f"--init {init}: no such file, and not the name of shipped self-supervised weights "
                    f"(shipped: {', '.join(shipped) or 'none'}); make a file with "
                    "`hsta-edu pretrain --data DIR --out DIR`")


def init_identity(path: str | Path | None) -> dict[str, Any]:
    """What starting from self-supervised weights adds to a run's model identity: the file's sha256 (an
    empty dict without a file), so runs from other weights never share a run folder."""
    if not path:
        return {}
    import hashlib
    return {"init_sha256": hashlib.sha256(resolve_init(path).read_bytes()).hexdigest()}


def initialised_model(preset: str, overrides: dict[str, Any], init: str | Path | None) -> nn.Module:
    """``create_model(preset, **overrides)``, then the self-supervised weights of ``init`` when given: the
    model factory of ``--init`` (with `functools.partial`, picklable, so it travels to worker processes
    and Slurm jobs)."""
    from ..model.hsta import create_model
    model = create_model(preset, **overrides)
    if init:
        init_from_pretrained(model, init)
    return model


def init_from_pretrained(model: nn.Module, path: str | Path) -> InitReport:
    """Load self-supervised weights (`save_pretrained`) into ``model``: embeddings, USTA blocks and branch
    norms; CSTA and the classification head keep their fresh initialisation. The architecture must match
    (same preset and sizes; the number of classes may differ). ``path`` may also name shipped
    self-supervised weights (`resolve_init`)."""
    path = resolve_init(path)
    payload = safe_torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != PRETRAINED_FORMAT:
        raise CheckpointError(f"{path}: not a self-supervised hsta_edu file (format {PRETRAINED_FORMAT!r}); "
                              "make one with `hsta-edu pretrain`")
    own = model.state_dict()
    state = payload["state_dict"]
    bad = [k for k, v in state.items() if k not in own or tuple(own[k].shape) != tuple(v.shape)]
    if bad:
        raise CheckpointError(f"{path} does not fit this model ({len(bad)} tensors differ, e.g. {bad[0]}): "
                              f"it was made for {payload.get('model_config', {}).get('embed_dim')}-wide "
                              "branches; use the same preset and sizes")
    missing = [k for k in own if _pretrained_key(k) and k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {len(missing)} of this model's branch tensors, e.g. {missing[0]}")
    model.load_state_dict(state, strict=False)
    fresh = [k for k in own if k not in state]
    return InitReport(sorted(state), fresh, str(path))
