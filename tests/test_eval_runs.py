"""`denoise eval runs`: training runs side by side at equal steps, rendered into BENCHMARKS.md."""
import json

from denoise.cli import main
from evaluation.report import render_report
from training.train import load_recipe, train
from training_fixtures import tiny_recipe


def test_runs_are_described_and_rendered_at_equal_steps(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, steps=6)
    train(load_recipe(recipe), tmp_path / "a", progress=False)
    train(load_recipe(recipe, {"model": {"arch": "plain"}}), tmp_path / "b", max_minutes=0, progress=False)
    out = tmp_path / "results" / "training.json"
    assert main(["eval", "runs", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    a, b = data["runs"]
    assert a["finished"] and a["step"] == 6 and set(a["val"]) == {"3", "6"} and a["arch"] == "feature_align"
    assert not b["finished"] and b["step"] == 1 and b["arch"] == "plain" and b["val"] == {}
    assert a["params"] > 0 and a["macs_per_mp"] > 0 and a["loss"] == "l1"
    md = render_report(out.parent, tmp_path / "B.md").read_text()
    assert "## Training runs and ablations" in md and "1/6 (paused)" in md


def test_specialists_run_is_rendered_against_its_generalist(tmp_path):
    from training.specialists import train_specialists

    gen = tiny_recipe(tmp_path, name="gen", steps=2)
    train(load_recipe(gen), tmp_path / "gen", progress=False)
    spec = tiny_recipe(tmp_path, name="spec", steps=2, kind="specialist", init=str(tmp_path / "gen" / "best.pt"),
                       specialists={"count": 2, "overlap": 0.1, "a_range": [1.0e-4, 1.0e-2]})
    train_specialists(load_recipe(spec), tmp_path / "spec", progress=False)
    out = tmp_path / "results" / "training.json"
    assert main(["eval", "runs", str(tmp_path / "gen"), str(tmp_path / "spec"), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["runs"]] == ["gen"]
    group = data["specialists"][0]
    assert [s["name"] for s in group["specialists"]] == ["s0", "s1"] and group["boundaries"] == [group["boundaries"][0]]
    md = render_report(out.parent, tmp_path / "B.md").read_text()
    assert "#### Specialists" in md and "| s1 |" in md


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["eval", "runs", str(tmp_path / "empty"), "--out", str(tmp_path / "t.json")]) == 2
    assert "not a training run dir" in capsys.readouterr().err
