"""Differentiable feature aggregation (DFA, Guan et al., ECCV 2020), for denoising.

Instead of one teacher layer per student level, the student's feature at a level (through a 1×1
regressor) is distilled towards a softmax-weighted aggregation of *all* the teacher's feature maps
at that resolution (every activation output, found by a probe forward, unless ``candidates`` lists
them). The weights are searched first, DARTS-style with first-order bi-level updates: network
weights (a copy of the student, regressors, projections) step on training batches, the
aggregation logits on a held-out split, both with the bridge loss

* student→teacher: the student's feature regresses the aggregation (can the student learn it?);
* teacher→student: the aggregation, projected to the student's width, replaces the student's
  feature and runs through the rest of the student to the pixel loss (does it carry the task?).

Searching with the student's plain loss alone collapses onto shallow layers; the two opposing
paths are what keeps the search honest. Then the student (untouched by the search) is distilled
with the found weights, which stay frozen.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import Tensor, nn

from denoise.models import build_model

from ..distill import FeatureTaps
from .base import (Batch, Strategy, StrategyContext, StrategyError, feature_distance, feature_shapes, frozen_teacher,
                   set_trainable)

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.GELU, nn.SiLU)
SEARCH_SEED_OFFSET = 7919  # the search's own batch stream


def activation_maps(model: nn.Module, size: int = 64) -> list[tuple[str, int, int]]:
    """``[(path, channels, downscale)]`` of every activation output of ``model``, in execution order."""
    device = next(model.parameters()).device
    size = max(size, model.stride) // model.stride * model.stride
    seen: dict[str, tuple[int, int]] = {}

    def record(path: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            seen.setdefault(path, (int(output.shape[1]), size // int(output.shape[-1])))

        return hook

    handles = [m.register_forward_hook(record(p)) for p, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 4, size, size, device=device), torch.full((1, 8), 1e-3, device=device))
    finally:
        for h in handles:
            h.remove()
    return [(p, c, s) for p, (c, s) in seen.items()]


def aggregate(teacher_feats: Sequence[Tensor], weights: Tensor) -> Tensor:
    """``Σ_j weights[j] · teacher_feats[j]`` (maps of one shape)."""
    out = weights[0] * teacher_feats[0]
    for w, f in zip(weights[1:], teacher_feats[1:]):
        out = out + w * f
    return out


def aggregated_hint_loss(student_feat: Tensor, regressor: nn.Module, teacher_feats: Sequence[Tensor],
                         weights: Tensor) -> Tensor:
    """Student→teacher distance: the regressed student feature against the weighted aggregation."""
    return feature_distance(regressor(student_feat), aggregate(teacher_feats, weights))


def fresh_copy(model: nn.Module) -> nn.Module:
    """Same architecture and weights, without the original's hooks (deepcopy would copy them)."""
    clone = build_model(model.arch, **model.config).to(next(model.parameters()).device)
    clone.load_state_dict(model.state_dict())
    return clone.train()


def run_with_replacement(net: nn.Module, path: str, replacement: Tensor, batch: Batch) -> Tensor:
    """``net``'s output when module ``path`` outputs ``replacement`` instead of its own result."""
    handle = dict(net.named_modules())[path].register_forward_hook(lambda m, i, o: replacement)
    try:
        return net(batch.noisy, batch.noise)
    finally:
        handle.remove()


