"""DFA: aggregation weights are a distribution found by the bridge-loss search; one-hot on the last map
is plain last-layer feature matching."""
import pytest
import torch

from strategy_fixtures import save_teacher, tiny_context
from training.distill import FeatureTaps
from training.strategies import Batch, StrategyError, build_strategy
from training.strategies.base import feature_distance
from training.strategies.dfa import activation_maps, aggregated_hint_loss


def _dfa(tmp_path, **options):
    teacher = save_teacher(tmp_path / "teacher.pt", seed=3)
    ctx = tiny_context(tmp_path)
    spec = {"name": "dfa", "teacher": str(teacher), "student_layers": ["decoders.0", "encoders.1"], **options}
    return ctx, build_strategy(spec, ctx)


def test_candidates_are_every_teacher_map_at_the_students_resolution(tmp_path):
    _, dfa = _dfa(tmp_path, search_steps=0)
    assert dfa.groups[0] == ["encoders.0.body.1", "encoders.0.body.3", "decoders.0.body.1", "decoders.0.body.3"]
    assert dfa.groups[1] == ["downs.0.1", "encoders.1.body.1", "encoders.1.body.3"]
    assert [s for _, _, s in activation_maps(dfa.teacher)] == [1, 1, 2, 2, 2, 1, 1]


def test_search_moves_the_weights_which_stay_distributions_and_leaves_the_student_alone(tmp_path):
    ctx, dfa = _dfa(tmp_path, search_steps=3, alpha_lr=0.1)
    before = [p.detach().clone() for p in ctx.student.parameters()]
    dfa.begin_step(0)
    weights = dfa.aggregation_weights()
    print("searched aggregation weights:", [[round(v, 3) for v in w.tolist()] for w in weights])
    assert dfa.searched and not any(a.requires_grad for a in dfa.alphas)
    for w, group in zip(weights, dfa.groups):
        assert w.shape == (len(group),) and (w >= 0).all()
        assert w.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert not torch.allclose(w, torch.full_like(w, 1.0 / len(group)))   # the search moved them
    assert all(torch.equal(b, p) for b, p in zip(before, ctx.student.parameters()))
    state = dfa.state_dict()
    dfa.begin_step(1)                                                        # searched once, never again
    assert all(torch.equal(a, b) for a, b in zip(state["alphas"], dfa.alphas))


def test_one_hot_on_the_last_map_is_last_layer_feature_matching(tmp_path):
    ctx, dfa = _dfa(tmp_path, search_steps=0)
    batch = Batch(*ctx.sampler.batch_at(0))
    ctx.student(batch.noisy, batch.noise)
    student_feat = dfa.student_taps.features["decoders.0"]
    groups = dfa._teacher_groups(batch)
    with FeatureTaps(dfa.teacher, ["decoders.0"]) as taps, torch.no_grad():
        last_layer = taps.run(batch.noisy, batch.noise)["decoders.0"]
    one_hot = torch.softmax(torch.tensor([-float("inf")] * 3 + [0.0]), 0)
    regressor = dfa.regressors[0]
    got = aggregated_hint_loss(student_feat, regressor, groups[0], one_hot)
    assert torch.equal(got, feature_distance(regressor(student_feat), last_layer))
    uniform = aggregated_hint_loss(student_feat, regressor, groups[0], torch.full((4,), 0.25))
    assert not torch.equal(uniform, got)


def test_listed_candidates_must_be_teacher_activation_maps(tmp_path):
    teacher = save_teacher(tmp_path / "teacher.pt", seed=3)
    ctx = tiny_context(tmp_path)
    with pytest.raises(StrategyError, match="not activation outputs"):
        build_strategy({"name": "dfa", "teacher": str(teacher), "student_layers": ["decoders.0"],
                        "candidates": {"decoders.0": ["decoders.0"]}}, ctx)
