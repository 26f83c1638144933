"""``denoise train compare``: every distillation strategy against the plain feature-matching student
and the pixel-loss-only student, at equal budget, scored on the held-out benchmark.

A comparison recipe (``training/recipes/compare.yaml``) names a base student recipe (model, data,
optimizer, validation), a step count and ≥ 2 seeds, and its *arms*: each arm replaces the loss
(and may replace the model). Two generated groups of arms are optional: the capacity-gap study
(one arm per given teacher checkpoint, the loss template's ``"{teacher}"`` filled in) and the
cost-aware student search (one search per penalty weight, then the chosen student retrained with
the reference arm's loss). Output directory::

    compare.yaml            the resolved comparison recipe (resume reuses it)
    search/penalty_*.json   searched students (config, MACs, parameters, search time)
    runs/<arm>/seed<k>/     one ordinary training run dir per arm and seed
    benchmark.json (+ png)  the synthetic benchmark of every run, the teachers and the noisy input
    compare.json            per arm: PSNR per level (mean ± std over seeds), training wall time,
                            Δ against the reference arm; capacity-gap and Pareto (PSNR vs MACs) tables

Re-running with ``--resume`` continues: finished runs and searches are kept, a paused run resumes.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import yaml

from evaluation.benchset import BENCH_A, scene_group
from evaluation.results import results_header, write_json
from denoise.models import build_model, count_macs_per_megapixel, count_params, load_checkpoint

from .run_lock import RunBusy
from .strategies import StrategyError
from .train import DEFAULTS, _numbers, deep_merge, load_recipe, train

COMPARE_KEYS = {"name", "base", "steps", "seeds", "reference", "benchmark", "arms", "capacity_gap", "student_search"}
CHECKPOINT_KEYS = ("teacher", "route", "final", "checkpoints", "init")
TEACHER_PLACEHOLDER = "{teacher}"


class CompareError(ValueError):
    """A comparison recipe that cannot be run."""


# ---------------------------------------------------------------------------------------------
# The recipe


def load_compare(path: str | os.PathLike, steps: int | None = None) -> dict:
    """Read and check a comparison recipe; ``base`` is resolved into ``base_config``."""
    path = Path(path)
    try:
        spec = _numbers(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError) as err:
        raise CompareError(f"{path}: cannot read the comparison recipe ({err})".splitlines()[0]) from None
    if not isinstance(spec, dict):
        raise CompareError(f"{path}: a comparison recipe is a YAML mapping")
    unknown = set(spec) - COMPARE_KEYS
    if unknown:
        raise CompareError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(COMPARE_KEYS)}")
    for key in ("base", "seeds", "arms"):
        if key not in spec:
            raise CompareError(f"{path}: missing '{key}'")
    if steps:
        spec["steps"] = steps
    spec.setdefault("name", path.stem)
    seeds = spec["seeds"]
    if not isinstance(seeds, list) or len(set(seeds)) < 2:
        raise CompareError(f"{path}: 'seeds' must list at least 2 different seeds, got {seeds}")
    if not isinstance(spec["arms"], dict) or not spec["arms"]:
        raise CompareError(f"{path}: 'arms' maps arm names to {{loss: …, model: …}}")
    for arm, body in spec["arms"].items():
        if not isinstance(body, dict) or "loss" not in body or set(body) - {"loss", "model"}:
            raise CompareError(f"{path}: arm {arm!r} needs 'loss' (and optionally 'model'), got {body}")
    spec.setdefault("reference", next(iter(spec["arms"])))
    if spec["reference"] not in spec["arms"]:
        raise CompareError(f"{path}: reference arm {spec['reference']!r} is not among the arms {list(spec['arms'])}")
    spec["base_config"] = load_recipe(spec["base"])
    if spec["base_config"].get("branch_from"):
        raise CompareError(f"{path}: base {spec['base']} branches from another run (branch_from); arms train from "
                           "scratch at equal steps, so use a base recipe without branch_from")
    spec.setdefault("steps", spec["base_config"]["optim"]["steps"])
    bench = {"scenes": 4, "size": 512, "levels": list(BENCH_A), **(spec.get("benchmark") or {})}
    spec["benchmark"] = bench
    return spec


def _fill(value: Any, teacher: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, teacher) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, teacher) for v in value]
    return teacher if value == TEACHER_PLACEHOLDER else value


def _group(arm: dict) -> str:
    """A recipe arm's group: a strategy, a student of the searched family (e.g. one narrowed by hand to a
    budget, listed in the Pareto table), or a baseline."""
    if arm["loss"].get("strategy"):
        return "strategy"
    return "search" if arm.get("model", {}).get("arch") == "searched" else "baseline"


def arms(spec: dict, searched: dict[str, dict] | None = None) -> dict[str, dict]:
    """Every arm ``{group, loss, model[, teacher]}``: the recipe's, the capacity-gap and the searched ones."""
    base_model = spec["base_config"]["model"]
    out = {name: {"group": _group(body), "loss": body["loss"], "model": body.get("model", base_model)}
           for name, body in spec["arms"].items()}
    gap = spec.get("capacity_gap")
    if gap:
        for teacher, ckpt in gap["teachers"].items():
            out[f"gap-{teacher}"] = {"group": "capacity_gap", "loss": _fill(gap["loss"], str(ckpt)),
                                     "model": base_model, "teacher": teacher}
    for name, result in (searched or {}).items():
        out[name] = {"group": "search", "loss": spec["arms"][spec["reference"]]["loss"],
                     "model": {"arch": "searched", "config": result["config"]}}
    return out


