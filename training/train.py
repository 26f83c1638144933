"""The training loop: one recipe in, one self-describing run directory out.

Run directory::

    config.yaml        the resolved recipe (every default filled in), including the seed
    run.json           versions, command line, start/end times, total wall time
    latest.pt          resumable checkpoint (model + optimizer + scheduler + step + distillation-strategy state)
    best.pt            model checkpoint with the best mean validation PSNR (loadable by the SDK)
    route/step_*.pt    model checkpoints along the way (teachers: for route-based distillation)
    metrics.jsonl      one JSON object per log / validation event

Multi-GPU and multi-node: launch with ``torchrun``; each rank draws its own batches
(``PairSampler(rank=…)``) and DistributedDataParallel averages the gradients. Rank 0 writes.
"""
from __future__ import annotations

import copy
import json
import math
import os
import pickle
import platform
import re
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn

from denoise.atomic import atomic_output
from denoise.metrics import psnr
from denoise.models import build_model, load_checkpoint
from denoise.models.registry import CheckpointError, atomic_torch_save, model_record

from .data import DevicePairSampler, PairSampler, PoolSpec, build_pool, validation_set
from .noise_synthesis import NoisePrior
from .run_lock import RunLock
from .losses import PIXEL_LOSSES
from .schedule import lr_at
from .strategies import Batch, Strategy, StrategyContext, build_loss_strategies
from .strategies.base import average_gradients

