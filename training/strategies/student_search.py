"""Cost-aware differentiable search of the student's blocks (the cost-sensitive search of AdaRec).

The supernet is the Feature-Align student's skeleton with searchable slots: every encoder and
decoder slot mixes all candidate ops — ``skip``, depthwise-separable and full 3×3 residual
blocks at several hidden-width multipliers (``sep:0.5``, ``full:1``…) — by Gumbel-softmax
weights of learnable logits. The search alternates (first order) a weight step on training
batches (pixel loss) and a logit step on a held-out batch (pixel loss + ``penalty_weight`` ×
expected MACs / reference MACs). Expected MACs are exact for any hard choice: every op's cost
at its slot's resolution is counted by torch's FLOP counter, the rest of the network (stem,
Feature-Align, down/up, head) by counting the model that has no blocks, plus the Feature-Align
head an encoder level gains when it keeps at least one block. The chosen student (argmax per
slot, skips dropped) is a plain ``searched`` model: it is retrained from scratch and exported
like any other.
"""
from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from denoise.models import build_model, count_macs_per_megapixel, count_params
from denoise.models.feature_align import FeatureAlignStudent
from denoise.models.searched import make_block

from ..losses import PIXEL_LOSSES
from .base import HELD_OUT_SEED_OFFSET, Batch, StrategyError, held_out_batch, sampler_from_config

DEFAULT_OPS = ("skip", "sep:0.5", "sep:1", "full:0.5", "full:1")
COST_FRAME = 512  # Bayer pixels per side of the frame costs are counted on (as count_macs_per_megapixel)
SEARCH_SEED_OFFSET = 104729


def module_macs_per_megapixel(module: nn.Module, channels: int, size: int) -> float:
    """MACs per Bayer megapixel of ``module`` on a (1, channels, size, size) map of a COST_FRAME frame."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()(torch.zeros(1, channels, size, size))
    return counter.get_total_flops() / 2 / (COST_FRAME * COST_FRAME / 1e6)


def candidate(op: str, channels: int) -> nn.Module:
    return nn.Identity() if op == "skip" else make_block(op, channels)


class MixedBlock(nn.Module):
    """One searchable slot: all candidate ops, mixed by Gumbel-softmax weights (argmax when not training)."""

    def __init__(self, channels: int, ops: Sequence[str], size: int) -> None:
        super().__init__()
        self.ops = list(ops)
        self.candidates = nn.ModuleList(candidate(op, channels) for op in self.ops)
        self.logits = nn.Parameter(torch.zeros(len(self.ops)))
        self.register_buffer("costs", torch.tensor([module_macs_per_megapixel(c, channels, size)
                                                    for c in self.candidates], dtype=torch.float64))
        self.tau = 1.0
        self.weights: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.weights = F.gumbel_softmax(self.logits, tau=self.tau)
        else:
            self.weights = F.one_hot(self.logits.argmax(), len(self.ops)).to(self.logits)
        out = self.weights[0] * self.candidates[0](x)
        for w, op in zip(self.weights[1:], self.candidates[1:]):
            out = out + w * op(x)
        return out

    def choice(self) -> str:
        return self.ops[int(self.logits.argmax())]


class SearchSupernet(FeatureAlignStudent):
    """The Feature-Align skeleton with ``enc_slots[i]`` / ``dec_slots[i]`` mixed slots per level."""

    def __init__(self, widths: Sequence[int], enc_slots: Sequence[int], dec_slots: Sequence[int],
                 fa_hidden: Sequence[int], feature_align: bool = True, ops: Sequence[str] = DEFAULT_OPS) -> None:
        super().__init__(widths, enc_slots, dec_slots, fa_hidden, feature_align)
        for op in ops:
            candidate(op, 4)  # validates the op names early
        self.space = {"widths": list(widths), "enc_slots": list(enc_slots), "dec_slots": list(dec_slots),
                      "fa_hidden": list(fa_hidden), "feature_align": feature_align, "ops": list(ops)}
        packed = COST_FRAME // 2
        self.encoders = nn.ModuleList(nn.Sequential(*[MixedBlock(w, ops, packed >> i) for _ in range(n)])
                                      for i, (w, n) in enumerate(zip(widths, enc_slots)))
        self.decoders = nn.ModuleList(nn.Sequential(*[MixedBlock(w, ops, packed >> i) for _ in range(n)])
                                      for i, (w, n) in enumerate(zip(widths, dec_slots)))
        self.fixed_macs = count_macs_per_megapixel(build_model("searched", **self._config([[]] * len(widths),
                                                                                         [[]] * len(dec_slots))))
        # Feature-Align head an encoder level (not the bottleneck, which always has one) gains with >= 1 block.
        self.head_macs = [module_macs_per_megapixel(nn.Conv2d(fa_hidden[i], 2 * w, 1), fa_hidden[i], packed >> i)
                          if feature_align and i < len(widths) - 1 else 0.0 for i, w in enumerate(widths)]

    def _config(self, enc_ops: list, dec_ops: list) -> dict:
        s = self.space
        return {"widths": s["widths"], "enc_ops": enc_ops, "dec_ops": dec_ops, "fa_hidden": s["fa_hidden"],
                "feature_align": s["feature_align"]}

    def mixed_blocks(self) -> list[MixedBlock]:
        return [m for m in self.modules() if isinstance(m, MixedBlock)]

    def set_tau(self, tau: float) -> None:
        for m in self.mixed_blocks():
            m.tau = tau

    def expected_macs(self) -> Tensor:
        """MACs per Bayer megapixel of the network under the last forward's op weights (exact when one-hot)."""
        total = torch.tensor(self.fixed_macs, dtype=torch.float64, device=self.head.weight.device)
        for i, level in enumerate(self.encoders):
            blocks = list(level)
            for m in blocks:
                total = total + (m.weights.double() * m.costs).sum()
            if blocks and self.head_macs[i]:
                p_all_skip = torch.ones((), dtype=torch.float64, device=total.device)
                for m in blocks:
                    p_all_skip = p_all_skip * (m.weights[m.ops.index("skip")].double() if "skip" in m.ops else 0.0)
                total = total + (1.0 - p_all_skip) * self.head_macs[i]
        for level in self.decoders:
            for m in level:
                total = total + (m.weights.double() * m.costs).sum()
        return total

    def chosen_config(self) -> dict:
        """The ``searched`` model config of the argmax choice per slot (skips dropped)."""
        pick = [[[m.choice() for m in level if m.choice() != "skip"] for level in side]
                for side in (self.encoders, self.decoders)]
        return self._config(*pick)

    def probabilities(self) -> list[dict[str, float]]:
        return [dict(zip(m.ops, torch.softmax(m.logits.detach(), 0).tolist())) for m in self.mixed_blocks()]


