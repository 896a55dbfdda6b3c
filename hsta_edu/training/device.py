"""Device choice: the GPU when there is one, else the CPU."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def pick_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` if given ("cpu", "cuda", "cuda:1", "mps"), else cuda > mps > cpu.
    ConfigError for a name torch does not know, or a device this machine does not have."""
    if prefer not in (None, "auto"):
        return _checked(str(prefer))
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {name!r} is not a device name; use cpu, cuda, cuda:1 or mps "
                          "(or leave it out for the best available)") from None
    if device.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ConfigError(f"device {name!r}: this machine has no CUDA GPU that torch can use "
                              f"(torch {torch.__version__}); use cpu or leave the device out")
        if device.index is not None and device.index >= n:
            raise ConfigError(f"device {name!r}: this machine has {n} CUDA GPU(s) (cuda:0..cuda:{n - 1})")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device {name!r}: Apple's MPS is not available here; use cpu")
    elif device.type != "cpu":
        raise ConfigError(f"device {name!r}: hsta_edu runs on cpu, cuda or mps")
    return device


def describe_device(device: torch.device | str | None = None) -> str:
    """One line naming the device, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    device = pick_device(None if device is None else str(device))
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
