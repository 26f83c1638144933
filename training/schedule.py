"""The learning-rate schedule every training loop and strategy optimizer follows."""
from __future__ import annotations

import math


def lr_at(step: int, optim: dict) -> float:
    """Linear warm-up then cosine decay to ``min_lr_ratio·lr`` at ``steps``.

    Strategies with their own optimizers (discriminators, peers) follow the same curve so their
    updates stay in step with the student's.
    """
    lr, steps, warmup = optim["lr"], optim["steps"], max(1, optim["warmup"])
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    lo = optim["min_lr_ratio"]
    return lr * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t)))