DEFAULTS: dict[str, Any] = {
    "name": "run",
    "kind": "student",
    "seed": 0,
    "threads": 2,
    "model": {"arch": "feature_align", "config": {}},
    "init": None,
    "branch_from": None,
    "data": {"pool": {"procedural": 2000, "size": 256, "seed": 0, "srgb_dirs": [], "raw_dirs": []},
             "cache_dir": "cache", "workers": 2, "batch": 16, "patch": 128, "sampler": "host",
             "noise": {"a_range": [1e-4, 2e-2], "b_sigma": 0.26}},
    "optim": {"lr": 2e-3, "weight_decay": 0.0, "steps": 1000, "warmup": 100, "grad_clip": 1.0, "min_lr_ratio": 0.02},
    "loss": {"pixel": "l1", "pixel_weight": 1.0, "feature_matching": None, "output_distill": None, "strategy": None},
    "schedule": {"log_every": 20, "val_every": 250, "ckpt_every": 100, "route_every": 0},
    "validation": {"levels": [1e-4, 1e-3, 5e-3, 2e-2], "scenes": 6, "patch": 128, "seed": 0},
}


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _numbers(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; recipes mean the number."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_recipe(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Recipe YAML merged over :data:`DEFAULTS` (and ``overrides``, e.g. from the command line)."""
    with open(path) as f:
        recipe = yaml.safe_load(f) or {}
    if not isinstance(recipe, dict):
        raise ValueError(f"{path}: a recipe is a YAML mapping")
    unknown = set(recipe) - set(DEFAULTS) - {"specialists"}
    if unknown:
        raise ValueError(f"{path}: unknown recipe keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return _numbers(deep_merge(deep_merge(DEFAULTS, recipe), overrides or {}))


@torch.no_grad()
def validate(model: nn.Module, val: list) -> dict[str, float]:
    """Mean raw PSNR per validation level (and their mean), computed on the model's own device."""
    model.eval()
    device = next(model.parameters()).device
    out = {}
    for level, noisy, clean, noise in val:
        noisy, clean, noise = noisy.to(device), clean.to(device), noise.to(device)
        out[f"{level:g}"] = float(np.mean([psnr(model(noisy[i:i + 1], noise[i:i + 1]).cpu().numpy(),
                                                clean[i:i + 1].cpu().numpy()) for i in range(len(noisy))]))
    model.train()
    out["mean"] = float(np.mean(list(out.values())))
    return out


class _Dist:
    """torchrun environment (world size 1 when launched plainly)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "machine": platform.machine(), "cpu_count": os.cpu_count()}


def read_resumable_checkpoint(path: Path, what: str, hint: str) -> dict:
    """A run's ``latest.pt`` (model, optimizer, step), loaded without running code from it.

    ``what`` names the option that points at it and ``hint`` what to do instead; every failure is a
    one-line error naming the file, so a damaged or foreign checkpoint is never a traceback.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        foreign = re.search(r"GLOBAL (\S+)", str(err))
        if foreign:  # weights_only stopped an import a checkpoint of ours never asks for
            raise CheckpointError(f"{what}: {path} was refused: it asks to load the Python object {foreign.group(1)}, "
                                  "which could run code; checkpoints written by `denoise train` hold only tensors "
                                  f"and plain data ({hint})") from None
        raise CheckpointError(f"{what}: {path} is not a torch checkpoint (corrupt: {type(err).__name__}); "
                              f"{hint}") from None
    except Exception as err:  # torch raises several types (and OSError) for truncated or foreign files
        raise CheckpointError(f"{what}: {path} is not a torch checkpoint (truncated or corrupt: {type(err).__name__}); "
                              f"{hint}") from None
    if not isinstance(state, dict) or not {"model", "optimizer", "step"} <= set(state):
        raise CheckpointError(f"{what}: {path} is not a resumable checkpoint (model, optimizer, step); {hint}")
    return state


def _carried_notes(run_dir: Path) -> dict:
    """run.json's notes that outlive one sitting (branch origin, changes of --steps), kept on resume."""
    info = run_dir / "run.json"
    old = json.loads(info.read_text()) if info.is_file() else {}
    return {k: old[k] for k in ("branched_from", "branch_step", "steps_changed") if k in old}


def _starting_point(config: dict, run_dir: Path, resume: bool, steps: int | None) -> tuple[dict, dict | None, dict]:
    """The config to train with, the resumable checkpoint to start from (if any) and notes for run.json.

    Checked before the pool is built: a wrong resume or branch_from fails in seconds, not after minutes.
    """
    latest = run_dir / "latest.pt"
    if resume and not latest.is_file():
        raise FileNotFoundError(f"{latest}: nothing to resume (start without --resume)")
    if not resume and latest.is_file():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    notes: dict = {}
    start = None
    if resume:
        # the run's own resolved config wins: resuming never changes a recipe silently (options added
        # to DEFAULTS since the run started take their default, which is the old behaviour)
        config = deep_merge(DEFAULTS, yaml.safe_load((run_dir / "config.yaml").read_text()))
        start = read_resumable_checkpoint(latest, "--resume", "restore it, or start afresh in another --out")
        notes = _carried_notes(run_dir)
    elif config.get("branch_from"):
        branch = Path(config["branch_from"])
        if not branch.is_file():
            raise FileNotFoundError(f"branch_from: {branch} does not exist; name another run's latest.pt")
        start = read_resumable_checkpoint(branch, "branch_from", "name a run's latest.pt, not a best.pt or a "
                                                                 "route checkpoint")
        notes = {"branched_from": str(branch), "branch_step": int(start["step"])}
    planned = int(config["optim"]["steps"])
    if steps is not None and int(steps) != planned:
        at = int(start["step"]) if start is not None else 0
        if int(steps) < at:
            raise ValueError(f"--steps {steps}: {latest if resume else config['branch_from']} is already at step {at}; "
                             "pass at least that many steps")
        config = deep_merge(config, {"optim": {"steps": int(steps)}})
        if resume:  # from here on the learning-rate schedule (and any strategy's phases) end at the new step
            change = {"at_step": at, "from": planned, "to": int(steps)}
            notes["steps_changed"] = [*notes.get("steps_changed", []), change]
    return config, start, notes


def _sampler(config: dict, ddp: _Dist, device: torch.device, progress: bool) -> PairSampler | DevicePairSampler:
    """The training batch stream: rank 0 builds (and caches) the pool, the other ranks read the cache."""
    data_cfg = config["data"]
    if data_cfg["sampler"] not in ("host", "device"):
        raise ValueError(f"data.sampler must be 'host' or 'device', got {data_cfg['sampler']!r}")
    pool_spec = PoolSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg["pool"].items()})
    if ddp.main:
        pool = build_pool(pool_spec, data_cfg["cache_dir"], data_cfg["workers"], progress)
    ddp.barrier()
    if not ddp.main:
        pool = build_pool(pool_spec, data_cfg["cache_dir"], 1, False)
    prior = NoisePrior(**{k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg["noise"].items()})
    seed = int(config["seed"])
    if data_cfg["sampler"] == "device":
        return DevicePairSampler(pool, prior, data_cfg["batch"], data_cfg["patch"], seed, ddp.rank, device)
    return PairSampler(pool, prior, data_cfg["batch"], data_cfg["patch"], seed, ddp.rank)


