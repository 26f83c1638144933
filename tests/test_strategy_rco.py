"""RCO: anchors along the teacher's route never go back and end on the final teacher."""
import json
from pathlib import Path

import pytest
import torch

from denoise.models import build_model, load_checkpoint, save_checkpoint
from strategy_fixtures import save_teacher, teacher_route, tiny_context
from training.strategies import StrategyError, build_strategy
from training.losses import output_distillation
from training.strategies.rco import equal_interval_anchor
from training.strategies.route import psnr_spaced, route_validation_psnr
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


def test_greedy_jumps_to_the_furthest_anchor_within_a_margin_of_the_current_distance(tmp_path):
    offsets = [0.0, 3.0, 1.0, 4.0]  # anchor 1 is out of reach, anchor 2 within: greedy must skip over 1
    anchors = [_offset_teacher(tmp_path / f"a{k}.pt", c) for k, c in enumerate(offsets)]
    ctx = tiny_context(tmp_path, steps=20)
    spec = {"name": "rco", "checkpoints": anchors, "schedule": "greedy", "check_every": 5, "final_phase": 0.25}
    losses = build_strategy(spec, ctx).held_out_losses()   # the student is not trained here, so these stay fixed
    print("held-out distillation loss per anchor:", [round(v, 3) for v in losses])
    assert losses[2] < losses[1] and losses[2] < losses[3]
    margin = (losses[2] + min(losses[1], losses[3])) / 2 / losses[0] - 1   # anchor 2 within, 1 and 3 not
    rco = build_strategy({**spec, "threshold": margin}, ctx)
    seen = _anchors_over_run(rco, 20)
    print(f"greedy anchors per step (margin {margin:.2f}):", seen)
    # first check after following anchor 0 for check_every steps; from anchor 2 the margin grows with the
    # student's (larger) distance to it, so the final anchor comes within reach at the next check
    assert losses[3] <= (1 + margin) * losses[2]
    assert seen == [0] * 5 + [2] * 5 + [3] * 10
    assert rco.history == [[0, 0], [5, 2], [10, 3]]
    strict = build_strategy({**spec, "threshold": 0.0}, ctx)
    assert _anchors_over_run(strict, 20) == [0] * 15 + [3] * 5


def _trained_teacher_route(tmp_path) -> Path:
    """A real route: a tiny teacher trained a few steps, route and validation at every other step."""
    recipe = tiny_recipe(tmp_path, "teacher", steps=16, kind="teacher",
                         model={"arch": "teacher", "config": {"widths": [8, 16]}},
                         optim={"lr": 3e-3, "steps": 16, "warmup": 2},
                         schedule={"log_every": 2, "val_every": 2, "ckpt_every": 8, "route_every": 2})
    train(load_recipe(recipe), tmp_path / "teacher", progress=False)
    return tmp_path / "teacher"


def test_anchors_of_a_real_route_span_its_validation_psnr_and_differ(tmp_path):
    run = _trained_teacher_route(tmp_path)
    psnr = route_validation_psnr(run / "route")
    best_step = load_checkpoint(run / "best.pt").meta["step"]
    print("teacher validation PSNR per route step:", {k: round(v, 3) for k, v in psnr.items()}, "best:", best_step)
    ctx = tiny_context(tmp_path, steps=20)
    rco = build_strategy({"name": "rco", "route": str(run / "route"), "final": str(run / "best.pt"), "count": 3,
                          "schedule": "greedy"}, ctx)
    print("anchors:", [p.name for p in rco.anchors], [round(v, 3) for v in rco.anchor_psnr])
    steps = sorted(psnr)
    assert rco.anchors[0].name == f"step_{steps[0]:07d}.pt" and rco.anchors[-1] == run / "best.pt"
    assert len(set(rco.anchors)) == 3
    assert rco.anchor_psnr[0] == psnr[steps[0]] and rco.anchor_psnr[-1] == psnr[best_step]
    # the middle anchor is the route checkpoint nearest half-way in PSNR, wherever along the steps it is
    middle = [s for s in steps if s != best_step]
    target = (psnr[steps[0]] + psnr[best_step]) / 2
    expected = min(middle[1:], key=lambda s: (abs(psnr[s] - target), s))
    assert rco.anchors[1].name == f"step_{expected:07d}.pt"
    outputs = rco._anchor_outputs
    gaps = [output_distillation(outputs[i], outputs[j], rco._held_out.noise).item()
            for i in range(3) for j in range(i + 1, 3)]
    print("held-out output distance between anchors:", [round(g, 4) for g in gaps])
    assert min(gaps) > 1e-3


def test_psnr_spacing_follows_what_the_teacher_learned_not_its_steps():
    converged = [30.0, 38.0, 41.0, 42.0, 42.5, 42.8, 42.9, 43.0]  # most of the learning in the first steps
    assert psnr_spaced(converged, 4) == [0, 1, 2, 7]
    assert psnr_spaced(converged, 2) == [0, 7]
    assert psnr_spaced(converged, 10) == list(range(8))
    assert psnr_spaced([40.0, 40.0, 40.0, 40.0], 3) == [0, 1, 3]   # flat: distinct points all the same


def test_route_without_validation_at_its_steps_is_a_clear_error(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=5)
    (tmp_path / "teacher" / "metrics.jsonl").write_text(json.dumps({"step": 10, "val_psnr": {"mean": 30.0}}) + "\n")
    with pytest.raises(StrategyError, match=r"no validation PSNR at route step\(s\) \[20, 30, 40, 50\]"):
        build_strategy({"name": "rco", "route": str(route), "count": 3}, tiny_context(tmp_path))


def test_rco_run_logs_anchors_and_resumes_exactly(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=2)
    recipe = tiny_recipe(tmp_path, steps=6, loss={"pixel": "l1", "strategy": {"name": "rco", "route": str(route)}})
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    straight = torch.load(tmp_path / "straight" / "latest.pt", weights_only=True)
    assert straight["strategy"] == {"current": 1, "history": [[0, 0], [3, 1]],
                                    "anchors": [str(route / "step_0000010.pt"), str(route / "step_0000020.pt")]}
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
