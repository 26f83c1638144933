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
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn

from denoise.models import build_model, load_checkpoint
from denoise.models.registry import atomic_torch_save, model_record

from .data import DevicePairSampler, NoisePrior, PairSampler, PoolSpec, build_pool, validation_set
from .losses import PIXEL_LOSSES, FeatureMatchingLoss, output_distillation
from .strategies.base import Batch, average_gradients

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


def lr_at(step: int, optim: dict) -> float:
    """Linear warm-up then cosine decay to ``min_lr_ratio·lr`` at ``steps``."""
    lr, steps, warmup = optim["lr"], optim["steps"], max(1, optim["warmup"])
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    lo = optim["min_lr_ratio"]
    return lr * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t)))


def raw_psnr(pred: torch.Tensor, clean: torch.Tensor) -> float:
    """PSNR on the normalized [0, 1] scale (both clipped), as in the DND raw track."""
    mse = ((pred.clamp(0, 1) - clean.clamp(0, 1)) ** 2).mean().item()
    return 10 * math.log10(1.0 / max(mse, 1e-20))


@torch.no_grad()
def validate(model: nn.Module, val: list) -> dict[str, float]:
    """Mean raw PSNR per validation level (and their mean), computed on the model's own device."""
    model.eval()
    device = next(model.parameters()).device
    out = {}
    for level, noisy, clean, noise in val:
        noisy, clean, noise = noisy.to(device), clean.to(device), noise.to(device)
        out[f"{level:g}"] = float(np.mean([raw_psnr(model(noisy[i:i + 1], noise[i:i + 1]), clean[i:i + 1])
                                           for i in range(len(noisy))]))
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