def remove_stale_parts(run_dir: Path) -> list[Path]:
    """Delete half-written checkpoint files (``.NAME.*.part``) a killed run left; returns what it removed."""
    stale = [p for folder in (run_dir, run_dir / "route") if folder.is_dir() for p in folder.glob(".*.part")]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def trim_metrics(path: Path, step: int) -> int:
    """Drop metrics rows logged after ``step`` (the checkpoint a resume starts from) and any half-written
    last line, so the resumed run does not log those steps twice; returns how many rows it dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(row, dict) and int(row.get("step", 0)) <= step:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        with atomic_output(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))
    return dropped


class _RunRecord:
    """What rank 0 writes into the run directory (config, run.json, metrics, checkpoints); other ranks write nothing."""

    def __init__(self, run_dir: Path, config: dict, ddp: _Dist, resume: bool, notes: dict, step: int) -> None:
        self.run_dir, self.config, self.writes = run_dir, config, ddp.main
        self.metrics = None
        if not self.writes:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(run_dir)
        if resume:
            trim_metrics(run_dir / "metrics.jsonl", step)
        if not resume or "steps_changed" in notes:
            (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        info = {"name": config["name"], "kind": config["kind"], "seed": int(config["seed"]), "argv": sys.argv,
                "versions": _versions(), "world_size": ddp.world, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **notes}
        (run_dir / "run.json").write_text(json.dumps(info, indent=2))
        self.metrics = open(run_dir / "metrics.jsonl", "a")

    def log(self, event: dict) -> None:
        if self.metrics is not None:
            self.metrics.write(json.dumps(event) + "\n")
            self.metrics.flush()

    def meta(self, step: int) -> dict:
        config = self.config
        return {"name": config["name"], "kind": config["kind"], "step": step, "seed": int(config["seed"]),
                "a_range": list(config["data"]["noise"]["a_range"]), **config.get("meta_extra", {})}

    def save_model(self, model: nn.Module, step: int, name: str) -> None:
        """``best.pt`` or a route checkpoint: the model alone, loadable by the SDK."""
        if self.writes:
            atomic_torch_save(model_record(model, self.meta(step)), self.run_dir / name)

    def save_latest(self, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, best: float, wall_s: float,
                    strategy: Strategy | None) -> None:
        """The resumable ``latest.pt``: model, optimizer, step, best, wall time and the strategy's state."""
        if self.writes:
            atomic_torch_save({"model": model_record(model, self.meta(step)), "optimizer": optimizer.state_dict(),
                               "step": step, "best": best, "wall_s": wall_s,
                               **({"strategy": strategy.state_dict()} if strategy is not None else {})},
                              self.run_dir / "latest.pt")

    def close(self, step: int, steps: int, wall_s: float, best: float) -> None:
        if not self.writes:
            return
        info = json.loads((self.run_dir / "run.json").read_text())
        info.update({"finished" if step >= steps else "paused": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "step": step, "wall_s": wall_s, "best_val_psnr": best})
        (self.run_dir / "run.json").write_text(json.dumps(info, indent=2))
        self.metrics.close()


