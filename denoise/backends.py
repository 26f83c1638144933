"""Model runners behind one interface: ``runner(planes, noise) -> planes`` on numpy arrays.

``planes`` is (N, 4, h, w) float32 packed RGGB with h, w multiples of ``runner.stride``;
``noise`` is (N, 8) float32 ``[a×4, b×4]``. The tiling engine only ever talks to this interface.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn


class Runner(Protocol):
    stride: int
    name: str

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray: ...


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` → CUDA if present, else Apple MPS, else CPU; otherwise the named device."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


class TorchRunner:
    """Runs a torch model (eval mode, no grad) on CPU, CUDA or MPS."""

    def __init__(self, model: nn.Module, device: str = "auto", name: str = "torch") -> None:
        self.device = pick_device(device)
        self.model = model.eval().to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.stride = int(getattr(model, "stride", 1))
        self.name = name

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32)).to(self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        n = torch.from_numpy(np.ascontiguousarray(noise, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            return self.model(x, n).float().cpu().numpy()