def run_config(spec: dict, arm: dict, arm_name: str, seed: int) -> dict:
    """The training recipe of one arm and seed: the base recipe with the arm's loss/model, steps and seed."""
    cfg = deep_merge(spec["base_config"], {"name": f"{spec['name']}-{arm_name}-s{seed}", "seed": int(seed),
                                           "optim": {"steps": int(spec["steps"])}, "schedule": {"route_every": 0}})
    cfg["loss"] = deep_merge(DEFAULTS["loss"], copy.deepcopy(arm["loss"]))
    cfg["model"] = copy.deepcopy(arm["model"])
    cfg["init"] = None
    return cfg


def _checkpoint_paths(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in CHECKPOINT_KEYS and isinstance(v, str):
                yield v
            elif k in CHECKPOINT_KEYS and isinstance(v, list):
                yield from (p for p in v if isinstance(p, str))
            else:
                yield from _checkpoint_paths(v)
    elif isinstance(value, list):
        for v in value:
            yield from _checkpoint_paths(v)


def check_inputs(spec: dict) -> None:
    """Fail before the first run, not an hour in, when a teacher, route or checkpoint is missing."""
    missing = sorted({p for arm in arms(spec).values() for p in _checkpoint_paths(arm["loss"]) if not Path(p).exists()})
    if missing:
        raise CompareError(f"missing teacher checkpoints or route folders {missing}; train the teachers first "
                           "(denoise train teacher --recipe …) or fix the paths in the comparison recipe")


# ---------------------------------------------------------------------------------------------
# Running


def _finished(run_dir: Path) -> bool:
    info = run_dir / "run.json"
    return info.is_file() and "finished" in json.loads(info.read_text())


def _search(spec: dict, out: Path) -> dict[str, dict]:
    """One student search per penalty weight (kept in ``search/`` so a resumed comparison reuses them)."""
    from .strategies.student_search import search_space, search_student

    cfg = spec.get("student_search")
    if not cfg:
        return {}
    found = {}
    for weight in cfg["penalty_weights"]:
        path = out / "search" / f"penalty_{float(weight):g}.json"
        if not path.is_file():
            recipe = deep_merge(spec["base_config"], {"loss": spec["arms"][spec["reference"]]["loss"]})
            result = search_student(recipe, search_space(cfg["space"], recipe), float(weight), int(cfg["steps"]),
                                    float(cfg.get("arch_lr", 0.05)), cfg.get("tau", (5.0, 0.5)))
            write_json(path, result)
        found[f"search-{float(weight):g}"] = json.loads(path.read_text())
    return found


def run_compare(spec: dict | None, out_dir: str | os.PathLike, resume: bool = False, max_minutes: float | None = None,
                progress: bool = True, command: str = "", only: list[str] | None = None) -> dict:
    """Train every arm × seed, benchmark them, write ``compare.json``; returns it (or ``{'paused': …}``).

    ``spec`` comes from :func:`load_compare`; with ``resume`` the one saved in ``out_dir`` is used instead.
    ``only`` trains just those arms and stops before the benchmark (``{'trained': …}``), so several
    processes can share one comparison; runs another process holds (:mod:`training.run_lock`) are
    skipped (``{'busy': …}``), and the call that finds every run finished writes the results.
    """
    out = Path(out_dir)
    saved = out / "compare.yaml"
    if resume and not saved.is_file():
        raise FileNotFoundError(f"{saved}: nothing to resume (start without --resume)")
    if not resume and saved.is_file():
        raise FileExistsError(f"{out} already holds a comparison; pass --resume to continue it or choose another --out")
    if resume:
        spec = yaml.safe_load(saved.read_text())
    else:
        check_inputs(spec)
        out.mkdir(parents=True, exist_ok=True)
        tmp = saved.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(spec, sort_keys=False))
        os.replace(tmp, saved)
    start = time.time()
    searched = _search(spec, out)
    plan = arms(spec, searched)
    unknown = sorted(set(only or ()) - set(plan))
    if unknown:
        raise CompareError(f"--arm {', '.join(unknown)}: the comparison in {out} has the arms {list(plan)}")
    busy = []
    for name, arm in plan.items():
        if only and name not in only:
            continue
        for seed in spec["seeds"]:
            run_dir = out / "runs" / name / f"seed{seed}"
            if _finished(run_dir):
                continue
            left = None if max_minutes is None else max_minutes - (time.time() - start) / 60
            if left is not None and left <= 0:
                return {"paused": f"{name}/seed{seed}"}
            try:
                train(run_config(spec, arm, name, seed), run_dir, resume=(run_dir / "latest.pt").is_file(),
                      max_minutes=left, progress=progress)
            except RunBusy:
                busy.append(f"{name}/seed{seed}")
                continue
            if not _finished(run_dir):
                return {"paused": f"{name}/seed{seed}"}
    if only:
        return {"trained": list(only), **({"busy": busy} if busy else {})}
    if busy:
        return {"busy": busy}
    bench = _benchmark(spec, plan, out, progress, command)
    result = summarize(spec, plan, searched, out, bench, command)
    write_json(out / "compare.json", result)
    return result


