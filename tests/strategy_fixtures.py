"""Tiny teachers, route folders and strategy contexts for the strategy tests: seconds, not minutes."""
from __future__ import annotations

from pathlib import Path

import torch
import yaml

from denoise.models import build_model, save_checkpoint
from training.strategies import StrategyContext
from training.strategies.base import sampler_from_config
from training.train import load_recipe
from training_fixtures import TINY_MODEL, tiny_recipe

TINY_TEACHER = {"widths": [8, 16]}


def tiny_student(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("feature_align", **TINY_MODEL)


def save_teacher(path: Path, seed: int, widths=(8, 16), step: int = 0) -> Path:
    torch.manual_seed(seed)
    save_checkpoint(build_model("teacher", widths=list(widths)), path, {"kind": "teacher", "step": step})
    return path


def teacher_route(root: Path, count: int = 4, every: int = 10, total: int | None = None) -> Path:
    """A teacher run folder with ``count`` route checkpoints (distinct random teachers) and its config.yaml."""
    route = root / "route"
    for k in range(1, count + 1):
        save_teacher(route / f"step_{k * every:07d}.pt", seed=100 + k, step=k * every)
    (root / "config.yaml").write_text(yaml.safe_dump({"optim": {"steps": total or count * every}}))
    return route


def tiny_context(tmp: Path, student: torch.nn.Module | None = None, steps: int = 6, **recipe) -> StrategyContext:
    config = load_recipe(tiny_recipe(tmp, steps=steps, **recipe))
    return StrategyContext(student if student is not None else tiny_student(), torch.device("cpu"), config,
                           sampler_from_config(config))
