"""One process per run directory: a second trainer is refused, a dead one's lock is taken over, and a
comparison can be shared by several processes (``--arm``), the last one writing the results."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

from denoise.cli import main
from training.run_lock import LOCK_NAME, RunBusy, RunLock, holder
from training.train import load_recipe, train
from training_fixtures import tiny_recipe


def _hold(run_dir, pid: int) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": time.time()}))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_live_holder_refuses_a_second_process(tmp_path):
    _hold(tmp_path, os.getppid())   # the test runner's parent: alive for the whole test
    with pytest.raises(RunBusy, match=f"process {os.getppid()}"):
        with RunLock(tmp_path):
            pass
    assert holder(tmp_path)["pid"] == os.getppid()


def test_a_dead_holders_lock_is_taken_over_and_released(tmp_path):
    _hold(tmp_path, _dead_pid())
    assert holder(tmp_path) is None
    with RunLock(tmp_path):
        assert holder(tmp_path)["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_training_into_a_busy_run_writes_nothing(tmp_path):
    run = tmp_path / "run"
    _hold(run, os.getppid())
    with pytest.raises(RunBusy):
        train(load_recipe(tiny_recipe(tmp_path, steps=2)), run, progress=False)
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]


def test_a_shared_comparison_skips_busy_runs_and_benchmarks_once_all_are_done(tmp_path, capsys):
    spec = {"name": "shared", "base": str(tiny_recipe(tmp_path, steps=2)), "steps": 2, "seeds": [1, 2],
            "benchmark": {"scenes": 1, "size": 32, "levels": [1.0e-3]},
            "arms": {"pixel": {"loss": {"pixel": "l1"}}, "charbonnier": {"loss": {"pixel": "charbonnier"}}}}
    recipe = tmp_path / "compare.yaml"
    recipe.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "cmp"
    args = ["train", "compare", "--recipe", str(recipe), "--out", str(out), "--no-progress"]

    assert main([*args, "--arm", "charbonnier"]) == 0                # this process takes one arm
    assert "trained charbonnier" in capsys.readouterr().out
    assert (out / "runs" / "charbonnier" / "seed2" / "best.pt").is_file()
    assert not (out / "runs" / "pixel").exists() and not (out / "compare.json").exists()

    _hold(out / "runs" / "pixel" / "seed1", os.getppid())           # another process is training pixel/seed1
    assert main([*args, "--resume"]) == 0
    assert "other processes are training pixel/seed1" in capsys.readouterr().out
    assert (out / "runs" / "pixel" / "seed2" / "best.pt").is_file() and not (out / "compare.json").exists()

    (out / "runs" / "pixel" / "seed1" / LOCK_NAME).unlink()          # it finished (here: it never started)
    assert main([*args, "--resume"]) == 0
    assert [a["name"] for a in json.loads((out / "compare.json").read_text())["arms"]] == ["pixel", "charbonnier"]

    assert main([*args, "--resume", "--arm", "nope"]) == 2
    assert "has the arms ['pixel', 'charbonnier']" in capsys.readouterr().err
