"""Adversarial feature-map distillation (AFD, Chung et al., ICML 2020), for denoising.

Per distilled level a small patch discriminator looks at feature maps: the learner's features
through a 1×1 adapter are "fake", its source network's features are "real"; fooling the
discriminator transfers the feature *distribution* rather than pointwise values. Least-squares
GAN losses; the discriminators have their own optimizer with a smaller learning rate.

* ``mode: offline`` — the source is a frozen teacher; only the student learns.
* ``mode: online`` — the student and ``peers`` (K−1 networks of the student's architecture unless
  ``peer_model`` says otherwise) train together in a cyclic ring: network k learns from network
  k−1 (mod K), so K networks need K discriminators per level. Peers have their own optimizer and
  pixel loss; only the student is saved as the run's model.

``layers`` pairs a student module path with the teacher's (offline) or the peers' (online)
module path at the same resolution. ``output_weight`` adds the output term ``|S(x) − source(x)|₁``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from denoise.models import build_model

from ..distill import FeatureTaps
from ..losses import output_distillation
from .base import (Batch, Strategy, StrategyContext, StrategyError, average_gradients, feature_shapes,
                   frozen_teacher, set_lr, set_trainable)

MODES = ("offline", "online")


class PatchDiscriminator(nn.Sequential):
    """Least-squares critic on a feature map: one score per (overlapping) patch."""

    def __init__(self, channels: int, hidden: int = 32) -> None:
        super().__init__(nn.Conv2d(channels, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(hidden, 1, 1))


def lsgan_generator_loss(fake_score: Tensor) -> Tensor:
    return 0.5 * ((fake_score - 1.0) ** 2).mean()


def lsgan_discriminator_loss(real_score: Tensor, fake_score: Tensor) -> Tensor:
    return 0.5 * ((real_score - 1.0) ** 2).mean() + 0.5 * (fake_score ** 2).mean()


def adapter(cin: int, cout: int) -> nn.Conv2d:
    """1×1 conv; the identity when the channel counts agree, so training starts from the raw features."""
    conv = nn.Conv2d(cin, cout, 1)
    if cin == cout:
        nn.init.zeros_(conv.bias)
        with torch.no_grad():
            conv.weight.copy_(torch.eye(cin).view(cin, cin, 1, 1))
    return conv


class AdversarialFeatureDistillation(Strategy):
    name = "afd"

    def __init__(self, ctx: StrategyContext, layers: Sequence[Sequence[str]], mode: str = "offline",
                 teacher: str | None = None, peers: int = 1, peer_model: dict | None = None, weight: float = 0.1,
                 output_weight: float = 1.0, d_lr_ratio: float = 0.1, d_hidden: int = 32) -> None:
        if mode not in MODES:
            raise StrategyError(f"afd mode must be one of {MODES}, got {mode!r}")
        if not layers or any(len(pair) != 2 for pair in layers):
            raise StrategyError("afd 'layers' is a list of [student_path, teacher_or_peer_path] pairs")
        if mode == "offline" and not teacher:
            raise StrategyError("offline afd needs 'teacher' (a checkpoint)")
        if mode == "online" and int(peers) < 1:
            raise StrategyError(f"online afd needs peers >= 1, got {peers}")
        self.ctx, self.mode = ctx, mode
        self.weight, self.output_weight, self.d_lr_ratio = float(weight), float(output_weight), float(d_lr_ratio)
        student_paths, other_paths = [p[0] for p in layers], [p[1] for p in layers]
        # Network 0 is the student; offline, network 1 is the frozen teacher; online, 1..K-1 are peers.
        if mode == "offline":
            self.teacher = frozen_teacher(teacher, ctx.device)
            others: list[nn.Module] = [self.teacher]
            self.peers = nn.ModuleList()
        else:
            spec = peer_model or ctx.config["model"]
            self.peers = nn.ModuleList(self._peer(spec, k) for k in range(1, int(peers) + 1)).to(ctx.device)
            others = list(self.peers)
        self.networks = [ctx.student, *others]
        self.paths = [student_paths] + [other_paths] * len(others)
        self.taps = [FeatureTaps(net, paths) for net, paths in zip(self.networks, self.paths)]
        shapes = [feature_shapes(net, paths) for net, paths in zip(self.networks, self.paths)]
        for l, (ps, po) in enumerate(zip(student_paths, other_paths)):
            if shapes[0][ps][1] != shapes[1][po][1]:
                raise StrategyError(f"afd layers {ps!r} and {po!r} are at different resolutions; pair modules of "
                                    "the same level")
        k_count = len(self.networks)
        self.learners = [0] if mode == "offline" else list(range(k_count))
        channels = [[shapes[k][p][0] for p in self.paths[k]] for k in range(k_count)]
        self.adapters = nn.ModuleList(
            nn.ModuleList(adapter(channels[k][l], channels[self.source(k)][l]) for l in range(len(layers)))
            for k in self.learners).to(ctx.device)
        self.discriminators = nn.ModuleList(
            nn.ModuleList(PatchDiscriminator(channels[self.source(k)][l], d_hidden) for l in range(len(layers)))
            for k in self.learners).to(ctx.device)
        set_trainable(self.discriminators, False)
        lr = ctx.lr_at(0)
        self.d_optimizer = torch.optim.Adam(self.discriminators.parameters(), lr=self.d_lr_ratio * lr,
                                            betas=(0.5, 0.999))
        self.peer_optimizer = None
        if mode == "online":
            peer_params = list(self.peers.parameters()) + list(self.adapters[1:].parameters())
            self.peer_optimizer = torch.optim.AdamW(peer_params, lr=lr,
                                                    weight_decay=float(ctx.config["optim"]["weight_decay"]))
        self._pairs: dict[int, list[tuple[Tensor, Tensor]]] = {}
        self._outputs: list[Tensor] = []
        self._critic_loss: float | None = None

    def _peer(self, spec: dict, k: int) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.ctx.seed * 1009 + k)
            return build_model(spec["arch"], **spec.get("config", {}))

    def source(self, k: int) -> int:
        """The network that learner ``k`` learns from: the teacher offline, ``k − 1`` around the ring online."""
        return 1 if self.mode == "offline" else (k - 1) % len(self.networks)

    def student_modules(self) -> list[nn.Module]:
        return [self.adapters[0]]

    def _features(self, k: int) -> list[Tensor]:
        return [self.taps[k].features[p] for p in self.paths[k]]

    def _adversarial(self, k: int) -> Tensor:
        """Generator loss of learner ``k`` (discriminators frozen); keeps (real, fake) for the critic step."""
        li = self.learners.index(k)
        real = [f.detach() for f in self._features(self.source(k))]
        fake = [a(f) for a, f in zip(self.adapters[li], self._features(k))]
        self._pairs[k] = [(r, f.detach()) for r, f in zip(real, fake)]
        scores = [d(f) for d, f in zip(self.discriminators[li], fake)]
        return sum(lsgan_generator_loss(s) for s in scores) / len(scores)

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        self._pairs = {}
        if self.mode == "offline":
            with torch.no_grad():
                if self.output_weight:
                    self._outputs = [pred, self.teacher(batch.noisy, batch.noise)]
                else:
                    self.taps[1].run(batch.noisy, batch.noise)
                    self._outputs = [pred]
        else:
            self._outputs = [pred] + [peer(batch.noisy, batch.noise) for peer in self.peers]
        terms = {"afd_adv": self.weight * self._adversarial(0)}
        if self.output_weight:
            terms["afd_out"] = self.output_weight * output_distillation(pred, self._outputs[self.source(0)],
                                                                        batch.noise)
        return terms

    def peer_step(self, step: int, batch: Batch, pred: Tensor) -> None:
        """Online: one optimizer step of every peer on its pixel, adversarial and output terms."""
        outputs = [pred.detach(), *self._outputs[1:]]
        loss = pred.new_zeros(())
        for k in self.learners[1:]:
            loss = loss + self.ctx.pixel_loss(outputs[k], batch.clean, batch.noise) + self.weight * self._adversarial(k)
            if self.output_weight:
                loss = loss + self.output_weight * output_distillation(outputs[k], outputs[self.source(k)], batch.noise)
        params = [p for group in self.peer_optimizer.param_groups for p in group["params"]]
        set_lr(self.peer_optimizer, self.ctx.lr_at(step))
        self.peer_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(params)
        if self.ctx.config["optim"]["grad_clip"]:
            nn.utils.clip_grad_norm_(params, self.ctx.config["optim"]["grad_clip"])
        self.peer_optimizer.step()

    def discriminator_step(self, step: int) -> None:
        """One least-squares critic step on the (real, fake) features kept from this step."""
        set_trainable(self.discriminators, True)
        loss = torch.zeros((), device=self.ctx.device)
        for k, pairs in self._pairs.items():
            for d, (real, fake) in zip(self.discriminators[self.learners.index(k)], pairs):
                loss = loss + lsgan_discriminator_loss(d(real), d(fake))
        set_lr(self.d_optimizer, self.d_lr_ratio * self.ctx.lr_at(step))
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.discriminators.parameters())
        self.d_optimizer.step()
        set_trainable(self.discriminators, False)
        self._critic_loss = float(loss.item())

    def end_step(self, step: int, batch: Batch, pred: Tensor) -> None:
        if self.mode == "online":
            self.peer_step(step, batch, pred)
        self.discriminator_step(step)
        self._pairs, self._outputs = {}, []

    def status(self) -> dict[str, float]:
        return {} if self._critic_loss is None else {"afd_critic": self._critic_loss}

    def state_dict(self) -> dict:
        state = {"adapters": self.adapters.state_dict(), "discriminators": self.discriminators.state_dict(),
                 "d_optimizer": self.d_optimizer.state_dict()}
        if self.peer_optimizer is not None:
            state.update(peers=self.peers.state_dict(), peer_optimizer=self.peer_optimizer.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.adapters.load_state_dict(state["adapters"])
        self.discriminators.load_state_dict(state["discriminators"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        if self.peer_optimizer is not None:
            self.peers.load_state_dict(state["peers"])
            self.peer_optimizer.load_state_dict(state["peer_optimizer"])
