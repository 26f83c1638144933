"""Cost-aware differentiable search of the student (the cost-sensitive search of AdaRec).

The supernet is the Feature-Align student's skeleton with searchable choices, each a set of
learnable logits sampled by Gumbel-softmax: the stem (``1x1``, separable ``sep3x3`` or full
``3x3``), how many of the deepest levels carry Feature-Align (``fa_levels``), and every encoder and
decoder slot's block — ``skip`` or a depthwise-separable or full 3×3 residual block at a hidden-width
multiplier (``sep:0.5``, ``full:1``…), so block counts are searched too. Width lists are searched
by running one supernet per candidate list. The space therefore contains the Feature-Align
students that ship (see :func:`space_contains`).

The search alternates (first order) a weight step on training batches and a logit step on a
held-out batch, both on the recipe's distillation objective — pixel loss plus its feature-matching
and output-distillation terms, as AdaRec searches with the distillation loss — the logit step plus
``penalty_weight`` × expected MACs / reference MACs. Expected MACs are exact for any hard choice:
every candidate's cost at its resolution is counted by torch's FLOP counter, the rest of the network
(down/up, head) by counting the model with no blocks and no Feature-Align, the Feature-Align of a
level weighted by the probability that the level carries it (its encoder head also by the
probability that the level keeps a block). The chosen student (argmax per choice, skips dropped)
is a plain ``searched`` model: retrained from scratch and exported like any other.
"""
from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from denoise.models import build_model, count_macs_per_megapixel, count_params
from denoise.models.feature_align import COND_CHANNELS, FeatureAlign, FeatureAlignStudent, make_stem
from denoise.models.searched import make_block

from ..losses import PIXEL_LOSSES
from . import LOSS_KEYS, build_loss_strategies
from .base import HELD_OUT_SEED_OFFSET, Batch, StrategyContext, StrategyError, held_out_batch, sampler_from_config

DEFAULT_OPS = ("skip", "sep:0.5", "sep:1", "full:0.5", "full:1")
STEMS = {"1x1": (1, False), "sep3x3": (3, True), "3x3": (3, False)}  # name: (stem_kernel, separable_stem)
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


