"""Many-to-many layer mapping by earth mover's distance (the AdaRec / BERT-EMD idea), for denoising.

Every student layer may learn from every teacher layer: the amount it learns from each is the
flow of an optimal transport plan between the student's and the teacher's layer masses (both
start uniform), with ground distances = feature distances between layers. A distance is taken
after a 1×1 projection (student width → teacher width, one per pair) and average-pooling the
finer map to the coarser resolution; both maps are divided by their RMS, so the distance is
symmetric and scale-free. The loss is ``Σ flow·distance`` with the flow held constant (it is
re-solved every step on detached distances); after each step the layer masses move towards the
inverse of each layer's transport cost per unit mass (cheap layers gain mass), with momentum.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..distill import FeatureTaps
from .base import Batch, Strategy, StrategyContext, StrategyError, feature_shapes, frozen_teacher


def transport_plan(cost: np.ndarray, source_mass: np.ndarray, target_mass: np.ndarray) -> np.ndarray:
    """Optimal flow (m, n) minimising ``Σ flow·cost`` with row sums = source, column sums = target mass.

    Solved as a linear programme (HiGHS). Masses are normalised to sum 1; one column constraint is
    implied by the others and is left out so rounding can never make the programme infeasible.
    """
    from scipy.optimize import linprog

    cost = np.asarray(cost, dtype=np.float64)
    m, n = cost.shape
    a = np.asarray(source_mass, dtype=np.float64)
    b = np.asarray(target_mass, dtype=np.float64)
    if a.shape != (m,) or b.shape != (n,) or (a < 0).any() or (b < 0).any() or a.sum() <= 0 or b.sum() <= 0:
        raise StrategyError(f"transport masses must be non-negative vectors of length {m} and {n}")
    a, b = a / a.sum(), b / b.sum()
    rows = np.kron(np.eye(m), np.ones((1, n)))          # Σ_j f_ij = a_i
    cols = np.kron(np.ones((1, m)), np.eye(n))[:-1]     # Σ_i f_ij = b_j (last one implied)
    result = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([a, b[:-1]]),
                     bounds=(0, None), method="highs")
    if result.status != 0:
        raise RuntimeError(f"earth mover's transport did not solve: {result.message}")
    return np.clip(result.x.reshape(m, n), 0.0, None)


def updated_masses(mass: np.ndarray, unit_cost: np.ndarray, momentum: float) -> np.ndarray:
    """Move ``mass`` towards ``1/unit_cost`` (normalised) by ``momentum``; stays a distribution."""
    target = 1.0 / np.maximum(unit_cost, 1e-12)
    target /= target.sum()
    out = (1.0 - momentum) * mass + momentum * target
    return out / out.sum()


def _rms_normalized(x: Tensor) -> Tensor:
    return x / torch.sqrt((x * x).mean() + 1e-12)


def pair_distance(student_feat: Tensor, teacher_feat: Tensor, projection: nn.Module) -> Tensor:
    """Symmetric, scale-free distance between a projected student map and a teacher map at a common resolution."""
    s_size, t_size = student_feat.shape[-1], teacher_feat.shape[-1]
    if s_size > t_size:
        student_feat = F.avg_pool2d(student_feat, s_size // t_size)
    elif t_size > s_size:
        teacher_feat = F.avg_pool2d(teacher_feat, t_size // s_size)
    d = _rms_normalized(projection(student_feat)) - _rms_normalized(teacher_feat)
    return (d * d).mean()


class EMDLayerMapping(Strategy):
    name = "emd"

    def __init__(self, ctx: StrategyContext, teacher: str, student_layers: Sequence[str],
                 teacher_layers: Sequence[str], weight: float = 1.0, momentum: float = 0.1) -> None:
        if not student_layers or not teacher_layers:
            raise StrategyError("emd needs non-empty 'student_layers' and 'teacher_layers'")
        if not 0.0 <= float(momentum) <= 1.0:
            raise StrategyError(f"emd momentum must be in [0, 1], got {momentum}")
        self.ctx, self.weight, self.momentum = ctx, float(weight), float(momentum)
        self.teacher = frozen_teacher(teacher, ctx.device)
        self.student_layers, self.teacher_layers = list(student_layers), list(teacher_layers)
        s_shapes = feature_shapes(ctx.student, self.student_layers)
        t_shapes = feature_shapes(self.teacher, self.teacher_layers)
        self.projections = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(s_shapes[s][0], t_shapes[t][0], 1) for t in self.teacher_layers)
            for s in self.student_layers).to(ctx.device)
        self.student_mass = np.full(len(self.student_layers), 1.0 / len(self.student_layers))
        self.teacher_mass = np.full(len(self.teacher_layers), 1.0 / len(self.teacher_layers))
        self.student_taps = FeatureTaps(ctx.student, self.student_layers)
        self.teacher_taps = FeatureTaps(self.teacher, self.teacher_layers)
        self._distances: np.ndarray | None = None
        self._flow: np.ndarray | None = None

    def student_modules(self) -> list[nn.Module]:
        return [self.projections]

    def distances(self, batch: Batch) -> Tensor:
        """(m, n) layer-to-layer distances of this step (student features from its last forward)."""
        with torch.no_grad():
            t_feats = self.teacher_taps.run(batch.noisy, batch.noise)
        rows = []
        for i, s in enumerate(self.student_layers):
            s_feat = self.student_taps.features[s]
            rows.append(torch.stack([pair_distance(s_feat, t_feats[t], self.projections[i][j])
                                     for j, t in enumerate(self.teacher_layers)]))
        return torch.stack(rows)

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        dist = self.distances(batch)
        self._distances = dist.detach().double().cpu().numpy()
        self._flow = transport_plan(self._distances, self.student_mass, self.teacher_mass)
        flow = torch.from_numpy(self._flow).to(dist)
        return {"emd": self.weight * (flow * dist).sum()}

    def end_step(self, step: int, batch: Batch, pred: Tensor) -> None:
        moved = self._flow * self._distances
        self.student_mass = updated_masses(self.student_mass, moved.sum(1) / self.student_mass, self.momentum)
        self.teacher_mass = updated_masses(self.teacher_mass, moved.sum(0) / self.teacher_mass, self.momentum)

    def status(self) -> dict[str, float]:
        out = {f"mass_s{i}": float(v) for i, v in enumerate(self.student_mass)}
        out.update({f"mass_t{j}": float(v) for j, v in enumerate(self.teacher_mass)})
        return out

    def state_dict(self) -> dict:
        return {"projections": self.projections.state_dict(),
                "student_mass": torch.from_numpy(self.student_mass.copy()),
                "teacher_mass": torch.from_numpy(self.teacher_mass.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.projections.load_state_dict(state["projections"])
        self.student_mass = state["student_mass"].double().numpy().copy()
        self.teacher_mass = state["teacher_mass"].double().numpy().copy()
