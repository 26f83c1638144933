"""``denoise train pipeline``: every shipped model, trained on one machine inside a time budget.

A pipeline recipe (``training/recipes/shipped.yaml``) lists *phases*; a phase starts when the one
before it has finished, and the runs inside a phase are independent and start side by side (one
process each; on a GPU they share it). Each run is an ordinary recipe plus overrides.

Step counts are calibrated, not guessed: before a phase starts, each of its runs trains
``calibration_steps`` steps alone in a scratch directory, and a phase of ``seconds`` gives every
one of its runs ``N = seconds / Σ seconds-per-step`` steps (the sum over the phase's processes, as if
they ran one after the other: a safe bound when they share one accelerator). All runs of a phase get
the same N, so models compared side by side (feature matching vs pixel loss vs plain) have equal
steps. The calibrated recipes are written to ``OUT/recipes/``; re-running them with
``denoise train … --recipe OUT/recipes/NAME.yaml`` reproduces a model without the pipeline.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .train import _numbers, deep_merge, load_recipe, train

PIPELINE_KEYS = {"name", "calibration_steps", "overrides", "phases"}
RUN_KEYS = {"train", "recipe", "set", "route_points"}
EXPORT_CHUNK_BYTES = 15 * 2**20


class PipelineError(ValueError):
    """A pipeline recipe that cannot be run."""


def load_pipeline(path: str | os.PathLike) -> dict:
    """Read and check a pipeline recipe (phases of runs, each ``{train, recipe, set}``)."""
    spec = _numbers(yaml.safe_load(Path(path).read_text()) or {})
    if not isinstance(spec, dict) or set(spec) - PIPELINE_KEYS or "phases" not in spec:
        raise PipelineError(f"{path}: a pipeline recipe is a mapping with 'phases' (known keys: {sorted(PIPELINE_KEYS)})")
    names: set[str] = set()
    for phase in spec["phases"]:
        if set(phase) - {"name", "seconds", "runs"} or not phase.get("runs") or float(phase.get("seconds", 0)) <= 0:
            raise PipelineError(f"{path}: phase {phase.get('name')!r} needs 'seconds' > 0 and 'runs'")
        for name, run in phase["runs"].items():
            if set(run) - RUN_KEYS or run.get("train") not in ("teacher", "student", "specialists") or "recipe" not in run:
                raise PipelineError(f"{path}: run {name!r} needs train: teacher|student|specialists and recipe "
                                    f"(known keys: {sorted(RUN_KEYS)})")
            if name in names:
                raise PipelineError(f"{path}: run name {name!r} is used twice")
            names.add(name)
    spec.setdefault("calibration_steps", 60)
    if int(spec["calibration_steps"]) < 20:
        raise PipelineError(f"{path}: calibration_steps must be ≥ 20 (ten warm-up steps are not timed)")
    spec.setdefault("overrides", {})
    return spec


def run_config(spec: dict, run: dict) -> dict:
    """The run's recipe with the pipeline's and the run's overrides."""
    return load_recipe(run["recipe"], deep_merge(spec["overrides"], run.get("set") or {}))


def seconds_per_step(config: dict, steps: int) -> float:
    """Train ``steps`` steps alone in a scratch dir; seconds per step after the first ten (warm-up)."""
    probe = deep_merge(config, {"optim": {"steps": steps},
                                "schedule": {"log_every": 5, "val_every": 10**9, "ckpt_every": 10**9, "route_every": 0}})
    probe["init"] = None  # timing does not depend on the starting weights (and they may not exist yet)
    probe.pop("specialists", None)
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        train(probe, tmp, progress=False)
        walls = {e["step"]: e["wall_s"] for e in map(json.loads, open(Path(tmp) / "metrics.jsonl")) if "wall_s" in e}
    last = max(walls)
    return (walls[last] - walls[10]) / (last - 10)


def _processes(run: dict, config: dict) -> int:
    return int((config.get("specialists") or {}).get("count", 4)) if run["train"] == "specialists" else 1


def _finished(run_dir: Path) -> bool:
    info = run_dir / "run.json"
    return info.is_file() and "finished" in json.loads(info.read_text())


def _launch(run: dict, recipe: Path, out: Path, log: Path, specialist: int | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "denoise.cli", "train", run["train"], "--recipe", str(recipe), "--out", str(out),
           "--no-progress"]
    if specialist is not None:
        cmd += ["--specialist", str(specialist)]
    return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT)


