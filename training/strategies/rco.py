"""Route-constrained optimization (RCO, Jin et al., ICCV 2019), for denoising.

The student is supervised by a sequence of teacher checkpoints taken along the teacher's own
training route, easy (early) to hard (final): the distillation term is the output distillation
``|S(x) − T_anchor(x)|₁`` (noise-normalized). From a route folder, ``count`` anchors are chosen by
the teacher's validation PSNR — early, middle and late in what it learned, ending on the final
teacher — because late checkpoints of a converged teacher are nearly the same function and
anchors spaced by step would all be "the final teacher". Anchors switch either by equal intervals
of the student's schedule, or greedily: every ``check_every`` steps (after it has followed its
first anchor for that long) the student jumps to the furthest anchor whose distillation loss on a
fixed held-out batch is within ``(1 + threshold)`` times its loss against its current anchor — a
margin relative to how far the student is, since an absolute one is met by every anchor once the
student is roughly right (even the noisy input is that close). Either way the anchor index never
decreases and the last phase (``final_phase`` of the steps) uses the final teacher.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from ..losses import output_distillation
from .base import Batch, Strategy, StrategyContext, StrategyError, frozen_teacher, parse_fraction
from .route import checkpoint_step, evenly_spaced, psnr_spaced, route_checkpoints, route_validation_psnr

SCHEDULES = ("equal", "greedy")


def route_anchors(route: str, final: str | None, count: int | None) -> tuple[list[Path], list[float]]:
    """``count`` anchors of a route folder spanning the teacher's validation PSNR, and their PSNRs.

    ``final`` (e.g. the run's best.pt) replaces the route checkpoint of its own step, so the same
    weights are never two anchors; without it the last route checkpoint is the final teacher.
    """
    route_cks = route_checkpoints(route)
    final_step = checkpoint_step(final) if final is not None else None
    points = [(step, p) for step, p in route_cks if step != final_step or final is None]
    if final is not None and Path(final) not in [p for _, p in points]:
        points.append((final_step, Path(final)))
    if count is not None and count >= len(points):
        return [p for _, p in points], []
    psnr = route_validation_psnr(route)
    if final is not None and final_step is None:
        raise StrategyError(f"{final}: records no training step, so its validation PSNR is unknown; "
                            "name a checkpoint written by `denoise train` (best.pt or a route checkpoint)")
    missing = [step for step, _ in points if step not in psnr]
    if missing:
        raise StrategyError(f"{Path(route).parent / 'metrics.jsonl'}: no validation PSNR at route step(s) {missing}; "
                            "train the teacher with schedule.route_every a multiple of val_every")
    values = [psnr[step] for step, _ in points]
    keep = psnr_spaced(values, len(points) if count is None else int(count))
    return [points[i][1] for i in keep], [values[i] for i in keep]


def equal_interval_anchor(step: int, steps: int, anchors: int) -> int:
    """Anchor index at ``step`` when the schedule is cut into ``anchors`` equal phases."""
    return min(anchors - 1, step * anchors // max(1, steps))


class RouteConstrained(Strategy):
    """RCO; ``route`` (a route folder, anchors chosen by validation PSNR) or ``checkpoints`` (a list, used
    in order) are the anchors, ``final`` is appended last; ``count`` anchors in all, the final included."""

    name = "rco"

    def __init__(self, ctx: StrategyContext, route: str | None = None, checkpoints: list[str] | None = None,
                 final: str | None = None, count: int | None = 4, schedule: str = "equal", weight: float = 1.0,
                 threshold: float = 0.25, check_every: int | None = None, final_phase: float | None = None,
                 held_out_scenes: int = 2, held_out_patch: int = 64) -> None:
        if (route is None) == (checkpoints is None):
            raise StrategyError("rco needs exactly one of 'route' (a teacher's route folder) or 'checkpoints' (a list)")
        if schedule not in SCHEDULES:
            raise StrategyError(f"rco schedule must be one of {SCHEDULES}, got {schedule!r}")
        if not float(threshold) >= 0:
            raise StrategyError(f"rco threshold is a relative margin >= 0, got {threshold}")
        if route:
            self.anchors, self.anchor_psnr = route_anchors(route, final, count)
        else:
            paths = [Path(p) for p in checkpoints]
            if final is not None and Path(final) not in paths:
                paths.append(Path(final))
            self.anchors, self.anchor_psnr = evenly_spaced(paths, count), []
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
        if step == 0 or step % self.check_every or self.current == last:
            return self.current  # not at step 0: an untrained student is about as far from every anchor
        losses = self.held_out_losses()
        reach = (1.0 + self.threshold) * losses[self.current]
        return max(j for j in range(self.current, last + 1) if j == self.current or losses[j] <= reach)

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
        return {"anchor": float(self.current),
                **({"anchor_val_psnr": self.anchor_psnr[self.current]} if self.anchor_psnr else {})}

    def state_dict(self) -> dict:
        return {"current": self.current, "history": [list(h) for h in self.history],
                "anchors": [str(p) for p in self.anchors]}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("anchors")  # absent in checkpoints of runs started before anchors were recorded
        if saved is not None and saved != [str(p) for p in self.anchors]:
            raise StrategyError(f"rco: the run was started with anchors {saved} but the recipe now gives "
                                f"{[str(p) for p in self.anchors]}; resume with the same route, final and count")
        self.current = int(state["current"])
        self.history = [list(h) for h in state["history"]]
        self.teacher = frozen_teacher(str(self.anchors[self.current]), self.ctx.device)
