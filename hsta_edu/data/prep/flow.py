"""Optical flow onset -> apex (flow mode of the special input): DIS, TV-L1 or Farneback."""

from __future__ import annotations

import cv2
import numpy as np

from ...errors import ConfigError, DataError
from .config import FLOW_METHODS


def compute_flow(onset: np.ndarray, apex: np.ndarray, method: str = "dis") -> np.ndarray:
    """Optical flow onset -> apex between two (H, W) uint8 grey images: (H, W, 2) float32 (u, v) in px."""
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(onset, apex, None)
    elif method == "tvl1":
        optflow = getattr(cv2, "optflow", None)
        if optflow is None:
            raise DataError("TV-L1 flow needs cv2.optflow: install opencv-contrib-python-headless>=4.10,<5")
        flow = optflow.DualTVL1OpticalFlow_create().calc(onset, apex, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        raise ConfigError(f"flow method {method!r}: must be one of {FLOW_METHODS}")
    return np.asarray(flow, np.float32)


def flow_at(onset: np.ndarray, apex: np.ndarray, size: int, method: str) -> np.ndarray:
    """Flow between two (size, size, 3) uint8 crops, computed at >= 112 px and returned at ``size``
    in pixels of ``size``: (size, size, 2) float32."""
    work = max(size, 112)
    g0 = cv2.cvtColor(onset, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(apex, cv2.COLOR_RGB2GRAY)
    if work != size:
        g0 = cv2.resize(g0, (work, work), interpolation=cv2.INTER_CUBIC)
        g1 = cv2.resize(g1, (work, work), interpolation=cv2.INTER_CUBIC)
    flow = compute_flow(g0, g1, method)
    if work != size:
        flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) * (size / work)
    return flow
