"""``denoise eval runs``: training runs side by side — validation PSNR at equal steps, cost, time.

Ablations trained on the same seed (same batches) and schedule are compared step for step on the
run's own validation set (held-out procedural scenes), including runs that were paused early;
the held-out benchmark (``eval synth``) scores the finished checkpoints.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from .results import ResultsError, results_header, write_json


def _loss_summary(loss: dict) -> str:
    parts = [str(loss.get("pixel", "l1"))]
    if loss.get("feature_matching"):
        fm = loss["feature_matching"]
        parts.append(f"feature matching ({', '.join(fm['layers'])}; ×{fm.get('weight', 1.0)})")
    if loss.get("output_distill"):
        parts.append(f"output distillation (×{loss['output_distill'].get('weight', 1.0)})")
    if loss.get("strategy"):
        parts.append(str(loss["strategy"].get("name")))
    return " + ".join(parts)


def _read_run(run_dir: Path) -> tuple[dict, dict, list[dict]]:
    """``config.yaml``, ``run.json`` and the ``metrics.jsonl`` events of a run dir."""
    import yaml

    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        info = json.loads((run_dir / "run.json").read_text())
        events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise ResultsError(f"{run_dir}: not a training run dir (config.yaml, run.json, metrics.jsonl): {err}") from None
    return config, info, events


def _progress(info: dict, events: list[dict]) -> tuple[int, float]:
    """Steps reached and wall time; a killed run's run.json has neither yet, its log has the last ones."""
    step = info.get("step") or max((int(e["step"]) for e in events if "step" in e), default=0)
    wall = info.get("wall_s") or max((e["wall_s"] for e in events if "wall_s" in e), default=0.0)
    return step, wall


def describe_run(run_dir: str | os.PathLike) -> dict:
    """One run dir: model cost, loss, seed, steps reached, wall time and its validation events."""
    from denoise.models import count_macs_per_megapixel, count_params, load_checkpoint

    run_dir = Path(run_dir)
    config, info, events = _read_run(run_dir)
    if (run_dir / "best.pt").is_file():
        model = load_checkpoint(run_dir / "best.pt")
    else:  # paused before its first validation: the architecture is in the resumable checkpoint
        import torch

        from denoise.models.registry import model_from_record

        model = model_from_record(torch.load(run_dir / "latest.pt", map_location="cpu", weights_only=True)["model"],
                                  str(run_dir / "latest.pt"))
    step, wall = _progress(info, events)
    val = {}
    for e in events:  # a branch's metrics continue its trunk's steps; the last event per step wins
        if "val_psnr" in e:
            val[int(e["step"])] = e["val_psnr"]
    return {"run": run_dir.as_posix(), "name": config["name"], "arch": model.arch, "config": model.config,
            "params": count_params(model), "macs_per_mp": count_macs_per_megapixel(model),
            "loss": _loss_summary(config["loss"]), "seed": config["seed"], "steps": config["optim"]["steps"],
            "step": step, "finished": "finished" in info, "wall_s": wall,
            "branched_from": info.get("branched_from"), "branch_step": info.get("branch_step"),
            "val": {str(k): v for k, v in sorted(val.items())}}


def describe_specialists(run_dir: str | os.PathLike) -> dict:
    """A specialists run (``specialists.json``): each specialist against its generalist on its own sub-range."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "specialists.json").read_text())
    rows = []
    for s in summary["specialists"]:
        _config, info, events = _read_run(run_dir / s["name"])
        steps, wall = _progress(info, events)
        rows.append({"name": s["name"], "core_range": s["core_range"], "a_range": s["a_range"],
                     "val_psnr": s["val_psnr"], "generalist_val_psnr": s["generalist_val_psnr"],
                     "steps": steps, "wall_s": wall})
    return {"run": run_dir.as_posix(), "generalist": summary["generalist"], "boundaries": summary["boundaries"],
            "specialists": rows}


def run_training_report(run_dirs: Sequence[str | os.PathLike], out_json: str | os.PathLike,
                        command: str = "") -> dict:
    """Describe every run (and specialists run) and write the results JSON ``eval report`` renders."""
    if not run_dirs:
        raise ResultsError("name at least one run dir, e.g. runs/student_pixel runs/student_plain")
    runs = [d for d in run_dirs if not (Path(d) / "specialists.json").is_file()]
    specialists = [describe_specialists(d) for d in run_dirs if (Path(d) / "specialists.json").is_file()]
    data = {**results_header("training", command), "runs": [describe_run(d) for d in runs],
            "specialists": specialists}
    write_json(out_json, data)
    return data