def _benchmark(spec: dict, plan: dict, out: Path, progress: bool, command: str) -> dict:
    from evaluation.methods import identity_method, method_from_spec
    from evaluation.metrics import run_synth_benchmark

    methods = [identity_method()]
    for name in plan:
        for seed in spec["seeds"]:
            best = out / "runs" / name / f"seed{seed}" / "best.pt"
            methods.append(dataclasses.replace(method_from_spec(f"model:{best}"), name=f"{name}/s{seed}"))
    for teacher, ckpt in (spec.get("capacity_gap") or {}).get("teachers", {}).items():
        methods.append(dataclasses.replace(method_from_spec(f"model:{ckpt}"), name=f"teacher:{teacher}"))
    b = spec["benchmark"]
    return run_synth_benchmark(methods, int(b["scenes"]), [float(a) for a in b["levels"]], out / "benchmark.json",
                               progress, int(b["size"]), command)


# ---------------------------------------------------------------------------------------------
# Results


def _per_level(bench: dict, method: str, metric: str) -> list[float]:
    rows = sorted((r for r in bench["results"] if r["method"] == method), key=lambda r: r["level"])
    return [float(r[metric]) for r in rows]


def _per_level_by_group(bench: dict, method: str) -> dict[str, list[float]]:
    """Raw PSNR per benchmark scene group (photographs, bright un-WB, …) and level, mean over its scenes."""
    out: dict[str, list[float]] = {}
    for r in sorted((r for r in bench["results"] if r["method"] == method), key=lambda r: r["level"]):
        groups: dict[str, list[float]] = {}
        for p in r["per_scene"]:
            groups.setdefault(scene_group(p["scene"]), []).append(p["raw_psnr"])
        for g, vals in groups.items():
            out.setdefault(g, []).append(float(np.mean(vals)))
    return out


