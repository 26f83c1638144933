"""Distillation strategies from the knowledge-distillation literature, adapted to denoising.

A recipe selects one by name next to the pixel (and feature-matching) loss::

    loss:
      pixel: l1
      strategy: {name: rco, route: runs/teacher/route, final: runs/teacher/best.pt, schedule: greedy}

The cost-aware student search is not a loss: see :mod:`training.strategies.student_search`.
"""
from __future__ import annotations

import inspect

from .afd import AdversarialFeatureDistillation
from .base import Batch, Strategy, StrategyContext, StrategyError
from .dfa import DifferentiableFeatureAggregation
from .emd import EMDLayerMapping
from .eskd import EarlyStoppedKD
from .rco import RouteConstrained

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    RouteConstrained, EarlyStoppedKD, AdversarialFeatureDistillation, DifferentiableFeatureAggregation,
    EMDLayerMapping)}


def build_strategy(spec: dict, ctx: StrategyContext) -> Strategy:
    """The strategy ``spec['name']`` with the other keys of ``spec`` as its options."""
    options = dict(spec)
    name = options.pop("name", None)
    if name not in STRATEGIES:
        raise StrategyError(f"loss.strategy.name must be one of {sorted(STRATEGIES)}, got {name!r}")
    cls = STRATEGIES[name]
    params = {k: v for k, v in inspect.signature(cls.__init__).parameters.items() if k not in ("self", "ctx")}
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise StrategyError(f"loss.strategy: unknown option(s) {unknown} for {name}; known: {sorted(params)}")
    missing = [k for k, v in params.items() if v.default is inspect.Parameter.empty and k not in options]
    if missing:
        raise StrategyError(f"loss.strategy: {name} needs option(s) {missing}")
    return cls(ctx, **options)


__all__ = ["STRATEGIES", "Batch", "Strategy", "StrategyContext", "StrategyError", "build_strategy"]
