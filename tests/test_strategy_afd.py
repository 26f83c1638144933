"""AFD: each update moves only the parameters it owns; the online ring is cyclic; resume is exact."""
import torch

from strategy_fixtures import save_teacher, tiny_context
from training.strategies import Batch, build_strategy
from training.train import load_recipe, train
from training_fixtures import tiny_recipe

LAYERS = [["decoders.0", "decoders.0"], ["encoders.1", "encoders.1"]]


def _snapshot(*modules) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def _changed(before: list[torch.Tensor], *modules) -> list[bool]:
    return [not torch.equal(b, p) for b, p in zip(before, (p for m in modules for p in m.parameters()))]


def _student_step(ctx, afd, batch: Batch) -> torch.Tensor:
    params = list(ctx.student.parameters()) + [p for m in afd.student_modules() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    pred = ctx.student(batch.noisy, batch.noise)
    loss = ctx.pixel_loss(pred, batch.clean, batch.noise) + sum(afd.loss_terms(0, batch, pred).values())
    opt.zero_grad()
    loss.backward()
    opt.step()
    return pred.detach()


def test_offline_student_step_and_critic_step_touch_only_their_own_parameters(tmp_path):
    teacher = save_teacher(tmp_path / "teacher.pt", seed=3)
    ctx = tiny_context(tmp_path)
    afd = build_strategy({"name": "afd", "teacher": str(teacher), "layers": LAYERS, "weight": 1.0}, ctx)
    batch = Batch(*ctx.sampler.batch_at(0))
    s0, a0 = _snapshot(ctx.student), _snapshot(afd.adapters)
    d0, t0 = _snapshot(afd.discriminators), _snapshot(afd.teacher)

    _student_step(ctx, afd, batch)
    assert any(_changed(s0, ctx.student)) and all(_changed(a0, afd.adapters))
    assert not any(_changed(d0, afd.discriminators)) and not any(_changed(t0, afd.teacher))

    s1, a1 = _snapshot(ctx.student), _snapshot(afd.adapters)
    afd.discriminator_step(0)
    assert all(_changed(d0, afd.discriminators))
    assert not any(_changed(s1, ctx.student)) and not any(_changed(a1, afd.adapters))
    assert not any(_changed(t0, afd.teacher))


def test_online_ring_learns_from_the_previous_network_and_updates_stay_separate(tmp_path):
    ctx = tiny_context(tmp_path)
    afd = build_strategy({"name": "afd", "mode": "online", "peers": 2, "layers": LAYERS}, ctx)
    assert [afd.source(k) for k in range(3)] == [2, 0, 1]          # K = 3 networks, K discriminators per level
    assert len(afd.discriminators) == 3 and len(afd.adapters) == 3
    batch = Batch(*ctx.sampler.batch_at(0))
    s0, a0 = _snapshot(ctx.student), _snapshot(afd.adapters[0])
    p0, pa0, d0 = _snapshot(afd.peers), _snapshot(afd.adapters[1:]), _snapshot(afd.discriminators)

    pred = _student_step(ctx, afd, batch)
    assert any(_changed(s0, ctx.student)) and all(_changed(a0, afd.adapters[0]))
    assert not any(_changed(p0, afd.peers) + _changed(pa0, afd.adapters[1:]) + _changed(d0, afd.discriminators))

    s1, a1 = _snapshot(ctx.student), _snapshot(afd.adapters[0])
    peer0, peer1 = _snapshot(afd.peers[0]), _snapshot(afd.peers[1])
    afd.peer_step(0, batch, pred)
    assert any(_changed(peer0, afd.peers[0])) and any(_changed(peer1, afd.peers[1]))
    assert all(_changed(pa0, afd.adapters[1:]))
    assert not any(_changed(s1, ctx.student) + _changed(a1, afd.adapters[0]) + _changed(d0, afd.discriminators))

    p1, pa1 = _snapshot(afd.peers), _snapshot(afd.adapters[1:])
    afd.discriminator_step(0)
    assert all(_changed(d0, afd.discriminators))
    assert not any(_changed(p1, afd.peers) + _changed(pa1, afd.adapters[1:]) + _changed(s1, ctx.student))


def test_adversarial_run_resumes_exactly_with_its_critics(tmp_path):
    teacher = save_teacher(tmp_path / "teacher.pt", seed=3)
    recipe = tiny_recipe(tmp_path, steps=4, loss={"pixel": "l1", "strategy": {
        "name": "afd", "teacher": str(teacher), "layers": LAYERS}})
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    train(load_recipe(recipe), tmp_path / "cut", max_minutes=0.0, progress=False)     # pauses after one step
    train(load_recipe(recipe), tmp_path / "cut", resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "latest.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "latest.pt", weights_only=True)
    assert a["strategy"]["d_optimizer"]["state"]            # the critics' optimizer state is saved
    for part in ("adapters", "discriminators"):
        for k, v in a["strategy"][part].items():
            torch.testing.assert_close(b["strategy"][part][k], v, rtol=0, atol=1e-6)
    for k, v in a["model"]["state_dict"].items():
        torch.testing.assert_close(b["model"]["state_dict"][k], v, rtol=0, atol=1e-6)