def _resumable_checkpoint(path: Path) -> dict:
    """A run's ``latest.pt`` (model, optimizer, step) to branch from, or a clear error."""
    if not path.is_file():
        raise FileNotFoundError(f"branch_from: {path} does not exist; name another run's latest.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for files that are not checkpoints
        raise ValueError(f"branch_from: {path} is not a torch checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or not {"model", "optimizer", "step"} <= set(state):
        raise ValueError(f"branch_from: {path} is not a resumable checkpoint (model, optimizer, step); "
                         "name a run's latest.pt, not a best.pt or a route checkpoint")
    return state


def _branch_record(run_dir: Path, resume: bool, branch: str | None, step: int) -> dict:
    """run.json's note of where a branched run came from (kept when the branch is later resumed)."""
    if branch:
        return {"branched_from": str(branch), "branch_step": step}
    info = run_dir / "run.json"
    old = json.loads(info.read_text()) if resume and info.is_file() else {}
    return {k: old[k] for k in ("branched_from", "branch_step") if k in old}


def train(config: dict, run_dir: str | os.PathLike, resume: bool = False, max_minutes: float | None = None,
          progress: bool = True) -> dict:
    """Train per ``config`` into ``run_dir``; returns the last validation result.

    ``resume`` continues from ``run_dir/latest.pt`` (same step, optimizer state and data stream);
    a recipe's ``branch_from`` (another run's resumable ``latest.pt``) starts from that run's model,
    optimizer state and step with this recipe's losses, so two branches of one trunk are compared at
    equal steps on the same schedule;
    ``max_minutes`` stops cleanly (checkpoint written) so a long recipe can span several sittings.
    """
    run_dir = Path(run_dir)
    ddp = _Dist()
    device = torch.device(f"cuda:{ddp.rank % max(1, torch.cuda.device_count())}" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(int(config["threads"]))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: pick the fastest conv kernels once
    latest = run_dir / "latest.pt"
    if resume and not latest.is_file():
        raise FileNotFoundError(f"{latest}: nothing to resume (start without --resume)")
    if not resume and latest.is_file():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        # the run's own resolved config wins: resuming never changes a recipe silently (options added
        # to DEFAULTS since the run started take their default, which is the old behaviour)
        config = deep_merge(DEFAULTS, yaml.safe_load((run_dir / "config.yaml").read_text()))
    branch = None if resume else config.get("branch_from")
    # checked before the pool is built: a wrong branch_from fails in seconds, not after minutes
    start = (torch.load(latest, map_location="cpu", weights_only=True) if resume
             else _resumable_checkpoint(Path(branch)) if branch else None)
    seed = int(config["seed"])
    torch.manual_seed(seed)

    model = build_model(config["model"]["arch"], **config["model"]["config"])
    if config.get("init"):
        model.load_state_dict(load_checkpoint(config["init"]).state_dict())
    model = model.to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    optim_cfg = config["optim"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim_cfg["lr"], weight_decay=optim_cfg["weight_decay"])

    data_cfg = config["data"]
    pool_spec = PoolSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg["pool"].items()})
    if ddp.main:
        pool = build_pool(pool_spec, data_cfg["cache_dir"], data_cfg["workers"], progress)
    ddp.barrier()
    if not ddp.main:
        pool = build_pool(pool_spec, data_cfg["cache_dir"], 1, False)
    noise_cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in data_cfg["noise"].items()}
    prior = NoisePrior(**noise_cfg)
    if data_cfg["sampler"] == "device":
        sampler = DevicePairSampler(pool, prior, data_cfg["batch"], data_cfg["patch"], seed, ddp.rank, device)
    elif data_cfg["sampler"] == "host":
        sampler = PairSampler(pool, prior, data_cfg["batch"], data_cfg["patch"], seed, ddp.rank)
    else:
        raise ValueError(f"data.sampler must be 'host' or 'device', got {data_cfg['sampler']!r}")
    val_cfg = config["validation"]
    val = validation_set(val_cfg["levels"], val_cfg["scenes"], val_cfg["patch"], val_cfg["seed"]) if ddp.main else []

    loss_cfg = config["loss"]
    pixel_loss = PIXEL_LOSSES[loss_cfg["pixel"]]
    fm = fm_weight = None
    if loss_cfg.get("feature_matching"):
        fmc = loss_cfg["feature_matching"]
        fm = FeatureMatchingLoss(load_checkpoint(fmc["teacher"]).to(device), fmc["layers"], fmc.get("weights"),
                                 fmc.get("norm", "l1"))
        fm_weight = float(fmc.get("weight", 1.0))
    od_teacher = od_weight = None
    if loss_cfg.get("output_distill"):
        odc = loss_cfg["output_distill"]
        od_teacher = load_checkpoint(odc["teacher"]).to(device).eval()
        od_weight = float(odc.get("weight", 1.0))
    strategy, strategy_params = None, []
    if loss_cfg.get("strategy"):  # training/strategies: RCO, ESKD, AFD, DFA, EMD
        from .strategies import StrategyContext, build_strategy

        strategy = build_strategy(loss_cfg["strategy"], StrategyContext(model, device, config, sampler))
        strategy_params = [p for m in strategy.student_modules() for p in m.parameters()]
        if strategy_params:
            optimizer.add_param_group({"params": strategy_params})

    step, best, history_s = 0, -math.inf, 0.0
    if start is not None:
        state = start
        model.load_state_dict(state["model"]["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        if strategy is not None and resume:
            strategy.load_state_dict(state["strategy"])
        step, history_s = int(state["step"]), float(state.get("wall_s", 0.0))
        best = float(state["best"]) if resume else -math.inf  # a branch keeps its own best.pt
    train_model: nn.Module = nn.parallel.DistributedDataParallel(model) if ddp.enabled else model

    sched = config["schedule"]
    if ddp.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        run_info = {"name": config["name"], "kind": config["kind"], "seed": seed, "argv": sys.argv,
                    "versions": _versions(), "world_size": ddp.world, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    **_branch_record(run_dir, resume, branch, step)}
        (run_dir / "run.json").write_text(json.dumps(run_info, indent=2))
    metrics = open(run_dir / "metrics.jsonl", "a") if ddp.main else None

    def log(event: dict) -> None:
        if metrics is not None:
            metrics.write(json.dumps(event) + "\n")
            metrics.flush()

    def meta() -> dict:
        return {"name": config["name"], "kind": config["kind"], "step": step, "seed": seed,
                "a_range": list(config["data"]["noise"]["a_range"]), **config.get("meta_extra", {})}

    def save(kind: str) -> None:
        if not ddp.main:
            return
        if kind == "latest":
            atomic_torch_save({"model": model_record(model, meta()), "optimizer": optimizer.state_dict(),
                               "step": step, "best": best, "wall_s": history_s + (time.time() - t0),
                               **({"strategy": strategy.state_dict()} if strategy is not None else {})}, latest)
        elif kind == "best":
            atomic_torch_save(model_record(model, meta()), run_dir / "best.pt")
        else:
            atomic_torch_save(model_record(model, meta()), run_dir / "route" / f"step_{step:07d}.pt")

    from tqdm import tqdm

    t0 = time.time()
    bar = tqdm(total=optim_cfg["steps"], initial=step, desc=config["name"], disable=not (progress and ddp.main),
               dynamic_ncols=True)
    last_val: dict = {}
    window_t, window_n = time.time(), 0
    train_model.train()
    while step < optim_cfg["steps"]:
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, optim_cfg)
        noisy, clean, noise = (t.to(device) for t in sampler.batch_at(step))
        if device.type == "cpu":
            noisy, clean = noisy.contiguous(memory_format=torch.channels_last), clean.contiguous(memory_format=torch.channels_last)
        if strategy is not None:
            strategy.begin_step(step)
        pred = train_model(noisy, noise)
        terms = {"pixel": loss_cfg["pixel_weight"] * pixel_loss(pred, clean, noise)}
        if fm is not None:
            terms["feature"] = fm_weight * fm(pred, clean, noise)
        if od_teacher is not None:
            with torch.no_grad():
                t_out = od_teacher(noisy, noise)
            terms["output_distill"] = od_weight * output_distillation(pred, t_out, noise)
        if strategy is not None and strategy.teacher_needed(step):
            terms.update(strategy.loss_terms(step, Batch(noisy, clean, noise), pred))
        loss = sum(terms.values())
        if (device.type == "cpu" or step % sched["log_every"] == 0) and not torch.isfinite(loss):
            # on a GPU checked at log steps only: a per-step sync would stall the launch queue of a small model
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower optim.lr in the recipe")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(strategy_params)  # DDP averages only the model's own gradients
        if optim_cfg["grad_clip"]:
            nn.utils.clip_grad_norm_([*model.parameters(), *strategy_params], optim_cfg["grad_clip"])
        optimizer.step()
        if strategy is not None:
            strategy.end_step(step, Batch(noisy, clean, noise), pred.detach())
        step += 1
        window_n += noisy.shape[0] * ddp.world
        bar.update(1)
        if step % sched["log_every"] == 0:
            rate = window_n / max(time.time() - window_t, 1e-9)
            window_t, window_n = time.time(), 0
            bar.set_postfix(loss=f"{loss.item():.4f}", patches_s=f"{rate:.1f}")
            log({"step": step, "loss": loss.item(), **{k: v.item() for k, v in terms.items()},
                 **(strategy.status() if strategy is not None else {}),
                 "lr": optimizer.param_groups[0]["lr"], "patches_per_s": rate, "wall_s": history_s + time.time() - t0})
        if ddp.main and (step % sched["val_every"] == 0 or step == optim_cfg["steps"]):
            last_val = validate(model, val)
            log({"step": step, "val_psnr": last_val})
            bar.write(f"step {step}: val PSNR " + " ".join(f"{k}={v:.2f}" for k, v in last_val.items()))
            if last_val["mean"] > best:
                best = last_val["mean"]
                save("best")
        if sched["route_every"] and step % sched["route_every"] == 0:
            save("route")
        out_of_time = max_minutes is not None and (time.time() - t0) > 60 * max_minutes
        if step % sched["ckpt_every"] == 0 or step == optim_cfg["steps"] or out_of_time:
            save("latest")
        if out_of_time:
            bar.write(f"stopping at step {step} (--max-minutes {max_minutes}); continue with --resume")
            break
    bar.close()
    ddp.barrier()
    if ddp.main:
        info = json.loads((run_dir / "run.json").read_text())
        info.update({"finished" if step >= optim_cfg["steps"] else "paused": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "step": step, "wall_s": history_s + time.time() - t0, "best_val_psnr": best})
        (run_dir / "run.json").write_text(json.dumps(info, indent=2))
        metrics.close()
    ddp.close()
    return last_val
