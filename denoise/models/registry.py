"""Build a model by architecture name and load/save checkpoints that know their own config.

A checkpoint is a plain dict (loadable with ``torch.load(weights_only=True)``)::

    {"format": "rawdenoise-model", "version": 1, "arch": "feature_align", "config": {...},
     "state_dict": {...}, "meta": {...}}

``meta`` holds what training knows (noise range, step, seed, recipe name); ``training/`` adds
optimizer state under other keys in its own resumable checkpoints.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .feature_align import FeatureAlignStudent
from .searched import SearchedStudent
from .teacher import UNetTeacher

FORMAT = "rawdenoise-model"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a usable rawdenoise model checkpoint."""


def _plain_student(**config: Any) -> FeatureAlignStudent:
    return FeatureAlignStudent(**{**config, "feature_align": False})


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "feature_align": FeatureAlignStudent,
    "plain": _plain_student,
    "teacher": UNetTeacher,
    "searched": SearchedStudent,  # blocks chosen by training/strategies/student_search.py
}


def build_model(arch: str, **config: Any) -> nn.Module:
    """Instantiate ``arch`` with explicit constructor arguments; the model records them as ``.config``."""
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    if arch == "plain":
        config = {k: v for k, v in config.items() if k != "feature_align"}
    model = ARCHITECTURES[arch](**config)
    model.arch = arch  # type: ignore[assignment]
    return model


def model_record(model: nn.Module, meta: dict | None = None) -> dict:
    """The checkpoint dict of ``model`` (weights, architecture, config, meta)."""
    config = {k: v for k, v in model.config.items() if not (getattr(model, "arch", "") == "plain" and k == "feature_align")}
    return {"format": FORMAT, "version": VERSION, "arch": model.arch, "config": config,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": dict(meta or {})}


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    from ..atomic import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(model: nn.Module, path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write a weights-only model checkpoint atomically."""
    atomic_torch_save(model_record(model, meta), path)


def model_from_record(record: dict, source: str = "checkpoint") -> nn.Module:
    """Rebuild a model from a checkpoint dict, with clear errors for anything that does not fit."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{source}: not a rawdenoise model checkpoint (no '{FORMAT}' header)")
    if record.get("version") != VERSION:
        raise CheckpointError(f"{source}: checkpoint version {record.get('version')} is not supported "
                              f"(this SDK reads version {VERSION})")
    try:
        model = build_model(record["arch"], **record["config"])
        model.load_state_dict(record["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{source}: checkpoint does not match its architecture: {err}") from None
    model.meta = dict(record.get("meta", {}))  # type: ignore[assignment]
    return model.eval()


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a model checkpoint with ``torch.load(weights_only=True)``: no code runs from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: cannot read model checkpoint ({type(err).__name__}: {err})".splitlines()[0]) from None
    if isinstance(record, dict) and record.get("format") != FORMAT and isinstance(record.get("model"), dict):
        record = record["model"]  # a resumable training checkpoint holds the model record under "model"
    return model_from_record(record, str(path))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs_per_megapixel(model: nn.Module, bayer_size: int = 512) -> float:
    """MACs per Bayer megapixel, counted by torch's FLOP counter (FLOPs / 2) on a square input."""
    from torch.utils.flop_counter import FlopCounterMode

    h = bayer_size // 2
    x = torch.zeros(1, 4, h, h)
    noise = torch.full((1, 8), 1e-3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(x, noise)
    return counter.get_total_flops() / 2 / (bayer_size * bayer_size / 1e6)