def _model_cost(model: dict) -> dict:
    net = build_model(model["arch"], **model.get("config", {}))
    return {"arch": model["arch"], "params": count_params(net), "macs_per_mp": count_macs_per_megapixel(net)}


def pareto_flags(points: list[tuple[float, float]]) -> list[bool]:
    """Per (cost, quality) point: True when no other point is at most as costly and at least as good, one strictly."""
    return [not any(c2 <= c and q2 >= q and (c2 < c or q2 > q) for c2, q2 in points) for c, q in points]


def shipped_student(spec: dict) -> dict:
    """``{arch, config}`` of the student that ships: ``student_search.shipped`` (a recipe), else the base recipe's."""
    recipe = (spec.get("student_search") or {}).get("shipped")
    model = load_recipe(recipe)["model"] if recipe else spec["base_config"]["model"]
    return {"arch": model["arch"], "config": model.get("config", {})}


def same_student(a: dict, b: dict) -> bool:
    """Whether two ``{arch, config}`` models are the same network (a Feature-Align student equals its searched form)."""
    from denoise.models.searched import searched_config

    def form(model: dict) -> tuple[str, dict]:
        try:
            return "searched", searched_config(model["arch"], model.get("config", {}))
        except ValueError:  # a model the search cannot express (the plain ablation, a teacher): as written
            return model["arch"], build_model(model["arch"], **model.get("config", {})).config

    return form(a) == form(b)


def search_space_holds(spec: dict, model: dict) -> bool:
    """Whether the comparison's search space can express ``model`` (the Pareto table's shipped point)."""
    from .strategies.student_search import search_space, space_contains

    return space_contains(search_space(spec["student_search"]["space"], spec["base_config"]), model["arch"],
                          model["config"])


