"""Noise sub-range specialists: split the range of the shot term a in log space, fine-tune one copy
of the generalist per sub-range (with a small overlap), and score each against the generalist on
its own sub-range.

Result: ``RUN_DIR/specialists.json`` — the selector ``boundaries`` (K-1 ascending values of a, the
rule of :mod:`denoise.selector`, which also splits the range) and per specialist its checkpoint,
training range (core range widened by the overlap), core range, and validation PSNR next to the
generalist's.
"""
from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Sequence


from denoise.models import load_checkpoint
from denoise.selector import RULE, core_ranges, split_boundaries


def split_ranges(a_range: Sequence[float], count: int, overlap: float = 0.1,
                 boundaries: Sequence[float] | None = None) -> tuple[list[float], list[tuple[float, float]], list[tuple[float, float]]]:
    """Selector boundaries (the selector's log-space split unless given), core ranges and overlapping
    training ranges.

    ``overlap`` is the fraction of each core range's log-width added on both sides for training.
    """
    lo, hi = float(a_range[0]), float(a_range[1])
    boundaries = split_boundaries(a_range, count) if boundaries is None else [float(b) for b in boundaries]
    if len(boundaries) != count - 1:
        raise ValueError(f"need {count - 1} ascending boundaries inside {list(a_range)}, got {boundaries}")
    cores = core_ranges(a_range, boundaries)
    train_ranges = []
    for c_lo, c_hi in cores:
        pad = overlap * (math.log(c_hi) - math.log(c_lo))
        train_ranges.append((max(lo, math.exp(math.log(c_lo) - pad)), min(hi, math.exp(math.log(c_hi) + pad))))
    return boundaries, cores, train_ranges


def _levels_in(core: tuple[float, float]) -> list[float]:
    """Three validation levels spread (geometrically) inside a core range."""
    lo, hi = math.log(core[0]), math.log(core[1])
    return [float(math.exp(lo + f * (hi - lo))) for f in (0.15, 0.5, 0.85)]


def train_specialists(config: dict, run_dir: str | os.PathLike, resume: bool = False,
                      max_minutes: float | None = None, progress: bool = True, only: int | None = None,
                      steps: int | None = None) -> dict:
    """Fine-tune the generalist ``config['init']`` on each sub-range; write specialists.json.

    ``only=k`` trains specialist k alone (so K processes can share a machine or a GPU each); the
    summary is written by the call that finds every specialist finished. ``steps`` replaces each
    specialist's ``optim.steps``, also when it resumes.
    """
    from .data import validation_set
    from .train import train, validate

    run_dir = Path(run_dir)
    spec = config.get("specialists") or {}
    if not config.get("init"):
        raise ValueError("a specialists recipe needs 'init': the generalist checkpoint to fine-tune")
    a_range = spec.get("a_range", config["data"]["noise"]["a_range"])
    boundaries, cores, train_ranges = split_ranges(a_range, int(spec.get("count", 4)), float(spec.get("overlap", 0.1)),
                                                   spec.get("boundaries"))
    if only is not None and not 0 <= only < len(cores):
        raise ValueError(f"--specialist {only}: the recipe has specialists 0…{len(cores) - 1}")
    generalist = load_checkpoint(config["init"])
    entries = []
    for k, (core, tr) in enumerate(zip(cores, train_ranges)):
        sub = copy.deepcopy(config)
        sub.pop("specialists", None)
        sub["name"] = f"{config['name']}-s{k}"
        sub["kind"] = "specialist"
        sub["seed"] = int(config["seed"]) + 101 * (k + 1)
        sub["data"]["noise"]["a_range"] = [tr[0], tr[1]]
        sub["validation"]["levels"] = _levels_in(core)
        sub["meta_extra"] = {"specialist": k, "core_range": [core[0], core[1]], "boundaries": boundaries}
        sub_dir = run_dir / f"s{k}"
        done = (sub_dir / "run.json").is_file() and "finished" in json.loads((sub_dir / "run.json").read_text())
        if only is not None and k != only:
            continue
        if not done:
            train(sub, sub_dir, resume=(sub_dir / "latest.pt").is_file() and resume, max_minutes=max_minutes,
                  progress=progress, steps=steps)
            done = "finished" in json.loads((sub_dir / "run.json").read_text())
            if not done:
                return {"paused_at": k}
        val = validation_set(sub["validation"]["levels"], sub["validation"]["scenes"], sub["validation"]["patch"],
                             sub["validation"]["seed"], photos=sub["validation"].get("photos", 0))
        entries.append({"name": f"s{k}", "checkpoint": f"s{k}/best.pt", "a_range": list(tr), "core_range": list(core),
                        "val_psnr": validate(load_checkpoint(sub_dir / "best.pt"), val),
                        "generalist_val_psnr": validate(generalist, val)})
    if only is not None:
        return {"trained": only}
    result = {"generalist": str(config["init"]), "rule": RULE, "boundaries": boundaries,
              "specialists": entries}
    tmp = run_dir / "specialists.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, run_dir / "specialists.json")
    return result
