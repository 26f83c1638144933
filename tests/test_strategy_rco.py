"""RCO: anchors along the teacher's route never go back and end on the final teacher."""
import json

import pytest
import torch

from denoise.models import build_model, load_checkpoint, save_checkpoint
from strategy_fixtures import save_teacher, teacher_route, tiny_context
from training.strategies import StrategyError, build_strategy
from training.strategies.rco import equal_interval_anchor
from training.train import load_recipe, train
from training_fixtures import tiny_recipe


def _anchors_over_run(strategy, steps: int) -> list[int]:
    seen = []
    for step in range(steps):
        strategy.begin_step(step)
        seen.append(strategy.current)
    return seen


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_equal_intervals_walk_the_route_and_end_on_the_final_teacher(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=3)
    final = save_teacher(tmp_path / "teacher" / "best.pt", seed=999)
    ctx = tiny_context(tmp_path, steps=12)
    rco = build_strategy({"name": "rco", "route": str(route), "final": str(final)}, ctx)
    anchors = _anchors_over_run(rco, 12)
    print("equal-interval anchors per step:", anchors)
    assert anchors == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert [equal_interval_anchor(s, 12, 4) for s in range(12)] == anchors
    assert _same_weights(rco.teacher, load_checkpoint(final))
    assert rco.history == [[0, 0], [3, 1], [6, 2], [9, 3]]


def _offset_teacher(path, offset: float):
    """A teacher whose output is the input plus ``offset`` noise scales: a known distance from the student."""
    torch.manual_seed(0)
    teacher = build_model("teacher", widths=[8, 16])
    torch.nn.init.zeros_(teacher.head.weight)
    torch.nn.init.constant_(teacher.head.bias, offset)
    save_checkpoint(teacher, path)
    return str(path)


def test_greedy_jumps_to_the_furthest_anchor_within_threshold_and_ends_on_the_final(tmp_path):
    offsets = [0.0, 3.0, 1.0, 4.0]  # anchor 1 is out of reach, anchor 2 within: greedy must skip over 1
    anchors = [_offset_teacher(tmp_path / f"a{k}.pt", c) for k, c in enumerate(offsets)]
    ctx = tiny_context(tmp_path, steps=20)
    spec = {"name": "rco", "checkpoints": anchors, "schedule": "greedy", "threshold": 2.0, "check_every": 5,
            "final_phase": 0.25}
    rco = build_strategy(spec, ctx)
    losses = rco.held_out_losses()   # the student is not trained here, so these stay fixed
    print("held-out distillation loss per anchor:", [round(v, 3) for v in losses])
    assert losses[0] < 2.0 < losses[1] and losses[2] < 2.0 < losses[3]
    seen = _anchors_over_run(rco, 20)
    print("greedy anchors per step:", seen)
    assert seen == [2] * 15 + [3] * 5            # furthest within reach at the first check; final phase: final
    assert rco.history == [[0, 0], [0, 2], [15, 3]]
    strict = build_strategy({**spec, "threshold": 0.0}, ctx)
    assert _anchors_over_run(strict, 20) == [0] * 15 + [3] * 5


def test_rco_run_logs_anchors_and_resumes_exactly(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=2)
    recipe = tiny_recipe(tmp_path, steps=6, loss={"pixel": "l1", "strategy": {"name": "rco", "route": str(route)}})
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    straight = torch.load(tmp_path / "straight" / "latest.pt", weights_only=True)
    assert straight["strategy"] == {"current": 1, "history": [[0, 0], [3, 1]]}
    events = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [e["anchor"] for e in events if "anchor" in e] == [0.0, 1.0, 1.0]
    train(load_recipe(recipe), tmp_path / "cut", max_minutes=0.0, progress=False)   # pauses after one step
    train(load_recipe(recipe), tmp_path / "cut", resume=True, progress=False)
    resumed = torch.load(tmp_path / "cut" / "latest.pt", weights_only=True)
    assert resumed["strategy"] == straight["strategy"]
    for k, v in straight["model"]["state_dict"].items():
        torch.testing.assert_close(resumed["model"]["state_dict"][k], v, rtol=0, atol=1e-6)


def test_rco_needs_route_checkpoints(tmp_path):
    (tmp_path / "empty").mkdir()
    ctx = tiny_context(tmp_path)
    with pytest.raises(StrategyError, match="route_every"):
        build_strategy({"name": "rco", "route": str(tmp_path / "empty")}, ctx)
    with pytest.raises(StrategyError, match="unknown option"):
        build_strategy({"name": "rco", "route": str(tmp_path / "empty"), "treshold": 1}, ctx)
