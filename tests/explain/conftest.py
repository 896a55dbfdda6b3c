import matplotlib
import pytest
import torch

import hsta_edu

matplotlib.use("Agg")

# A very small HSTA: 16 px frames, 8 px patches, 4 video frames -> grids (2, 2, 2) and (1, 2, 2).
TINY = dict(num_classes=3, img_size=16, special_img_size=16, patch_size=8, special_patch_size=8,
            num_frames=4, embed_dim=16, special_embed_dim=16, num_heads=2, special_num_heads=2,
            num_stages=2, video_blocks=2, special_blocks=1, drop_path_rate=0.0)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return hsta_edu.create_model("hsta-tiny", **TINY).eval()


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, 4, 16, 16, generator=g), torch.randn(2, 3, 2, 16, 16, generator=g)