class Choice(nn.Module):
    """Learnable logits over named options: Gumbel-softmax weights while training, one-hot argmax otherwise."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = [str(n) for n in names]
        if not self.names:
            raise StrategyError("a search choice needs at least one option")
        self.logits = nn.Parameter(torch.zeros(len(self.names)))
        self.tau = 1.0
        self.weights: Tensor | None = None

    def sample(self) -> Tensor:
        if self.training:
            self.weights = F.gumbel_softmax(self.logits, tau=self.tau)
        else:
            self.weights = F.one_hot(self.logits.argmax(), len(self.names)).to(self.logits)
        return self.weights

    def choice(self) -> str:
        return self.names[int(self.logits.argmax())]

    def pick(self, name: str) -> None:
        """Make ``name`` the hard choice (logits one-hot); a ValueError when it is not an option."""
        if str(name) not in self.names:
            raise ValueError(f"{name!r} is not one of {self.names}")
        with torch.no_grad():
            self.logits.fill_(-5.0)
            self.logits[self.names.index(str(name))] = 5.0


class MixedOp(Choice):
    """One searchable position: all candidate modules (same input and output), mixed by the choice's weights."""

    def __init__(self, names: Sequence[str], candidates: Sequence[nn.Module], channels: int, size: int) -> None:
        super().__init__(names)
        self.candidates = nn.ModuleList(candidates)
        self.register_buffer("costs", torch.tensor([module_macs_per_megapixel(c, channels, size)
                                                    for c in self.candidates], dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        weights = self.sample()
        out = weights[0] * self.candidates[0](x)
        for w, op in zip(weights[1:], self.candidates[1:]):
            out = out + w * op(x)
        return out

    def expected_cost(self) -> Tensor:
        return (self.weights.double() * self.costs).sum()

    def p(self, name: str) -> Tensor:
        """Probability (weight) of option ``name`` under the last forward; 0 when it is not an option."""
        if name not in self.names:
            return self.weights.new_zeros((), dtype=torch.float64)
        return self.weights[self.names.index(name)].double()


class GatedAlign(FeatureAlign):
    """Feature-Align whose modulation is blended with the identity by ``gate`` (1: modulated, 0: untouched)."""

    gate: Tensor | None = None

    def modulate(self, h: Tensor, hidden: Tensor, point: int) -> Tensor:
        return h + self.gate * (super().modulate(h, hidden, point) - h)


class SearchSupernet(FeatureAlignStudent):
    """The Feature-Align skeleton with a stem choice, a Feature-Align-levels choice and mixed block slots
    (``enc_slots[i]`` / ``dec_slots[i]`` per level)."""

    def __init__(self, widths: Sequence[int], enc_slots: Sequence[int], dec_slots: Sequence[int],
                 fa_hidden: Sequence[int], ops: Sequence[str] = DEFAULT_OPS, stems: Sequence[str] = tuple(STEMS),
                 fa_levels: Sequence[int] | None = None, fa_input: str = "normalized") -> None:
        super().__init__(widths, enc_slots, dec_slots, fa_hidden, True, fa_input=fa_input)
        levels = len(widths)
        fa_levels = list(fa_levels) if fa_levels is not None else list(range(1, levels + 1))
        unknown = [s for s in stems if s not in STEMS]
        if unknown or not all(1 <= int(k) <= levels for k in fa_levels):
            raise StrategyError(f"search space: stems must be from {sorted(STEMS)} and fa_levels from 1…{levels}, "
                                f"got {list(stems)} and {fa_levels}")
        for op in ops:
            candidate(op, 4)  # validates the op names early
        self.space = {"widths": list(widths), "enc_slots": list(enc_slots), "dec_slots": list(dec_slots),
                      "fa_hidden": list(fa_hidden), "ops": list(ops), "stems": list(stems),
                      "fa_levels": [int(k) for k in fa_levels], "fa_input": fa_input}
        packed = COST_FRAME // 2
        self.stem = MixedOp(stems, [make_stem(widths[0], *STEMS[s]) for s in stems], COND_CHANNELS, packed)
        self.fa_choice = Choice([str(k) for k in fa_levels])
        self.encoders = nn.ModuleList(nn.Sequential(*[MixedOp(ops, [candidate(op, w) for op in ops], w, packed >> i)
                                                      for _ in range(n)])
                                      for i, (w, n) in enumerate(zip(widths, enc_slots)))
        self.decoders = nn.ModuleList(nn.Sequential(*[MixedOp(ops, [candidate(op, w) for op in ops], w, packed >> i)
                                                      for _ in range(n)])
                                      for i, (w, n) in enumerate(zip(widths, dec_slots)))
        self.align = nn.ModuleDict({
            str(i): GatedAlign(widths[i], fa_hidden[i], int(self._enc_point[i]) + int(i < levels - 1),
                               1 if i == 0 else 3)
            for i in range(levels)})
        plain = build_model("searched", widths=list(widths), enc_ops=[[]] * levels, dec_ops=[[]] * (levels - 1),
                            fa_hidden=list(fa_hidden), feature_align=False, stem_kernel=1)
        self.base_macs = count_macs_per_megapixel(plain) - module_macs_per_megapixel(plain.stem, COND_CHANNELS, packed)
        # Feature-Align of level i: its hidden conv and decoder head; its encoder head where the level keeps a block
        self.fa_macs = [module_macs_per_megapixel(self.align[str(i)].hidden, COND_CHANNELS, packed >> i)
                        + (module_macs_per_megapixel(self.align[str(i)].heads[-1], fa_hidden[i], packed >> i)
                           if i < levels - 1 else 0.0) for i in range(levels)]
        self.enc_head_macs = [module_macs_per_megapixel(self.align[str(i)].heads[0], fa_hidden[i], packed >> i)
                              if self._enc_point[i] else 0.0 for i in range(levels)]

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        weights = self.fa_choice.sample()
        for i, gate in enumerate(self.fa_gates(weights)):
            self.align[str(i)].gate = gate
        return super().forward(x, noise)

    def fa_gates(self, weights: Tensor) -> list[Tensor]:
        """Per level, the probability that it carries Feature-Align (the deepest k levels for choice k)."""
        levels = len(self.space["widths"])
        return [sum((w for w, k in zip(weights, self.space["fa_levels"]) if i >= levels - k), weights.new_zeros(()))
                for i in range(levels)]

    def mixed_blocks(self) -> list[MixedOp]:
        """The block slots, encoder levels first."""
        return [m for side in (self.encoders, self.decoders) for level in side for m in level]

    def choices(self) -> list[Choice]:
        return [self.stem, self.fa_choice, *self.mixed_blocks()]

    def set_tau(self, tau: float) -> None:
        for m in self.choices():
            m.tau = tau

    def expected_macs(self) -> Tensor:
        """MACs per Bayer megapixel of the network under the last forward's weights (exact when one-hot)."""
        total = torch.tensor(self.base_macs, dtype=torch.float64, device=self.head.weight.device)
        total = total + self.stem.expected_cost() + sum(m.expected_cost() for m in self.mixed_blocks())
        gates = [g.double() for g in self.fa_gates(self.fa_choice.weights)]
        bottleneck = len(self.encoders) - 1
        for i, level in enumerate(self.encoders):
            keeps_block = 1.0
            if i != bottleneck:
                p_all_skip = torch.ones((), dtype=torch.float64, device=total.device)
                for m in level:
                    p_all_skip = p_all_skip * m.p("skip")
                keeps_block = 1.0 - p_all_skip
            total = total + gates[i] * (self.fa_macs[i] + keeps_block * self.enc_head_macs[i])
        return total

    def chosen_config(self) -> dict:
        """The ``searched`` model config of the argmax choices (skips dropped)."""
        enc, dec = ([[m.choice() for m in level if m.choice() != "skip"] for level in side]
                    for side in (self.encoders, self.decoders))
        kernel, separable = STEMS[self.stem.choice()]
        s = self.space
        return build_model("searched", widths=s["widths"], enc_ops=enc, dec_ops=dec, fa_hidden=s["fa_hidden"],
                           stem_kernel=kernel, separable_stem=separable, fa_levels=int(self.fa_choice.choice()),
                           fa_input=s["fa_input"]).config

    def select(self, config: dict) -> None:
        """Make the ``searched`` model ``config`` the hard choice; a ValueError when the space cannot express it."""
        s, levels = self.space, len(self.space["widths"])
        if list(config["widths"]) != s["widths"] or list(config["fa_hidden"]) != s["fa_hidden"]:
            raise ValueError(f"widths {config['widths']} / fa_hidden {config['fa_hidden']} are not this supernet's")
        if not config.get("feature_align", True) or config.get("fa_input", "normalized") != s["fa_input"]:
            raise ValueError("the space holds Feature-Align students with fa_input " + s["fa_input"])
        kernel = config.get("stem_kernel", 1)
        stem = next((n for n, v in STEMS.items() if v == (kernel, bool(config.get("separable_stem", False)))), None)
        self.stem.pick(stem)
        self.fa_choice.pick(str(config.get("fa_levels", levels)))
        for side, ops in ((self.encoders, config["enc_ops"]), (self.decoders, config["dec_ops"])):
            for level, level_ops in zip(side, ops):
                if len(level_ops) > len(level):
                    raise ValueError(f"{len(level_ops)} blocks where the space has {len(level)} slots")
                for k, m in enumerate(level):
                    m.pick(level_ops[k] if k < len(level_ops) else "skip")

    def probabilities(self) -> dict[str, list[dict[str, float]]]:
        def probs(m: Choice) -> dict[str, float]:
            return dict(zip(m.names, torch.softmax(m.logits.detach(), 0).tolist()))

        return {"stem": [probs(self.stem)], "fa_levels": [probs(self.fa_choice)],
                "blocks": [probs(m) for m in self.mixed_blocks()]}


def width_options(space: dict) -> list[list[int]]:
    """The candidate width lists of a space (``widths`` is one list of ints, or a list of such lists)."""
    widths = space["widths"]
    return [list(w) for w in widths] if widths and isinstance(widths[0], (list, tuple)) else [list(widths)]


def supernet(space: dict, widths: Sequence[int]) -> SearchSupernet:
    """The supernet of ``space`` for one candidate width list."""
    options = {k: v for k, v in space.items() if k in ("ops", "stems", "fa_levels", "fa_input")}
    return SearchSupernet(widths, space["enc_slots"], space["dec_slots"], space["fa_hidden"], **options)


def search_space(space: dict, recipe: dict) -> dict:
    """``space`` with the Feature-Align input of ``recipe``'s student where the space does not name one
    (it changes no cost, so it is not searched)."""
    return {"fa_input": recipe["model"].get("config", {}).get("fa_input", "normalized"), **space}


def space_contains(space: dict, arch: str, config: dict) -> bool:
    """Whether a hard choice of the search ``space`` builds the student ``arch`` / ``config`` (e.g. the shipped one)."""
    from denoise.models.searched import searched_config

    target = searched_config(arch, config)
    for widths in width_options(space):
        if list(target["widths"]) != widths:
            continue
        net = supernet(space, widths)
        try:
            net.select(target)
        except ValueError:
            return False
        return searched_config("searched", net.chosen_config()) == target
    return False


def search_student(recipe: dict, space: dict, penalty_weight: float, steps: int, arch_lr: float = 0.05,
                   tau: Sequence[float] = (5.0, 0.5), held_out: Sequence[int] = (2, 64),
                   device: str | torch.device = "cpu") -> dict:
    """Search the student on ``recipe``'s data and distillation objective; returns the chosen ``searched``
    config, its cost, and one entry per candidate width list.

    ``space``: widths (a list, or a list of candidate lists), enc_slots, dec_slots, fa_hidden, and
    optionally ops, stems, fa_levels, fa_input. The penalty is ``penalty_weight · E[MACs] / MACs(recipe's
    model)``, so 1.0 weighs the reference cost like one unit of the noise-normalized objective. Width
    lists are compared by the objective plus penalty of their hard choice on the held-out batch.
    """
    if steps < 1:
        raise StrategyError(f"the student search needs steps >= 1, got {steps}")
    loss = recipe["loss"]
    if loss.get("strategy") or not any(loss.get(k) for k in LOSS_KEYS):
        raise StrategyError(f"the student search optimizes the distillation objective: its recipe's loss needs "
                            f"{' or '.join(LOSS_KEYS)} (and no loss.strategy)")
    device = torch.device(device)
    torch.set_num_threads(int(recipe["threads"]))  # like train(): a search shares the machine with other runs
    start = time.time()
    reference = count_macs_per_megapixel(build_model(recipe["model"]["arch"], **recipe["model"]["config"]))
    sampler = sampler_from_config(recipe, SEARCH_SEED_OFFSET)
    val = recipe["validation"]
    held = held_out_batch(val["levels"], int(held_out[0]), int(held_out[1]), int(val["seed"]) + HELD_OUT_SEED_OFFSET,
                          device)

    candidates = [_search_widths(recipe, space, widths, penalty_weight, steps, arch_lr, tau, sampler, held, reference,
                                 device) for widths in width_options(space)]
    best = min(candidates, key=lambda c: c["score"])
    model = build_model("searched", **best["config"])
    return {"penalty_weight": float(penalty_weight), "steps": int(steps), "config": best["config"],
            "macs_per_mp": count_macs_per_megapixel(model), "params": count_params(model),
            "reference_macs_per_mp": reference, "probabilities": best["probabilities"],
            "held_out_loss": best["held_out_objective"], "candidates": candidates, "wall_s": time.time() - start}


def _objective(net: SearchSupernet, distill: list, loss: dict, batch: Batch) -> Tensor:
    """The distillation objective of a student training step: pixel loss plus the distillation terms."""
    pred = net(batch.noisy, batch.noise)
    terms = [loss["pixel_weight"] * PIXEL_LOSSES[loss["pixel"]](pred, batch.clean, batch.noise)]
    return sum(terms + [t for s in distill for t in s.loss_terms(0, batch, pred).values()])


def _search_widths(recipe: dict, space: dict, widths: list[int], penalty_weight: float, steps: int, arch_lr: float,
                   tau: Sequence[float], sampler, held: Batch, reference: float, device: torch.device) -> dict:
    """One supernet search with the width list ``widths``; its hard choice, objective and cost."""
    loss = recipe["loss"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(recipe["seed"]))
        net = supernet(space, widths).to(device).train()
        distill = list(build_loss_strategies({k: loss[k] for k in LOSS_KEYS if loss.get(k)},
                                             StrategyContext(net, device, recipe, sampler)).values())
        logits = [m.logits for m in net.choices()]
        ids = {id(p) for p in logits}
        weights = [p for p in net.parameters() if id(p) not in ids]
        w_opt = torch.optim.Adam(weights, lr=float(recipe["optim"]["lr"]))
        a_opt = torch.optim.Adam(logits, lr=arch_lr)
        for k in range(steps):
            net.set_tau(tau[0] * (tau[1] / tau[0]) ** (k / max(1, steps - 1)))
            batch = Batch(*(t.to(device) for t in sampler.batch_at(k)))
            _trainable(logits, False)
            w_opt.zero_grad(set_to_none=True)
            _objective(net, distill, loss, batch).backward()
            w_opt.step()
            _trainable(logits, True)
            _trainable(weights, False)
            arch_loss = _objective(net, distill, loss, held) + penalty_weight * net.expected_macs().float() / reference
            a_opt.zero_grad(set_to_none=True)
            arch_loss.backward()
            a_opt.step()
            _trainable(weights, True)
        net.eval()
        with torch.no_grad():
            task = float(_objective(net, distill, loss, held))
            macs = float(net.expected_macs())
    return {"widths": list(widths), "config": net.chosen_config(), "held_out_objective": task, "macs_per_mp": macs,
            "score": task + penalty_weight * macs / reference, "probabilities": net.probabilities()}


def _trainable(params: list[Tensor], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)
