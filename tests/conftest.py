import os
from pathlib import Path

import pytest
import torch

# Two xdist workers on a 2-core machine: one thread each avoids oversubscription.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"{SHARED} is absent (it exists only on the development machines)")
    return SHARED