@dataclass
class _Stepper:
    """One optimizer step of the student: pixel loss plus every strategy's terms, then the strategies' updates."""

    model: nn.Module
    train_model: nn.Module  # the model, wrapped in DistributedDataParallel when there are several ranks
    optimizer: torch.optim.Optimizer
    sampler: PairSampler | DevicePairSampler
    strategies: list[Strategy]
    extra_params: list[torch.Tensor]  # strategies' student-side modules, trained by the student's optimizer
    config: dict
    device: torch.device

    def batch(self, step: int) -> Batch:
        noisy, clean, noise = (t.to(self.device) for t in self.sampler.batch_at(step))
        if self.device.type == "cpu":
            noisy, clean = (t.contiguous(memory_format=torch.channels_last) for t in (noisy, clean))
        return Batch(noisy, clean, noise)

    def __call__(self, step: int, check_finite: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        """Train on batch ``step``; returns the loss, its terms and the batch size."""
        optim_cfg, loss_cfg = self.config["optim"], self.config["loss"]
        for g in self.optimizer.param_groups:
            g["lr"] = lr_at(step, optim_cfg)
        batch = self.batch(step)
        for s in self.strategies:
            s.begin_step(step)
        pred = self.train_model(batch.noisy, batch.noise)
        terms = {"pixel": loss_cfg["pixel_weight"] * PIXEL_LOSSES[loss_cfg["pixel"]](pred, batch.clean, batch.noise)}
        for s in self.strategies:
            if s.teacher_needed(step):
                terms.update(s.loss_terms(step, batch, pred))
        loss = sum(terms.values())
        if check_finite and not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower optim.lr in the recipe")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.extra_params)  # DDP averages only the model's own gradients
        if optim_cfg["grad_clip"]:
            nn.utils.clip_grad_norm_([*self.model.parameters(), *self.extra_params], optim_cfg["grad_clip"])
        self.optimizer.step()
        for s in self.strategies:
            s.end_step(step, batch, pred.detach())
        return loss, terms, batch.noisy.shape[0]


def train(config: dict, run_dir: str | os.PathLike, resume: bool = False, max_minutes: float | None = None,
          progress: bool = True, steps: int | None = None) -> dict:
    """Train per ``config`` into ``run_dir``; returns the last validation result.

    ``resume`` continues from ``run_dir/latest.pt`` (same step, optimizer state and data stream);
    a recipe's ``branch_from`` (another run's resumable ``latest.pt``) starts from that run's model,
    optimizer state and step with this recipe's losses, so two branches of one trunk are compared at
    equal steps on the same schedule;
    ``max_minutes`` stops cleanly (checkpoint written) so a long recipe can span several sittings;
    ``steps`` replaces ``optim.steps``, also of a resumed run (recorded in its config.yaml and run.json).
    The run directory is locked for the run (:mod:`training.run_lock`): a second process gets
    :class:`~training.run_lock.RunBusy` instead of writing the same checkpoints.
    """
    ddp = _Dist()
    with RunLock(run_dir) if ddp.main else nullcontext():
        return _train(config, Path(run_dir), ddp, resume, max_minutes, progress, steps)


def _train(config: dict, run_dir: Path, ddp: _Dist, resume: bool, max_minutes: float | None, progress: bool,
           steps: int | None) -> dict:
    device = torch.device(f"cuda:{ddp.rank % max(1, torch.cuda.device_count())}" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(int(config["threads"]))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: pick the fastest conv kernels once
    config, start, notes = _starting_point(config, run_dir, resume, steps)
    torch.manual_seed(int(config["seed"]))

    model = build_model(config["model"]["arch"], **config["model"]["config"])
    if config.get("init"):
        model.load_state_dict(load_checkpoint(config["init"]).state_dict())
    model = model.to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    optim_cfg = config["optim"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim_cfg["lr"], weight_decay=optim_cfg["weight_decay"])
    sampler = _sampler(config, ddp, device, progress)
    val_cfg = config["validation"]
    val = (validation_set(val_cfg["levels"], val_cfg["scenes"], val_cfg["patch"], val_cfg["seed"],
                          val_cfg.get("photos", 0)) if ddp.main else [])
    strategies = build_loss_strategies(config["loss"], StrategyContext(model, device, config, sampler))
    extra_params = [p for s in strategies.values() for m in s.student_modules() for p in m.parameters()]
    if extra_params:
        optimizer.add_param_group({"params": extra_params})
    stateful = strategies.get("strategy")  # feature matching and output distillation keep no state

    step, best, history_s = 0, -math.inf, 0.0
    if start is not None:
        model.load_state_dict(start["model"]["state_dict"])
        optimizer.load_state_dict(start["optimizer"])
        if stateful is not None and resume:
            stateful.load_state_dict(start["strategy"])
        step, history_s = int(start["step"]), float(start.get("wall_s", 0.0))
        best = float(start["best"]) if resume else -math.inf  # a branch keeps its own best.pt
    train_model: nn.Module = nn.parallel.DistributedDataParallel(model) if ddp.enabled else model
    one_step = _Stepper(model, train_model, optimizer, sampler, list(strategies.values()), extra_params, config, device)
    record = _RunRecord(run_dir, config, ddp, resume, notes, step)

    from tqdm import tqdm

    sched, total = config["schedule"], int(optim_cfg["steps"])
    t0 = time.time()
    bar = tqdm(total=total, initial=step, desc=config["name"], disable=not (progress and ddp.main), dynamic_ncols=True)
    last_val: dict = {}
    window_t, window_n = time.time(), 0
    train_model.train()
    while step < total:
        # on a GPU the loss is checked at log steps only: a per-step sync would stall the launch queue of a small model
        loss, terms, patches = one_step(step, check_finite=device.type == "cpu" or step % sched["log_every"] == 0)
        step += 1
        window_n += patches * ddp.world
        bar.update(1)
        if step % sched["log_every"] == 0:
            rate = window_n / max(time.time() - window_t, 1e-9)
            window_t, window_n = time.time(), 0
            bar.set_postfix(loss=f"{loss.item():.4f}", patches_s=f"{rate:.1f}")
            record.log({"step": step, "loss": loss.item(), **{k: v.item() for k, v in terms.items()},
                        **(stateful.status() if stateful is not None else {}),
                        "lr": optimizer.param_groups[0]["lr"], "patches_per_s": rate,
                        "wall_s": history_s + time.time() - t0})
        if ddp.main and (step % sched["val_every"] == 0 or step == total):
            last_val = validate(model, val)
            record.log({"step": step, "val_psnr": last_val})
            bar.write(f"step {step}: val PSNR " + " ".join(f"{k}={v:.2f}" for k, v in last_val.items()))
            if last_val["mean"] > best:
                best = last_val["mean"]
                record.save_model(model, step, "best.pt")
        if sched["route_every"] and step % sched["route_every"] == 0:
            record.save_model(model, step, f"route/step_{step:07d}.pt")
        out_of_time = max_minutes is not None and (time.time() - t0) > 60 * max_minutes
        if step % sched["ckpt_every"] == 0 or step == total or out_of_time:
            record.save_latest(model, optimizer, step, best, history_s + (time.time() - t0), stateful)
        if out_of_time:
            bar.write(f"stopping at step {step} (--max-minutes {max_minutes}); continue with --resume")
            break
    bar.close()
    ddp.barrier()
    record.close(step, total, history_s + time.time() - t0, best)
    ddp.close()
    return last_val
