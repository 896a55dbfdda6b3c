"""The training loop's random stream is the one every published figure was made with."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hsta_edu import create_model
from hsta_edu.data.labelled import LabelledDataset
from hsta_edu.data.torch_data import balanced_sampler
from hsta_edu.training import recipe, set_seed, train
from tests.configs import TINY_16PX_2FRAMES_1STAGE


class Recording(LabelledDataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = np.arange(18) % 3
        self.video = torch.randn(18, 3, 2, 16, 16, generator=g)
        self.special = torch.randn(18, 3, 2, 16, 16, generator=g)
        self.seen: list[int] = []

    def __len__(self) -> int:
        return 18

    def __getitem__(self, i: int):
        self.seen.append(int(i))
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


def test_epochs_draw_the_clips_in_the_order_of_the_tqdm_era_loop():
    """Up to 0.1.0 every epoch iterated ``tqdm.auto.tqdm(loader, disable=True)``, whose constructor
    made (and dropped) one loader iterator: one extra draw from the sampler's generator per epoch.
    `train` keeps that stream (`hsta_edu.progress.legacy_seed_draw`), so old results reproduce."""
    cfg = recipe("fast", epochs=3, batch_size=8, warmup_epochs=0, progress=False)
    data = Recording()
    train(create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE), data, cfg)

    def order(wrap) -> list[int]:
        set_seed(cfg.seed)
        g = torch.Generator().manual_seed(cfg.seed)
        loader = DataLoader(range(18), batch_size=8, sampler=balanced_sampler(data.labels, g), generator=g)
        return [int(i) for _ in range(cfg.epochs) for batch in wrap(loader) for i in batch]

    assert data.seen == order(lambda loader: tqdm(loader, disable=True))
    assert data.seen != order(lambda loader: loader)   # without the extra draw the order would differ
