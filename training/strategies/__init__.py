"""Distillation strategies: every term a student learns from a teacher beyond its pixel loss.

Feature matching and output distillation have their own recipe keys; the strategies from the
knowledge-distillation literature (adapted to denoising) are selected by name; all may be combined::

    loss:
      pixel: l1
      feature_matching: {teacher: runs/teacher/best.pt, layers: [encoders.1, encoders.2]}
      output_distill: {teacher: runs/teacher/best.pt, weight: 0.5}
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
from .feature_matching import FeatureMatching
from .output_distill import OutputDistillation
from .rco import RouteConstrained

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    FeatureMatching, OutputDistillation, RouteConstrained, EarlyStoppedKD, AdversarialFeatureDistillation,
    DifferentiableFeatureAggregation, EMDLayerMapping)}
# Recipe keys of ``loss`` that name a strategy directly, in the order their terms are added.
LOSS_KEYS = ("feature_matching", "output_distill")


def build_strategy(spec: dict, ctx: StrategyContext, where: str = "loss.strategy") -> Strategy:
    """The strategy ``spec['name']`` with the other keys of ``spec`` as its options (``where``: its recipe key)."""
    if not isinstance(spec, dict):
        raise StrategyError(f"{where} must be a mapping of options, got {spec!r}")
    options = dict(spec)
    name = options.pop("name", None)
    if name not in STRATEGIES:
        raise StrategyError(f"{where}.name must be one of {sorted(STRATEGIES)}, got {name!r}")
    cls = STRATEGIES[name]
    params = {k: v for k, v in inspect.signature(cls.__init__).parameters.items() if k not in ("self", "ctx")}
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise StrategyError(f"{where}: unknown option(s) {unknown} for {name}; known: {sorted(params)}")
    missing = [k for k, v in params.items() if v.default is inspect.Parameter.empty and k not in options]
    if missing:
        raise StrategyError(f"{where}: {name} needs option(s) {missing}")
    return cls(ctx, **options)


def build_loss_strategies(loss: dict, ctx: StrategyContext) -> dict[str, Strategy]:
    """``{recipe key: strategy}`` for a recipe's ``loss`` block: feature matching, output distillation
    and ``loss.strategy``, in that order (the order of their loss terms)."""
    built = {key: build_strategy({**loss[key], "name": key} if isinstance(loss[key], dict) else loss[key], ctx,
                                 f"loss.{key}")
             for key in LOSS_KEYS if loss.get(key)}
    if loss.get("strategy"):
        built["strategy"] = build_strategy(loss["strategy"], ctx)
    return built


__all__ = ["LOSS_KEYS", "STRATEGIES", "Batch", "Strategy", "StrategyContext", "StrategyError", "build_loss_strategies",
           "build_strategy"]
