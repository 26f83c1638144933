"""Noise sub-range split and specialist fine-tuning."""
import json
import math

import pytest
import yaml

from denoise.models import load_checkpoint
from denoise.selector import select_index
from training.specialists import split_ranges, train_specialists
from training.train import load_recipe, train
from training_fixtures import tiny_recipe


def test_split_is_geometric_with_overlap():
    boundaries, cores, ranges = split_ranges((1e-4, 1e-2), 4, overlap=0.1)
    assert len(boundaries) == 3
    assert [math.log10(b) for b in boundaries] == pytest.approx([-3.5, -3.0, -2.5])
    assert cores[0] == (1e-4, boundaries[0]) and cores[-1] == (boundaries[-1], 1e-2)
    for (c_lo, c_hi), (t_lo, t_hi) in zip(cores, ranges):
        assert t_lo <= c_lo < c_hi <= t_hi
    assert ranges[0][0] == 1e-4 and ranges[-1][1] == 1e-2  # never beyond the global range
    assert ranges[1][0] < cores[1][0] and ranges[1][1] > cores[1][1]
    for k, (c_lo, c_hi) in enumerate(cores):  # the selector picks specialist k inside core k
        assert select_index(math.sqrt(c_lo * c_hi), boundaries) == k


def test_bad_boundaries_are_refused():
    with pytest.raises(ValueError):
        split_ranges((1e-4, 1e-2), 3, boundaries=[1e-3])
    with pytest.raises(ValueError):
        split_ranges((1e-4, 1e-2), 3, boundaries=[2e-3, 1e-3])


def test_specialists_run_writes_ranges_and_scores(tmp_path):
    gen = tiny_recipe(tmp_path, name="gen", steps=3)
    train(load_recipe(gen), tmp_path / "gen", progress=False)
    spec = tiny_recipe(tmp_path, name="spec", steps=2, kind="specialist", init=str(tmp_path / "gen" / "best.pt"),
                       specialists={"count": 2, "overlap": 0.1, "a_range": [1.0e-4, 1.0e-2]})
    result = train_specialists(load_recipe(spec), tmp_path / "spec", progress=False)
    written = json.loads((tmp_path / "spec" / "specialists.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert written["boundaries"] == pytest.approx([1e-3])
    for k, s in enumerate(written["specialists"]):
        model = load_checkpoint(tmp_path / "spec" / s["checkpoint"])
        assert model.meta["specialist"] == k
        assert model.meta["core_range"] == pytest.approx(s["core_range"])
        assert set(s["val_psnr"]) == set(s["generalist_val_psnr"])
    cfg = yaml.safe_load((tmp_path / "spec" / "s1" / "config.yaml").read_text())
    assert cfg["data"]["noise"]["a_range"][0] < 1e-3 < cfg["data"]["noise"]["a_range"][1]


def test_specialists_trained_one_at_a_time_then_summarized(tmp_path):
    gen = tiny_recipe(tmp_path, name="gen", steps=2)
    train(load_recipe(gen), tmp_path / "gen", progress=False)
    spec = tiny_recipe(tmp_path, name="spec", steps=2, kind="specialist", init=str(tmp_path / "gen" / "best.pt"),
                       specialists={"count": 2, "overlap": 0.1, "a_range": [1.0e-4, 1.0e-2]})
    config = load_recipe(spec)
    assert train_specialists(config, tmp_path / "spec", progress=False, only=1) == {"trained": 1}
    assert (tmp_path / "spec" / "s1" / "best.pt").is_file() and not (tmp_path / "spec" / "s0").exists()
    assert not (tmp_path / "spec" / "specialists.json").exists()
    train_specialists(config, tmp_path / "spec", progress=False, only=0)
    summary = train_specialists(config, tmp_path / "spec", progress=False)  # both finished: summary only
    assert [s["name"] for s in summary["specialists"]] == ["s0", "s1"]
    with pytest.raises(ValueError, match="specialists 0"):
        train_specialists(config, tmp_path / "spec", progress=False, only=2)


def test_paused_specialist_resumes_to_a_new_step_count(tmp_path):
    gen = tiny_recipe(tmp_path, name="gen", steps=2)
    train(load_recipe(gen), tmp_path / "gen", progress=False)
    spec = tiny_recipe(tmp_path, name="spec", steps=2, kind="specialist", init=str(tmp_path / "gen" / "best.pt"),
                       specialists={"count": 2, "overlap": 0.1, "a_range": [1.0e-4, 1.0e-2]})
    config = load_recipe(spec)
    assert train_specialists(config, tmp_path / "spec", progress=False, only=0, max_minutes=0) == {"paused_at": 0}
    train_specialists(config, tmp_path / "spec", resume=True, progress=False, only=0, steps=4)
    info = json.loads((tmp_path / "spec" / "s0" / "run.json").read_text())
    assert info["step"] == 4 and "finished" in info and info["steps_changed"][0]["to"] == 4
