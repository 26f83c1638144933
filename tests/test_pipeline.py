"""The training pipeline: calibrated equal steps per phase, dependent phases, resume, export tars."""
import json
import tarfile

import pytest
import yaml

from denoise.models import load_checkpoint
from training.pipeline import PipelineError, export_phase, load_pipeline, run_pipeline
from training_fixtures import tiny_recipe


def _pipeline(tmp_path, seconds=(4, 6, 4)):
    runs = tmp_path / "runs"
    fm = {"teacher": str(runs / "teacher" / "best.pt"), "layers": ["encoders.0"], "weight": 0.2}
    teacher = tiny_recipe(tmp_path, "teacher", kind="teacher", model={"arch": "teacher", "config": {"widths": [4, 8]}})
    fm_student = tiny_recipe(tmp_path, "fm", loss={"pixel": "l1", "feature_matching": fm})
    pixel = tiny_recipe(tmp_path, "pixel")
    spec = tiny_recipe(tmp_path, "spec", kind="specialist", init=str(runs / "fm" / "best.pt"), loss={"pixel": "l1"},
                       specialists={"count": 2, "overlap": 0.1, "a_range": [1.0e-4, 1.0e-2]})
    pipeline = {
        "name": "tiny", "calibration_steps": 20,
        "overrides": {"data": {"sampler": "device"}, "schedule": {"val_every": 1000, "route_every": 0}},
        "phases": [
            {"name": "teacher", "seconds": seconds[0],
             "runs": {"teacher": {"train": "teacher", "recipe": str(teacher), "route_points": 2}}},
            {"name": "students", "seconds": seconds[1],
             "runs": {"fm": {"train": "student", "recipe": str(fm_student)},
                      "pixel": {"train": "student", "recipe": str(pixel)}}},
            {"name": "specialists", "seconds": seconds[2],
             "runs": {"spec": {"train": "specialists", "recipe": str(spec)}}},
        ],
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    return path, runs


def test_pipeline_trains_phases_with_equal_calibrated_steps(tmp_path):
    path, runs = _pipeline(tmp_path)
    record = run_pipeline(path, runs, export_dir=tmp_path / "export", progress=False)
    students = record["phases"]["students"]
    assert set(students["seconds_per_step"]) == {"fm", "pixel"}
    # equal steps inside a phase, sized to the budget from the summed per-step times
    assert students["steps"] == max(20, int(6 / sum(students["seconds_per_step"].values())))
    for name in ("fm", "pixel"):
        cfg = yaml.safe_load((runs / name / "config.yaml").read_text())
        assert cfg["optim"]["steps"] == students["steps"] and cfg["data"]["sampler"] == "device"
        assert json.loads((runs / name / "run.json").read_text())["step"] == students["steps"]
        assert yaml.safe_load((runs / "recipes" / f"{name}.yaml").read_text()) == cfg
    teacher_steps = record["phases"]["teacher"]["steps"]
    route = sorted(p.name for p in (runs / "teacher" / "route").iterdir())
    assert route == [f"step_{s:07d}.pt" for s in range(teacher_steps // 2, teacher_steps + 1, teacher_steps // 2)]
    summary = json.loads((runs / "spec" / "specialists.json").read_text())
    assert [s["name"] for s in summary["specialists"]] == ["s0", "s1"]
    assert load_checkpoint(runs / "spec" / "s1" / "best.pt").meta["specialist"] == 1
    tars = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert tars == ["specialists-0.tar", "students-0.tar", "teacher-0.tar"]
    with tarfile.open(tmp_path / "export" / "students-0.tar") as tar:
        names = tar.getnames()
    assert "fm/best.pt" in names and not any(n.endswith("latest.pt") for n in names)
    # finished phases are skipped; without --resume an occupied run dir is refused
    assert run_pipeline(path, runs, resume=True, progress=False)["phases"] == record["phases"]


def test_pipeline_refuses_existing_runs_and_bad_recipes(tmp_path):
    path, runs = _pipeline(tmp_path)
    (runs / "teacher").mkdir(parents=True)
    (runs / "teacher" / "latest.pt").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="--resume"):
        run_pipeline(path, runs, progress=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"phases": [{"name": "x", "seconds": 1, "runs": {"a": {"train": "nope", "recipe": "r"}}}]}))
    with pytest.raises(PipelineError, match="teacher\\|student\\|specialists"):
        load_pipeline(bad)


def test_export_splits_into_chunks_and_skips_optimizer_state(tmp_path, monkeypatch):
    monkeypatch.setattr("training.pipeline.EXPORT_CHUNK_BYTES", 1000)
    run = tmp_path / "r"
    run.mkdir()
    for name in ("a.pt", "b.pt", "c.pt", "latest.pt"):
        (run / name).write_bytes(b"0" * 600)
    written = export_phase([run], tmp_path / "out", "p")
    assert [p.name for p in written] == ["p-0.tar", "p-1.tar", "p-2.tar"]
    members = [m for p in written for m in tarfile.open(p).getnames()]
    assert sorted(members) == ["r/a.pt", "r/b.pt", "r/c.pt"]


def test_the_shipped_pipeline_recipe_resolves():
    from pathlib import Path

    from training.pipeline import run_config

    root = Path(__file__).resolve().parents[1]
    spec = load_pipeline(root / "training" / "recipes" / "shipped.yaml")
    configs = {name: run_config(spec, run) for phase in spec["phases"] for name, run in phase["runs"].items()}
    assert set(configs) == {"teacher", "student_fm", "student_pixel", "student_fa_sep_long", "student_plain15_long",
                            "specialists_fa_long"}
    students = [configs[n] for n in ("student_fm", "student_pixel", "student_fa_sep_long", "student_plain15_long")]
    # the side-by-side students differ only in loss or model: same seed (batches), none branches off a file
    assert len({c["seed"] for c in students}) == 1 and not any(c.get("branch_from") for c in students)
    assert all(c["data"]["sampler"] == "device" for c in configs.values())
    assert configs["specialists_fa_long"]["init"] == "runs/student_fa_sep_long/best.pt"
    assert configs["specialists_fa_long"]["model"] == configs["student_fa_sep_long"]["model"]
