import matplotlib
import pytest
import torch

import hsta_edu

from ..configs import TINY_16PX_4FRAMES

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return hsta_edu.create_model("hsta-tiny", **TINY_16PX_4FRAMES).eval()


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, 4, 16, 16, generator=g), torch.randn(2, 3, 2, 16, 16, generator=g)
