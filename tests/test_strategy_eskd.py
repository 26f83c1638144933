"""Early-stopped teacher and ESKD: the teacher is picked along its route and never run after t_stop."""
import json

import pytest
import torch
import yaml

from denoise.models.teacher import UNetTeacher
from strategy_fixtures import teacher_route, tiny_context
from training.strategies import StrategyError, build_strategy
from training.strategies.route import early_stopped_checkpoint
from training.train import load_recipe, train
from training_fixtures import tiny_recipe


def test_no_teacher_forward_after_t_stop(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=4)
    calls = []

    def count(module, _inputs):
        if isinstance(module, UNetTeacher):
            calls.append(module)

    recipe = tiny_recipe(tmp_path, steps=6, loss={"pixel": "l1", "strategy": {
        "name": "eskd", "route": str(route), "fraction": 0.5, "stop_step": 3, "weight": 1.0}})
    handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
    try:
        train(load_recipe(recipe), tmp_path / "run", progress=False)
    finally:
        handle.remove()
    print(f"teacher forwards in a 6-step run with t_stop = 3: {len(calls)}")
    assert len(calls) == 3
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = {e["step"]: e for e in events if "loss" in e}
    assert "eskd" in logged[2] and "eskd" not in logged[4] and "eskd" not in logged[6]


def test_early_stopped_teacher_is_the_route_checkpoint_nearest_the_fraction(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=4, every=10)      # steps 10, 20, 30, 40 of 40
    assert early_stopped_checkpoint(route, 0.5).name == "step_0000020.pt"
    assert early_stopped_checkpoint(route, 0.3).name == "step_0000010.pt"
    assert early_stopped_checkpoint(route, 0.0).name == "step_0000010.pt"
    assert early_stopped_checkpoint(route, 1.0).name == "step_0000040.pt"
    # a teacher planned for 80 steps whose route stops at 40: fractions are of the plan
    (tmp_path / "teacher" / "config.yaml").write_text(yaml.safe_dump({"optim": {"steps": 80}}))
    assert early_stopped_checkpoint(route, 0.25).name == "step_0000020.pt"
    assert early_stopped_checkpoint(route, 0.25, total_steps=40).name == "step_0000010.pt"


def test_weight_schedule_stops_at_t_stop(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=2)
    eskd = build_strategy({"name": "eskd", "route": str(route), "stop_fraction": 0.5, "weight": 2.0},
                          tiny_context(tmp_path, steps=10))
    assert [eskd.weight_at(s) for s in range(10)] == [2.0] * 5 + [0.0] * 5
    assert [eskd.teacher_needed(s) for s in (0, 4, 5, 9)] == [True, True, False, False]
    assert eskd.teacher_path.name == "step_0000010.pt"


def test_eskd_options_are_checked(tmp_path):
    route = teacher_route(tmp_path / "teacher", count=2)
    ctx = tiny_context(tmp_path)
    with pytest.raises(StrategyError, match="exactly one of"):
        build_strategy({"name": "eskd", "route": str(route), "teacher": str(route / "step_0000010.pt")}, ctx)
    with pytest.raises(StrategyError, match="fraction"):
        build_strategy({"name": "eskd", "route": str(route), "stop_fraction": 1.5}, ctx)