def summarize(spec: dict, plan: dict, searched: dict, out: Path, bench: dict, command: str) -> dict:
    """The ``compare`` results document (rendered into BENCHMARKS.md by ``denoise eval report``)."""
    rows = []
    for name, arm in plan.items():
        runs = []
        for seed in spec["seeds"]:
            run_dir = out / "runs" / name / f"seed{seed}"
            info = json.loads((run_dir / "run.json").read_text())
            psnr = _per_level(bench, f"{name}/s{seed}", "raw_psnr")
            runs.append({"seed": seed, "run": str(run_dir.relative_to(out)), "wall_s": info["wall_s"],
                         "steps": info["step"], "best_val_psnr": info["best_val_psnr"], "raw_psnr": psnr,
                         "raw_psnr_by_group": _per_level_by_group(bench, f"{name}/s{seed}"),
                         "mean_raw_psnr": float(np.mean(psnr)),
                         "mean_srgb_psnr": float(np.mean(_per_level(bench, f"{name}/s{seed}", "srgb_psnr")))})
        levels = np.array([r["raw_psnr"] for r in runs])
        means = np.array([r["mean_raw_psnr"] for r in runs])
        by_group = {}
        for g in runs[0]["raw_psnr_by_group"]:
            per_seed = np.array([r["raw_psnr_by_group"][g] for r in runs])
            by_group[g] = {"raw_psnr_mean": per_seed.mean(0).tolist(), "raw_psnr_std": per_seed.std(0, ddof=1).tolist(),
                           "mean": float(per_seed.mean()), "std": float(per_seed.mean(1).std(ddof=1))}
        rows.append({"name": name, "group": arm["group"], "loss": arm["loss"], "model": _model_cost(arm["model"]),
                     **({"teacher": arm["teacher"]} if "teacher" in arm else {}), "runs": runs,
                     "raw_psnr_mean": levels.mean(0).tolist(), "raw_psnr_std": levels.std(0, ddof=1).tolist(),
                     "mean_raw_psnr": float(means.mean()), "std_mean_raw_psnr": float(means.std(ddof=1)),
                     "by_group": by_group,
                     "mean_srgb_psnr": float(np.mean([r["mean_srgb_psnr"] for r in runs])),
                     "wall_s_mean": float(np.mean([r["wall_s"] for r in runs]))})
    reference = next(r for r in rows if r["name"] == spec["reference"])
    for r in rows:
        r["delta_vs_reference"] = r["mean_raw_psnr"] - reference["mean_raw_psnr"]
    gap = []
    for teacher, ckpt in (spec.get("capacity_gap") or {}).get("teachers", {}).items():
        arm_row = next(r for r in rows if r["name"] == f"gap-{teacher}")
        net = load_checkpoint(ckpt)
        cost = _model_cost({"arch": net.arch, "config": net.config})
        gap.append({"teacher": teacher, "checkpoint": str(ckpt), **cost,
                    "teacher_raw_psnr": float(np.mean(_per_level(bench, f"teacher:{teacher}", "raw_psnr"))),
                    "arm": arm_row["name"], "student_raw_psnr": arm_row["mean_raw_psnr"],
                    "student_std": arm_row["std_mean_raw_psnr"]})
    shipped = shipped_student(spec)
    front = [r for r in rows if r["group"] == "search" or r["name"] == spec["reference"]]  # reference: base student
    flags = pareto_flags([(r["model"]["macs_per_mp"], r["mean_raw_psnr"]) for r in front]) if searched else []
    pareto = [{"arm": r["name"], "macs_per_mp": r["model"]["macs_per_mp"], "params": r["model"]["params"],
               "mean_raw_psnr": r["mean_raw_psnr"], "std_mean_raw_psnr": r["std_mean_raw_psnr"], "pareto": f,
               "shipped": same_student(plan[r["name"]]["model"], shipped),
               **({"penalty_weight": searched[r["name"]]["penalty_weight"],
                   "search_wall_s": searched[r["name"]]["wall_s"]} if r["name"] in searched else {})}
              for r, f in zip(front, flags)]
    b = spec["benchmark"]
    return {**results_header("compare", command), "name": spec["name"], "base": spec["base"],
            "steps": int(spec["steps"]), "seeds": list(spec["seeds"]), "reference": spec["reference"],
            "benchmark": {"scenes": int(b["scenes"]), "size": int(b["size"]), "levels": bench["levels"],
                          "results": (out / "benchmark.json").as_posix()},
            "noisy_raw_psnr": _per_level(bench, "noisy", "raw_psnr"), "arms": rows, "capacity_gap": gap,
            "pareto": pareto, **({"search_space_holds_shipped": search_space_holds(spec, shipped)} if searched else {})}


def compare_from_cli(recipe: Path, out: Path | None, resume: bool, max_minutes: float | None, steps: int | None,
                     progress: bool, only: list[str] | None = None) -> int:
    """``denoise train compare``: load (or resume) and run; prints where the results are."""
    out = out or Path("runs") / recipe.stem
    command = shlex.join(["denoise", "train", "compare", "--recipe", str(recipe), "--out", str(out),
                          *(["--steps", str(steps)] if steps else [])])
    spec = None if resume else load_compare(recipe, steps)
    saved = out / "compare.yaml"
    planned = int(yaml.safe_load(saved.read_text())["steps"]) if resume and steps and saved.is_file() else steps
    if planned != steps:
        raise CompareError(f"--steps {steps}: the comparison in {out} trains every arm for {planned} steps and "
                           "compares them at equal steps; resume it without --steps, or start another --out")
    try:
        result = run_compare(spec, out, resume=resume, max_minutes=max_minutes, progress=progress, command=command,
                             only=only)
    except StrategyError as err:
        raise CompareError(f"{recipe}: {err}") from None
    if "paused" in result:
        print(f"paused at {result['paused']}; continue with: {command} --resume")
    elif "busy" in result or "trained" in result:
        busy = f"; other processes are training {', '.join(result['busy'])}" if result.get("busy") else ""
        print(f"trained {', '.join(result.get('trained', [])) or 'every free run'}{busy}; when every run is "
              f"finished, write the benchmark with: {command} --resume")
    else:
        print(f"results: {out / 'compare.json'} (render with: denoise eval report --results {out})")
    return 0
