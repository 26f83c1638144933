"""EMD layer mapping: the transport plan is optimal and its marginals are the layer masses; the flow is a
constant in the loss; masses stay distributions and move towards cheap layers."""
import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from strategy_fixtures import save_teacher, tiny_context
from training.strategies import Batch, build_strategy
from training.strategies.emd import pair_distance, transport_plan, updated_masses


def test_flow_marginals_equal_the_layer_masses():
    rng = np.random.default_rng(0)
    cost = rng.uniform(0, 2, size=(3, 5))
    a, b = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(5))
    flow = transport_plan(cost, a, b)
    print("flow:\n", np.round(flow, 4))
    assert (flow >= 0).all()
    np.testing.assert_allclose(flow.sum(1), a, atol=1e-9)
    np.testing.assert_allclose(flow.sum(0), b, atol=1e-9)


def test_uniform_square_transport_is_the_optimal_assignment():
    cost = np.random.default_rng(1).uniform(0, 1, size=(4, 4))
    flow = transport_plan(cost, np.full(4, 0.25), np.full(4, 0.25))
    rows, cols = linear_sum_assignment(cost)
    assert (flow * cost).sum() == pytest.approx(cost[rows, cols].sum() / 4, abs=1e-9)


def test_masses_move_towards_cheap_layers_and_stay_distributions():
    mass = np.array([0.5, 0.25, 0.25])
    new = updated_masses(mass, unit_cost=np.array([1.0, 1.0, 4.0]), momentum=0.5)
    assert new.sum() == pytest.approx(1.0) and (new > 0).all()
    assert new[2] < mass[2] and new[1] > mass[1]
    np.testing.assert_allclose(updated_masses(mass, np.array([1.0, 1.0, 4.0]), 0.0), mass)


def test_distance_is_symmetric_and_scale_free():
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4)
    identity = torch.nn.Identity()
    assert pair_distance(s, t, identity).item() == pytest.approx(pair_distance(t, s, identity).item(), rel=1e-6)
    assert pair_distance(7.0 * s, t, identity).item() == pytest.approx(pair_distance(s, t, identity).item(), rel=1e-5)
    assert pair_distance(s, s, identity).item() == 0.0


def test_loss_is_flow_times_distance_with_the_flow_held_constant(tmp_path):
    teacher = save_teacher(tmp_path / "teacher.pt", seed=3)
    ctx = tiny_context(tmp_path)
    layers = ["encoders.0", "decoders.0", "encoders.1"]
    emd = build_strategy({"name": "emd", "teacher": str(teacher), "student_layers": layers,
                          "teacher_layers": layers}, ctx)
    batch = Batch(*ctx.sampler.batch_at(0))
    pred = ctx.student(batch.noisy, batch.noise)
    loss = emd.loss_terms(0, batch, pred)["emd"]
    with torch.no_grad():
        dist = emd.distances(batch)
    flow = transport_plan(dist.double().numpy(), emd.student_mass, emd.teacher_mass)
    assert loss.item() == pytest.approx(float((flow * dist.double().numpy()).sum()), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in emd.projections.parameters())
    before = (emd.student_mass.copy(), emd.teacher_mass.copy())
    emd.end_step(0, batch, pred.detach())
    print("student layer masses after one update:", np.round(emd.student_mass, 4))
    assert emd.student_mass.sum() == pytest.approx(1.0) and emd.teacher_mass.sum() == pytest.approx(1.0)
    assert not np.allclose(before[0], emd.student_mass)