class DifferentiableFeatureAggregation(Strategy):
    name = "dfa"

    def __init__(self, ctx: StrategyContext, teacher: str, student_layers: Sequence[str],
                 candidates: dict[str, list[str]] | None = None, weight: float = 1.0, search_steps: int = 200,
                 alpha_lr: float = 3e-2, search_lr: float | None = None, held_out_scenes: int = 2,
                 held_out_patch: int = 64) -> None:
        self.ctx, self.weight = ctx, float(weight)
        self.teacher = frozen_teacher(teacher, ctx.device)
        self.student_layers = list(student_layers)
        s_shapes = feature_shapes(ctx.student, self.student_layers)
        maps = activation_maps(self.teacher)
        channels = {p: c for p, c, _ in maps}
        self.groups: list[list[str]] = []
        for path in self.student_layers:
            if candidates and path in candidates:
                group = list(candidates[path])
                unknown = [p for p in group if p not in channels]
                if unknown:
                    raise StrategyError(f"dfa candidates {unknown} are not activation outputs of the teacher")
            else:
                group = [p for p, _, s in maps if s == s_shapes[path][1]]
            if not group or len({channels[p] for p in group}) != 1:
                raise StrategyError(f"dfa: teacher maps at the resolution of {path!r} are "
                                    f"{[(p, channels.get(p)) for p in group]}; list 'candidates' of one width")
            self.groups.append(group)
        self.teacher_taps = FeatureTaps(self.teacher, sorted({p for g in self.groups for p in g}))
        self.student_taps = FeatureTaps(ctx.student, self.student_layers)
        widths = [(s_shapes[p][0], channels[g[0]]) for p, g in zip(self.student_layers, self.groups)]
        self.alphas = nn.ParameterList(nn.Parameter(torch.zeros(len(g), device=ctx.device)) for g in self.groups)
        self.regressors = nn.ModuleList(nn.Conv2d(cs, ct, 1) for cs, ct in widths).to(ctx.device)
        self.projectors = nn.ModuleList(nn.Conv2d(ct, cs, 1) for cs, ct in widths).to(ctx.device)
        self.search_steps, self.alpha_lr = int(search_steps), float(alpha_lr)
        self.search_lr = float(search_lr or ctx.config["optim"]["lr"])
        self.held_out_size = (int(held_out_scenes), int(held_out_patch))
        self.searched = self.search_steps == 0

    def student_modules(self) -> list[nn.Module]:
        return [self.regressors]

    def aggregation_weights(self) -> list[Tensor]:
        """Per student layer, the softmax weights over its teacher candidates (each sums to 1)."""
        return [torch.softmax(a, dim=0) for a in self.alphas]

    def _teacher_groups(self, batch: Batch) -> list[list[Tensor]]:
        with torch.no_grad():
            feats = self.teacher_taps.run(batch.noisy, batch.noise)
        return [[feats[p] for p in g] for g in self.groups]

    def bridge_loss(self, net: nn.Module, taps: FeatureTaps, regressors: nn.ModuleList, batch: Batch,
                    teacher_groups: list[list[Tensor]], weights: list[Tensor]) -> tuple[Tensor, Tensor]:
        """(student output, bridge loss): student→teacher regression + teacher→student task loss per level."""
        out = net(batch.noisy, batch.noise)
        total = out.new_zeros(())
        for l, path in enumerate(self.student_layers):
            agg = aggregate(teacher_groups[l], weights[l])
            total = total + feature_distance(regressors[l](taps.features[path]), agg)
            through = run_with_replacement(net, path, self.projectors[l](agg), batch)
            total = total + self.ctx.pixel_loss(through, batch.clean, batch.noise)
        return out, total / len(self.student_layers)

    def search(self) -> None:
        """First-order bi-level search of the aggregation logits (the student itself is not changed)."""
        net = fresh_copy(self.ctx.student)
        regressors = copy.deepcopy(self.regressors)
        lower = [net, regressors, self.projectors]
        w_opt = torch.optim.Adam([p for m in lower for p in m.parameters()], lr=self.search_lr)
        a_opt = torch.optim.Adam(self.alphas.parameters(), lr=self.alpha_lr)
        sampler = self.ctx.sampler_with_seed(SEARCH_SEED_OFFSET)
        held = self.ctx.held_out(*self.held_out_size)
        held_teacher = self._teacher_groups(held)
        with FeatureTaps(net, self.student_layers) as taps:
            for k in range(self.search_steps):
                batch = Batch(*(t.to(self.ctx.device) for t in sampler.batch_at(k)))
                weights = [w.detach() for w in self.aggregation_weights()]
                out, bridge = self.bridge_loss(net, taps, regressors, batch, self._teacher_groups(batch), weights)
                loss = self.ctx.pixel_loss(out, batch.clean, batch.noise) + bridge
                w_opt.zero_grad(set_to_none=True)
                loss.backward()
                w_opt.step()
                set_trainable(lower, False)
                _, bridge = self.bridge_loss(net, taps, regressors, held, held_teacher, self.aggregation_weights())
                a_opt.zero_grad(set_to_none=True)
                bridge.backward()
                a_opt.step()
                set_trainable(lower, True)
        self.alphas.requires_grad_(False)
        self.searched = True

    def begin_step(self, step: int) -> None:
        if not self.searched:
            self.search()

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        groups = self._teacher_groups(batch)
        weights = [w.detach() for w in self.aggregation_weights()]
        loss = sum(aggregated_hint_loss(self.student_taps.features[p], r, g, w)
                   for p, r, g, w in zip(self.student_layers, self.regressors, groups, weights))
        return {"dfa": self.weight * loss / len(self.student_layers)}

    def status(self) -> dict[str, float]:
        return {f"dfa_w{l}.{j}": float(v) for l, w in enumerate(self.aggregation_weights()) for j, v in enumerate(w)}

    def state_dict(self) -> dict:
        return {"searched": self.searched, "alphas": [a.detach().clone() for a in self.alphas],
                "regressors": self.regressors.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.searched = bool(state["searched"])
        with torch.no_grad():
            for a, saved in zip(self.alphas, state["alphas"]):
                a.copy_(saved)
        self.alphas.requires_grad_(not self.searched)
        self.regressors.load_state_dict(state["regressors"])

