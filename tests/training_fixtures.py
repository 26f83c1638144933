"""Tiny recipes for training tests: seconds, not minutes."""
from __future__ import annotations

from pathlib import Path

import yaml

TINY_MODEL = {"widths": [8, 16], "enc_blocks": [0, 1], "dec_blocks": [1], "fa_hidden": [4, 4]}


def tiny_recipe(tmp: Path, name: str = "tiny", steps: int = 6, **extra) -> Path:
    recipe = {
        "name": name, "kind": extra.pop("kind", "student"), "seed": 7, "threads": 1,
        "model": extra.pop("model", {"arch": "feature_align", "config": TINY_MODEL}),
        "data": {"pool": {"procedural": 6, "size": 64, "seed": 5}, "cache_dir": str(tmp / "cache"), "workers": 1,
                 "batch": 2, "patch": 32, "noise": {"a_range": [1.0e-4, 2.0e-2]}},
        "optim": {"lr": 1.0e-3, "steps": steps, "warmup": 2},
        "schedule": {"log_every": 2, "val_every": 3, "ckpt_every": 3, "route_every": 3},
        "validation": {"levels": [1.0e-3, 1.0e-2], "scenes": 1, "patch": 32},
        **extra,
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path