def export_phase(run_dirs: list[Path], export_dir: Path, phase: str) -> list[Path]:
    """Pack finished run dirs (without the optimizer-carrying ``latest.pt``) into tars of ≤ 15 MiB.

    Members are named relative to the runs' parent (``teacher/best.pt``): extract them into the same
    ``--out`` elsewhere. For copying results off a rented machine whose transfers limit file sizes.
    """
    files = sorted((p, p.relative_to(d.parent)) for d in run_dirs for p in d.rglob("*")
                   if p.is_file() and p.name != "latest.pt")
    chunks: list[list[tuple[Path, Path]]] = [[]]
    size = 0
    for f, name in files:
        if chunks[-1] and size + f.stat().st_size > EXPORT_CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append((f, name))
        size += f.stat().st_size
    export_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, chunk in enumerate(chunks):
        target = export_dir / f"{phase}-{i}.tar"
        tmp = target.with_suffix(".tar.tmp")
        with tarfile.open(tmp, "w") as tar:
            for f, name in chunk:
                tar.add(f, arcname=str(name))
        os.replace(tmp, target)
        written.append(target)
    return written


def run_pipeline(path: str | os.PathLike, out: str | os.PathLike = "runs", resume: bool = False,
                 export_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Run every phase of the pipeline recipe at ``path`` into ``out``; returns the calibration record."""
    spec = load_pipeline(path)
    out = Path(out)
    recipes = out / "recipes"
    recipes.mkdir(parents=True, exist_ok=True)
    record_path = out / "pipeline.json"
    record: dict[str, Any] = json.loads(record_path.read_text()) if resume and record_path.is_file() else {
        "recipe": str(path), "phases": {}}
    for phase in spec["phases"]:
        pname = phase.get("name", "phase")
        runs = phase["runs"]
        dirs = {name: out / name for name in runs}
        if all(_finished(d) or (d / "specialists.json").is_file() for d in dirs.values()):
            continue
        busy = [str(d) for d in dirs.values() if (d / "latest.pt").exists() or (d / "s0").exists()]
        if busy and not resume:
            raise FileExistsError(f"{busy} already hold runs; pass --resume or choose another --out")
        configs = {name: run_config(spec, run) for name, run in runs.items()}
        t0 = time.time()
        if pname in record["phases"]:
            steps = record["phases"][pname]["steps"]
        else:
            rates = {name: seconds_per_step(configs[name], int(spec["calibration_steps"])) for name in runs}
            total = sum(rates[n] * _processes(runs[n], configs[n]) for n in runs)
            steps = max(int(spec["calibration_steps"]), int(float(phase["seconds"]) / total))
            record["phases"][pname] = {"seconds": float(phase["seconds"]), "seconds_per_step": rates, "steps": steps,
                                       "calibration_s": time.time() - t0}
            record_path.write_text(json.dumps(record, indent=2))
        procs = []
        for name, run in runs.items():
            config = deep_merge(configs[name], {"optim": {"steps": steps}})
            if run.get("route_points"):
                config["schedule"]["route_every"] = max(1, steps // int(run["route_points"]))
            recipe = recipes / f"{name}.yaml"
            recipe.write_text(f"# {name}: calibrated by the pipeline {path} (phase {pname})\n"
                              + yaml.safe_dump(config, sort_keys=False))
            if run["train"] == "specialists":
                procs += [(name, k, _launch(run, recipe, dirs[name], out / f"{name}-s{k}.log", k))
                          for k in range(_processes(run, config))]
            else:
                procs.append((name, None, _launch(run, recipe, dirs[name], out / f"{name}.log")))
        if progress:
            print(f"phase {pname}: {len(procs)} processes × {steps} steps", flush=True)
        failed = [(n, k) for n, k, p in procs if p.wait() != 0]
        if failed:
            raise RuntimeError(f"phase {pname}: runs {failed} failed; see their logs in {out}")
        for name, run in runs.items():  # specialists: the summary (ranges, scores) once all are trained
            if run["train"] == "specialists":
                subprocess.run([sys.executable, "-m", "denoise.cli", "train", "specialists", "--recipe",
                                str(recipes / f"{name}.yaml"), "--out", str(dirs[name]), "--no-progress"], check=True)
        record["phases"][pname]["wall_s"] = time.time() - t0
        record_path.write_text(json.dumps(record, indent=2))
        if export_dir is not None:
            export_phase(list(dirs.values()), Path(export_dir), pname)
        if progress:
            print(f"phase {pname}: done in {time.time() - t0:.0f} s", flush=True)
    return record
