"""Feature taps by module path (forward hooks): models are never edited for distillation.

``FeatureTaps(model, ["encoders.0", "decoders.1"])`` records those modules' outputs during a
forward pass; with ``stop_early`` the pass is cut after the deepest tapped module fired, so a
teacher used only as a feature extractor does not pay for its unused layers.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn


class _StopForward(Exception):
    pass


class FeatureTaps:
    """Context manager holding forward hooks on ``paths`` of ``model``; removed on exit."""

    def __init__(self, model: nn.Module, paths: Sequence[str]) -> None:
        modules = dict(model.named_modules())
        missing = [p for p in paths if p not in modules]
        if missing:
            raise KeyError(f"no module {missing} in {type(model).__name__}; tap one of {sorted(m for m in modules if m)[:20]}…")
        self.model, self.paths = model, list(paths)
        self.features: dict[str, Tensor] = {}
        self._stop_when_all = False
        self._handles = [modules[p].register_forward_hook(self._hook(p)) for p in self.paths]

    def _hook(self, path: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            self.features[path] = output
            if self._stop_when_all and len(self.features) == len(self.paths):
                raise _StopForward

        return hook

    def run(self, *inputs: Tensor, stop_early: bool = True) -> dict[str, Tensor]:
        """Run the model and return the tapped features (in ``paths`` order)."""
        self.features = {}
        self._stop_when_all = stop_early
        try:
            self.model(*inputs)
        except _StopForward:
            pass
        finally:
            self._stop_when_all = False
        return {p: self.features[p] for p in self.paths}

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "FeatureTaps":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
