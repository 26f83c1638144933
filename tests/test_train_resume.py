"""Runs: run dir contents, exact resume, time-limited pause, DDP on CPU with gloo."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from denoise.models import load_checkpoint
from training.train import load_recipe, train
from training_fixtures import tiny_recipe

ROOT = Path(__file__).resolve().parents[1]


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["model"]["state_dict"]


def test_run_dir_is_self_describing(tmp_path):
    cfg = load_recipe(tiny_recipe(tmp_path, steps=6))
    train(cfg, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 7
    info = json.loads((run / "run.json").read_text())
    assert info["step"] == 6 and "finished" in info
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_psnr" in e for e in events) and any("loss" in e for e in events)
    model = load_checkpoint(run / "best.pt")
    assert model.meta["kind"] == "student" and model.arch == "feature_align"
    assert sorted(p.name for p in (run / "route").iterdir()) == ["step_0000003.pt", "step_0000006.pt"]


def test_resume_continues_exactly(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    # same run cut after 3 steps (as if killed right after its checkpoint), then resumed
    train(load_recipe(recipe, {"optim": {"steps": 3}}), tmp_path / "cut", progress=False)
    state = torch.load(tmp_path / "cut" / "latest.pt", weights_only=True)
    assert state["step"] == 3 and state["optimizer"]["state"]
    cfg = yaml.safe_load((tmp_path / "cut" / "config.yaml").read_text())
    cfg["optim"]["steps"] = 6
    (tmp_path / "cut" / "config.yaml").write_text(yaml.safe_dump(cfg))
    train(load_recipe(recipe), tmp_path / "cut", resume=True, progress=False)
    a, b = _weights(tmp_path / "straight" / "latest.pt"), _weights(tmp_path / "cut" / "latest.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_existing_run_is_not_overwritten_and_resume_needs_a_checkpoint(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=3)
    train(load_recipe(recipe), tmp_path / "run", progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(load_recipe(recipe), tmp_path / "run", progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(load_recipe(recipe), tmp_path / "empty", resume=True, progress=False)


def test_max_minutes_pauses_with_a_checkpoint(tmp_path):
    train(load_recipe(tiny_recipe(tmp_path, steps=50)), tmp_path / "run", max_minutes=0.0, progress=False)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "paused" in info and info["step"] == 1
    assert torch.load(tmp_path / "run" / "latest.pt", weights_only=True)["step"] == 1


def _free_port() -> int:
    """A port nothing listens on now, so the rendezvous cannot collide with another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_gloo_ddp_runs(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "denoise.cli", "train", "student", "--recipe", str(recipe), "--out", str(tmp_path / "ddp"),
           "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert info["world_size"] == 2 and info["step"] == 3
    load_checkpoint(tmp_path / "ddp" / "best.pt")


def test_branch_with_the_same_loss_equals_the_straight_run(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    train(load_recipe(recipe, {"optim": {"steps": 6}}), tmp_path / "trunk", max_minutes=0, progress=False)
    trunk = tmp_path / "trunk" / "latest.pt"
    assert torch.load(trunk, weights_only=True)["step"] == 1
    train(load_recipe(recipe, {"branch_from": str(trunk)}), tmp_path / "branch", progress=False)
    info = json.loads((tmp_path / "branch" / "run.json").read_text())
    assert info["branch_step"] == 1 and info["branched_from"] == str(trunk) and info["step"] == 6
    straight, branch = _weights(tmp_path / "straight" / "latest.pt"), _weights(tmp_path / "branch" / "latest.pt")
    assert all(torch.equal(straight[k], branch[k]) for k in straight)
    # another loss on the branch changes the result (the branch really trains with its own recipe)
    other = load_recipe(recipe, {"branch_from": str(trunk), "loss": {"pixel": "l2"}})
    train(other, tmp_path / "l2", progress=False)
    l2 = _weights(tmp_path / "l2" / "latest.pt")
    assert not all(torch.equal(straight[k], l2[k]) for k in straight)


def test_bad_branch_points_are_clear_errors(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=3)
    with pytest.raises(FileNotFoundError, match="branch_from: .* does not exist"):
        train(load_recipe(recipe, {"branch_from": str(tmp_path / "missing.pt")}), tmp_path / "a", progress=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a torch checkpoint"):
        train(load_recipe(recipe, {"branch_from": str(tmp_path / "junk.pt")}), tmp_path / "b", progress=False)
    train(load_recipe(recipe), tmp_path / "trunk", progress=False)
    with pytest.raises(ValueError, match="not a resumable checkpoint"):  # a best.pt has no optimizer state
        train(load_recipe(recipe, {"branch_from": str(tmp_path / "trunk" / "best.pt")}), tmp_path / "c", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_resumed_branch_keeps_its_origin(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "trunk", max_minutes=0, progress=False)
    branch = load_recipe(recipe, {"branch_from": str(tmp_path / "trunk" / "latest.pt")})
    train(branch, tmp_path / "branch", max_minutes=0, progress=False)
    train(branch, tmp_path / "branch", resume=True, progress=False)
    info = json.loads((tmp_path / "branch" / "run.json").read_text())
    assert info["branch_step"] == 1 and info["step"] == 6


def test_unknown_sampler_is_refused(tmp_path):
    with pytest.raises(ValueError, match="data.sampler must be 'host' or 'device'"):
        train(load_recipe(tiny_recipe(tmp_path), {"data": {"sampler": "gpu"}}), tmp_path / "r", progress=False)


def _cli_train(recipe: Path, out: Path, *extra: str) -> int:
    from denoise.cli import main

    return main(["train", "student", "--recipe", str(recipe), "--out", str(out), "--no-progress", *extra])


def test_truncated_latest_is_a_one_line_error_naming_it(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, steps=3)
    train(load_recipe(recipe), tmp_path / "run", progress=False)
    latest = tmp_path / "run" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    assert _cli_train(recipe, tmp_path / "run", "--resume") == 2
    err = capsys.readouterr().err.strip()
    print(err)
    assert len(err.splitlines()) == 1 and str(latest) in err and "truncated or corrupt" in err


class _Mkdir:
    """Unpickling this would create a folder: proof of code running from a checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (str(self.path),)


def test_malicious_latest_is_refused_with_a_reason(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, steps=3)
    train(load_recipe(recipe), tmp_path / "run", progress=False)
    latest, marker = tmp_path / "run" / "latest.pt", tmp_path / "pwned"
    state = torch.load(latest, weights_only=True)
    torch.save({**state, "best": _Mkdir(marker)}, latest)
    assert _cli_train(recipe, tmp_path / "run", "--resume") == 2
    err = capsys.readouterr().err.strip()
    print(err)
    assert not marker.exists()
    assert len(err.splitlines()) == 1 and str(latest) in err and "refused" in err and "mkdir" in err


def test_resume_honours_a_new_step_count_and_refuses_one_already_passed(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    run = tmp_path / "run"
    train(load_recipe(recipe), run, progress=False, steps=3)
    train(load_recipe(recipe), run, resume=True, progress=False, steps=5)
    assert torch.load(run / "latest.pt", weights_only=True)["step"] == 5
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["steps"] == 5
    info = json.loads((run / "run.json").read_text())
    assert info["step"] == 5 and "finished" in info
    assert info["steps_changed"] == [{"at_step": 3, "from": 3, "to": 5}]
    with pytest.raises(ValueError, match=r"--steps 4: .*latest.pt is already at step 5"):
        train(load_recipe(recipe), run, resume=True, progress=False, steps=4)
    assert torch.load(run / "latest.pt", weights_only=True)["step"] == 5


def test_resume_drops_metric_rows_logged_after_the_checkpoint(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "straight", progress=False)
    straight = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    train(load_recipe(recipe, {"optim": {"steps": 3}}), tmp_path / "cut", progress=False)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    # a run killed after logging step 4 but before its next checkpoint, mid-way through a line
    after = [json.dumps(e) for e in straight if e["step"] > 3][:1]
    metrics.write_text(metrics.read_text() + "".join(line + "\n" for line in after) + '{"step": 5, "lo')
    train(load_recipe(recipe), tmp_path / "cut", resume=True, progress=False, steps=6)
    resumed = [json.loads(line) for line in metrics.read_text().splitlines()]
    keys = [(e["step"], "val_psnr" in e) for e in resumed]
    assert keys == [(e["step"], "val_psnr" in e) for e in straight]
    assert len(set(keys)) == len(keys)


def test_stale_part_files_are_removed_on_start(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "run", max_minutes=0, progress=False)
    run = tmp_path / "run"
    stale = [run / ".latest.pt.0123456789ab.part", run / "route" / ".step_0000003.pt.ba9876543210.part"]
    for p in stale:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"half a checkpoint")
    keep = run / "notes.part"   # not an interrupted checkpoint: left alone
    keep.write_text("mine")
    train(load_recipe(recipe), run, resume=True, progress=False)
    assert not any(p.exists() for p in stale) and keep.exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".best.pt.0123456789ab.part").write_bytes(b"")
    train(load_recipe(recipe), fresh, progress=False)
    assert not list(fresh.glob(".*.part"))


def test_cli_resume_with_steps_extends_the_run(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, steps=3)
    run = tmp_path / "run"
    assert _cli_train(recipe, run) == 0
    assert _cli_train(recipe, run, "--resume", "--steps", "5") == 0
    assert json.loads((run / "run.json").read_text())["step"] == 5
    capsys.readouterr()
    assert _cli_train(recipe, run, "--resume", "--steps", "4") == 2
    err = capsys.readouterr().err.strip()
    print(err)
    assert len(err.splitlines()) == 1 and "already at step 5" in err


def test_checkpoints_are_flushed_to_disk_before_the_rename(tmp_path, monkeypatch):
    import stat

    from denoise.models import build_model
    from denoise.models.registry import save_checkpoint

    synced = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((st.st_ino, stat.S_ISDIR(st.st_mode), target.exists()))
        real_fsync(fd)

    target = tmp_path / "ckpt.pt"
    monkeypatch.setattr(os, "fsync", fsync)
    save_checkpoint(build_model("feature_align"), target)
    assert (os.stat(target).st_ino, False, False) in synced  # the renamed file, synced while not yet renamed
    assert (os.stat(tmp_path).st_ino, True, True) in synced   # and the folder holding the rename