def search_student(recipe: dict, space: dict, penalty_weight: float, steps: int, arch_lr: float = 0.05,
                   tau: Sequence[float] = (5.0, 0.5), held_out: Sequence[int] = (2, 64),
                   device: str | torch.device = "cpu") -> dict:
    """Search the student's blocks on ``recipe``'s data; returns the chosen ``searched`` config and its cost.

    ``space``: widths, enc_slots, dec_slots, fa_hidden, feature_align, ops. The penalty is
    ``penalty_weight · E[MACs] / MACs(recipe's model)``, so 1.0 weighs the reference cost like one
    unit of the noise-normalized pixel loss.
    """
    if steps < 1:
        raise StrategyError(f"the student search needs steps >= 1, got {steps}")
    device = torch.device(device)
    start = time.time()
    reference = count_macs_per_megapixel(build_model(recipe["model"]["arch"], **recipe["model"]["config"]))
    pixel_loss = PIXEL_LOSSES[recipe["loss"]["pixel"]]
    sampler = sampler_from_config(recipe, SEARCH_SEED_OFFSET)
    val = recipe["validation"]
    held = held_out_batch(val["levels"], int(held_out[0]), int(held_out[1]), int(val["seed"]) + HELD_OUT_SEED_OFFSET,
                          device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(recipe["seed"]))
        net = SearchSupernet(**space).to(device).train()
        logits = [m.logits for m in net.mixed_blocks()]
        ids = {id(p) for p in logits}
        weights = [p for p in net.parameters() if id(p) not in ids]
        w_opt = torch.optim.Adam(weights, lr=float(recipe["optim"]["lr"]))
        a_opt = torch.optim.Adam(logits, lr=arch_lr)
        for k in range(steps):
            net.set_tau(tau[0] * (tau[1] / tau[0]) ** (k / max(1, steps - 1)))
            batch = Batch(*(t.to(device) for t in sampler.batch_at(k)))
            _trainable(logits, False)
            loss = pixel_loss(net(batch.noisy, batch.noise), batch.clean, batch.noise)
            w_opt.zero_grad(set_to_none=True)
            loss.backward()
            w_opt.step()
            _trainable(logits, True)
            _trainable(weights, False)
            task = pixel_loss(net(held.noisy, held.noise), held.clean, held.noise)
            arch_loss = task + penalty_weight * net.expected_macs().float() / reference
            a_opt.zero_grad(set_to_none=True)
            arch_loss.backward()
            a_opt.step()
            _trainable(weights, True)
    chosen = net.chosen_config()
    model = build_model("searched", **chosen)
    return {"penalty_weight": float(penalty_weight), "steps": int(steps), "config": chosen,
            "macs_per_mp": count_macs_per_megapixel(model), "params": count_params(model),
            "reference_macs_per_mp": reference, "probabilities": net.probabilities(),
            "held_out_loss": float(task.item()), "wall_s": time.time() - start}


def _trainable(params: list[Tensor], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)
