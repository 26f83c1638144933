"""Route-constrained optimization (RCO, Jin et al., ICCV 2019), for denoising.

The student is supervised by a sequence of teacher checkpoints taken along the teacher's own
training route, easy (early) to hard (final): the distillation term is the output distillation
``|S(x) − T_anchor(x)|₁`` (noise-normalized). Anchors switch either by equal intervals of the
student's schedule, or greedily: every ``check_every`` steps the student jumps to the furthest
checkpoint whose distillation loss on a fixed held-out batch is within ``threshold``. Either way
the anchor index never decreases and the last phase (``final_phase`` of the steps) uses the
final teacher.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from ..losses import output_distillation
from .base import Batch, Strategy, StrategyContext, StrategyError, frozen_teacher, parse_fraction
from .route import evenly_spaced, route_checkpoints

SCHEDULES = ("equal", "greedy")


def equal_interval_anchor(step: int, steps: int, anchors: int) -> int:
    """Anchor index at ``step`` when the schedule is cut into ``anchors`` equal phases."""
    return min(anchors - 1, step * anchors // max(1, steps))


class RouteConstrained(Strategy):
    """RCO; ``route`` (a route folder) or ``checkpoints`` (a list) are the anchors, ``final`` is appended last."""

    name = "rco"

    def __init__(self, ctx: StrategyContext, route: str | None = None, checkpoints: list[str] | None = None,
                 final: str | None = None, count: int | None = None, schedule: str = "equal", weight: float = 1.0,
                 threshold: float = 0.3, check_every: int | None = None, final_phase: float | None = None,
                 held_out_scenes: int = 2, held_out_patch: int = 64) -> None:
        if (route is None) == (checkpoints is None):
            raise StrategyError("rco needs exactly one of 'route' (a teacher's route folder) or 'checkpoints' (a list)")
        if schedule not in SCHEDULES:
            raise StrategyError(f"rco schedule must be one of {SCHEDULES}, got {schedule!r}")
        paths = [p for _, p in route_checkpoints(route)] if route else [Path(p) for p in checkpoints]
        if final is not None and Path(final) not in paths:
            paths.append(Path(final))
        self.anchors = evenly_spaced(paths, count)
        for p in self.anchors:
            if not p.is_file():
                raise StrategyError(f"{p}: no such teacher checkpoint for rco")
        self.ctx, self.schedule, self.weight = ctx, schedule, float(weight)
        self.threshold = float(threshold)
        m = len(self.anchors)
        self.check_every = int(check_every or max(1, ctx.steps // (2 * m)))
        phase = parse_fraction(final_phase if final_phase is not None else 1.0 / m, "rco final_phase")
        self.final_start = math.floor((1.0 - phase) * ctx.steps)
        self.current = 0
        self.history: list[list[int]] = [[0, 0]]
        self.teacher = frozen_teacher(str(self.anchors[0]), ctx.device)
        self._held_out: Batch | None = None
        self._anchor_outputs: list[Tensor] = []
        if schedule == "greedy":
            self._held_out = ctx.held_out(held_out_scenes, held_out_patch)
            with torch.no_grad():
                for p in self.anchors:
                    self._anchor_outputs.append(frozen_teacher(str(p), ctx.device)(self._held_out.noisy,
                                                                                     self._held_out.noise))

    def held_out_losses(self) -> list[float]:
        """The student's distillation loss against every anchor on the held-out batch."""
        student = self.ctx.student
        with torch.no_grad():
            out = student(self._held_out.noisy, self._held_out.noise)
        return [output_distillation(out, t, self._held_out.noise).item() for t in self._anchor_outputs]

    def _next_anchor(self, step: int) -> int:
        last = len(self.anchors) - 1
        if step >= self.final_start:
            return last
        if self.schedule == "equal":
            return max(self.current, equal_interval_anchor(step, self.ctx.steps, len(self.anchors)))
        if step % self.check_every or self.current == last:
            return self.current
        losses = self.held_out_losses()
        within = [j for j in range(self.current, last + 1) if losses[j] <= self.threshold]
        return max(within, default=self.current)

    def begin_step(self, step: int) -> None:
        nxt = self._next_anchor(step)
        if nxt != self.current:
            self.current = nxt
            self.history.append([step, nxt])
            self.teacher = frozen_teacher(str(self.anchors[nxt]), self.ctx.device)

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            target = self.teacher(batch.noisy, batch.noise)
        return {"rco": self.weight * output_distillation(pred, target, batch.noise)}

    def status(self) -> dict[str, float]:
        return {"anchor": float(self.current)}

    def state_dict(self) -> dict:
        return {"current": self.current, "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.current = int(state["current"])
        self.history = [list(h) for h in state["history"]]
        self.teacher = frozen_teacher(str(self.anchors[self.current]), self.ctx.device)
