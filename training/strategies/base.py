"""What a distillation strategy gives the training loop, and the pieces strategies share.

Each step the training loop asks the strategy whether it needs its teacher
(or its peers) now, adds the strategy's loss terms to the student's loss, and after the student's
optimizer step lets the strategy update what it owns (discriminators, peers, anchors, layer
masses). Student-side helpers (1×1 adapters, regressors, projections) are returned by
:meth:`Strategy.student_modules` and trained by the student's own optimizer; anything adversarial
or searched has its own optimizer inside the strategy. ``state_dict`` goes into ``latest.pt`` so
``--resume`` continues a strategy exactly where it stopped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Iterable, NamedTuple, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from denoise.models import load_checkpoint

from ..data import PairSampler, PoolSpec, build_pool, validation_set
from ..noise_synthesis import NoisePrior
from ..losses import PIXEL_LOSSES
from ..schedule import lr_at

# Held-out scenes come from the validation stream with this seed offset: never trained on, and
# distinct from the scenes that pick best.pt.
HELD_OUT_SEED_OFFSET = 1


class StrategyError(ValueError):
    """A strategy configuration that cannot be used (bad option, missing checkpoint, shape mismatch)."""


class Batch(NamedTuple):
    noisy: Tensor
    clean: Tensor
    noise: Tensor


@dataclass
class StrategyContext:
    """What a strategy may use: the (unwrapped) student, the device, the resolved recipe, the data stream."""

    student: nn.Module
    device: torch.device
    config: dict
    sampler: PairSampler

    @property
    def steps(self) -> int:
        return int(self.config["optim"]["steps"])

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    def pixel_loss(self, pred: Tensor, target: Tensor, noise: Tensor) -> Tensor:
        return PIXEL_LOSSES[self.config["loss"]["pixel"]](pred, target, noise)

    def lr_at(self, step: int) -> float:
        return lr_at(step, self.config["optim"])

    def sampler_with_seed(self, offset: int) -> PairSampler:
        """The same pool and noise prior, another batch stream (for inner searches)."""
        return self.sampler.with_seed(self.sampler.seed + offset)

    def held_out(self, scenes: int = 2, patch: int = 64) -> Batch:
        """A fixed batch of never-trained scenes at the validation noise levels (for greedy choices and searches)."""
        val = self.config["validation"]
        return held_out_batch(val["levels"], scenes, patch, int(val["seed"]) + HELD_OUT_SEED_OFFSET, self.device)


def held_out_batch(levels: Sequence[float], scenes: int, patch: int, seed: int, device: torch.device) -> Batch:
    parts = validation_set(levels, scenes, patch, seed)
    return Batch(*(torch.cat([p[i] for p in parts]).to(device) for i in (1, 2, 3)))


def sampler_from_config(config: dict, seed_offset: int = 0, progress: bool = False) -> PairSampler:
    """The training batch stream a recipe describes (pool cached as in training)."""
    data = config["data"]
    spec = PoolSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["pool"].items()})
    pool = build_pool(spec, data["cache_dir"], data["workers"], progress)
    prior = NoisePrior(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["noise"].items()})
    return PairSampler(pool, prior, data["batch"], data["patch"], int(config["seed"]) + seed_offset)


class Strategy:
    """Base class: a named distillation strategy selected by ``loss.strategy: {name: …}`` in a recipe."""

    name: ClassVar[str] = ""

    def student_modules(self) -> list[nn.Module]:
        """Modules trained together with the student by its optimizer (adapters, regressors)."""
        return []

    def teacher_needed(self, step: int) -> bool:
        """Whether this step runs the teacher (or peers) and adds distillation terms."""
        return True

    def begin_step(self, step: int) -> None:
        """Before the student's forward (anchor switches, one-off searches)."""

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        """Weighted loss terms for the student, given its output ``pred`` of this step."""
        raise NotImplementedError

    def end_step(self, step: int, batch: Batch, pred: Tensor) -> None:
        """After the student's optimizer step (discriminator and peer updates, mass updates)."""

    def status(self) -> dict[str, float]:
        """Numbers worth logging with the loss (current anchor, layer masses…)."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Shared pieces


def frozen_teacher(path: str, device: torch.device) -> nn.Module:
    """A teacher checkpoint in eval mode without gradients."""
    teacher = load_checkpoint(path).to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def set_trainable(modules: Iterable[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def feature_distance(pred: Tensor, target: Tensor) -> Tensor:
    """L1 between feature maps, divided by the target's mean magnitude (as the feature-matching loss)."""
    return (pred - target).abs().mean() / (target.abs().mean().detach() + 1e-6)


def feature_shapes(model: nn.Module, paths: Sequence[str], size: int = 64) -> dict[str, tuple[int, int]]:
    """``{path: (channels, downscale)}`` of tapped modules, from one probe forward on a ``size`` input."""
    from ..distill import FeatureTaps

    device = next(model.parameters()).device
    stride = int(getattr(model, "stride", 1))
    size = max(size, stride) // stride * stride
    was_training = model.training
    with FeatureTaps(model, paths) as taps, torch.no_grad():
        feats = taps.run(torch.zeros(1, 4, size, size, device=device), torch.full((1, 8), 1e-3, device=device),
                         stop_early=False)
    model.train(was_training)
    return {p: (int(f.shape[1]), size // int(f.shape[-1])) for p, f in feats.items()}


def average_gradients(params: Iterable[Tensor]) -> None:
    """All-reduce (mean) gradients of modules outside DistributedDataParallel; no-op in one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr


def parse_fraction(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise StrategyError(f"{what} must be a fraction in [0, 1], got {value}")
    return value
