"""Tiny models and one shared ONNX export for the export tests (the dynamo exporter takes seconds)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from denoise.models import build_model, save_checkpoint

TINY = {"widths": [8, 16], "enc_blocks": [0, 1], "dec_blocks": [1], "fa_hidden": [4, 4]}
_EXPORTS: dict[str, tuple[nn.Module, Path]] = {}


def tiny_model(seed: int = 0, widths: list[int] | None = None) -> nn.Module:
    """A random tiny Feature-Align student whose modulation heads are non-zero (unlike a fresh init),
    so every path of the graph — noise conditioning, γ/β, skip, bilinear up — carries signal."""
    torch.manual_seed(seed)
    model = build_model("feature_align", **{**TINY, **({"widths": widths} if widths else {})})
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


def tiny_checkpoint(path: Path, seed: int, a_range: tuple[float, float],
                    core_range: tuple[float, float] | None = None) -> Path:
    meta = {"a_range": list(a_range), **({"core_range": list(core_range)} if core_range else {})}
    save_checkpoint(tiny_model(seed), path, meta)
    return path


def shared_onnx(tmp_path_factory) -> tuple[nn.Module, Path]:
    """The tiny model and its fp32 ONNX file, exported once per test session."""
    from export.onnx import export_onnx

    if "tiny" not in _EXPORTS:
        model = tiny_model(0)
        path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
        export_onnx(model, path)
        _EXPORTS["tiny"] = (model, path)
    return _EXPORTS["tiny"]
