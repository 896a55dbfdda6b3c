"""Run by tests/training/test_distributed.py under ``torchrun --nproc_per_node 2`` (and once as a single
process): trains a tiny HSTA on fixed clips and saves rank 0's weights and history.

    python -m torch.distributed.run --nproc_per_node 2 tests/training/ddp_train.py OUT [--stop-after K]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hsta_edu import create_model  # noqa: E402
from hsta_edu.data.labelled import LabelledDataset  # noqa: E402
from hsta_edu.training import recipe, set_seed, train
from tests.configs import TINY_16PX_2FRAMES_1STAGE  # noqa: E402

EPOCHS, BATCH = 3, 8


class FixedClips(LabelledDataset):
    """16 clips, a class-dependent band, no randomness on access (no augmentation)."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = np.arange(16) % 3
        self.video = torch.randn(16, 3, 2, 16, 16, generator=g) * 0.3
        self.special = torch.randn(16, 3, 2, 16, 16, generator=g) * 0.3
        for i, y in enumerate(self.labels):
            self.video[i, :, :, 5 * y:5 * y + 5] += 1.0

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        return self.video[i], self.special[i], torch.tensor(self.labels[i])


class Stop(Exception):
    pass


def main() -> None:
    out = Path(sys.argv[1])
    stop_after = int(sys.argv[sys.argv.index("--stop-after") + 1]) if "--stop-after" in sys.argv else None
    torch.set_num_threads(1)
    set_seed(0)
    model = create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE, drop_path_rate=0.0)
    cfg = recipe("fast", epochs=EPOCHS, batch_size=BATCH, warmup_epochs=1, progress=False, device="cpu")

    def stop(row):
        if stop_after is not None and row["epoch"] == stop_after:
            raise Stop(f"stopped after epoch {row['epoch']}")

    try:
        result = train(model, FixedClips(), cfg, checkpoint_dir=out / "ckpt", callback=stop)
    except Stop:
        sys.exit(3)
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save({"state": result.model.state_dict(), "history": result.history.to_dict(orient="list"),
                    "resumed_from": result.resumed_from}, out / "result.pt")


if __name__ == "__main__":
    main()
