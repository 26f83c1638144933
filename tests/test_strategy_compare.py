"""``denoise train compare``: every arm × seed trained and benchmarked, results rendered into BENCHMARKS.md."""
import json
import re

import pytest
import yaml

from denoise.cli import main
from evaluation.report import render_report
from strategy_fixtures import save_teacher, teacher_route
from denoise.models import build_model
from denoise.models.registry import count_macs_per_megapixel
from training.compare import CompareError, arms, load_compare, pareto_flags
from training_fixtures import tiny_recipe


def _spec(tmp_path) -> dict:
    route = teacher_route(tmp_path / "teacher", count=2)
    teachers = {name: str(save_teacher(tmp_path / f"{name}.pt", seed=i, widths=w))
                for i, (name, w) in enumerate({"small": (4, 8), "medium": (8, 16), "large": (16, 32)}.items())}
    return {
        "name": "smoke", "base": str(tiny_recipe(tmp_path, steps=2)), "steps": 2, "seeds": [1, 2],
        "reference": "feature_matching",
        "benchmark": {"scenes": 2, "size": 32, "levels": [1.0e-3, 1.0e-2]},  # a procedural scene, a photograph
        "arms": {
            "pixel": {"loss": {"pixel": "l1"}},
            "feature_matching": {"loss": {"pixel": "l1", "feature_matching": {
                "teacher": teachers["large"], "layers": ["encoders.0"], "weight": 0.2}}},
            "eskd": {"loss": {"pixel": "l1", "strategy": {"name": "eskd", "route": str(route), "stop_fraction": 0.5}}},
        },
        "capacity_gap": {"teachers": teachers,
                         "loss": {"pixel": "l1", "output_distill": {"teacher": "{teacher}", "weight": 0.5}}},
        "student_search": {"penalty_weights": [0.005], "steps": 2,
                           "space": {"widths": [8, 16], "enc_slots": [1, 1], "dec_slots": [1], "fa_hidden": [4, 4]}},
    }


def test_compare_trains_every_arm_and_seed_and_reports_them(tmp_path, capsys):
    recipe = tmp_path / "compare.yaml"
    recipe.write_text(yaml.safe_dump(_spec(tmp_path), sort_keys=False))
    out = tmp_path / "cmp"
    args = ["train", "compare", "--recipe", str(recipe), "--out", str(out), "--no-progress"]
    assert main([*args, "--max-minutes", "0"]) == 0                  # pauses before the first run
    assert "--resume" in capsys.readouterr().out and not (out / "compare.json").exists()
    assert main([*args, "--resume"]) == 0
    data = json.loads((out / "compare.json").read_text())
    names = [a["name"] for a in data["arms"]]
    assert names == ["pixel", "feature_matching", "eskd", "gap-small", "gap-medium", "gap-large", "search-0.005"]
    for arm in data["arms"]:
        assert [r["seed"] for r in arm["runs"]] == [1, 2]
        assert all(r["steps"] == 2 and r["wall_s"] > 0 and len(r["raw_psnr"]) == 2 for r in arm["runs"])
        assert arm["mean_raw_psnr"] == pytest.approx(sum(r["mean_raw_psnr"] for r in arm["runs"]) / 2)
    assert {a["group"] for a in data["arms"]} == {"baseline", "strategy", "capacity_gap", "search"}
    assert next(a for a in data["arms"] if a["name"] == "feature_matching")["delta_vs_reference"] == 0.0
    gap = data["capacity_gap"]
    assert [g["teacher"] for g in gap] == ["small", "medium", "large"]
    assert gap[0]["params"] < gap[1]["params"] < gap[2]["params"]
    assert [p["arm"] for p in data["pareto"]] == ["feature_matching", "search-0.005"]
    assert data["pareto"][0]["shipped"] and data["search_space_holds_shipped"]   # the base student ships
    assert (out / "search" / "penalty_0.005.json").is_file() and (out / "benchmark.json").is_file()

    md = render_report(out, tmp_path / "BENCHMARKS.md").read_text()
    print(md[md.index("## Distillation"):md.index("## Distillation") + 1800])
    assert "## Distillation strategies at equal budget" in md
    assert re.search(r"\| eskd \| strategy \| \d+\.\d\d ± \d+\.\d\d \| \d+\.\d\d ± \d+\.\d\d \| "
                     r"\d+\.\d\d ± \d+\.\d\d \| \d+\.\d\d / \d+\.\d\d \| [+-]\d+\.\d\d \| \d+\.\d\d \| \d+\.\d \|", md)
    assert "| small | " in md and "| search-0.005 | 0.005 |" in md and "| feature_matching (shipped student) |" in md
    assert "photographs" in data["arms"][0]["by_group"]
    assert re.search(r"\| search-0\.005 \| 0\.005 \| \d+\.\d{3} \| [\d,]+ \| \d+\.\d\d ± \d+\.\d\d \| "
                     r"\d+\.\d\d ± \d+\.\d\d \| (yes|no) \|", md)   # the Pareto table adds the photographs

    stamp = (out / "runs" / "pixel" / "seed1" / "latest.pt").stat().st_mtime_ns
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert (out / "runs" / "pixel" / "seed1" / "latest.pt").stat().st_mtime_ns == stamp   # finished runs kept


def test_resumed_comparison_keeps_its_step_count(tmp_path, capsys):
    recipe = tmp_path / "compare.yaml"
    recipe.write_text(yaml.safe_dump({**_spec(tmp_path), "student_search": None}, sort_keys=False))
    args = ["train", "compare", "--recipe", str(recipe), "--out", str(tmp_path / "cmp"), "--no-progress"]
    assert main([*args, "--max-minutes", "0"]) == 0                  # pauses before the first run
    assert main([*args, "--resume", "--steps", "5"]) == 2
    err = capsys.readouterr().err
    print(err)
    assert "--steps 5" in err and "for 2 steps" in err
    assert not (tmp_path / "cmp" / "runs").exists()


def test_compare_recipe_is_checked_before_any_training(tmp_path):
    spec = _spec(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**spec, "seeds": [1]}, sort_keys=False))
    with pytest.raises(CompareError, match="at least 2 different seeds"):
        load_compare(path)
    spec["arms"]["eskd"]["loss"]["strategy"]["route"] = str(tmp_path / "nowhere")
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["train", "compare", "--recipe", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert not (tmp_path / "o" / "runs").exists()


def test_shipped_compare_recipe_loads():
    spec = load_compare("training/recipes/compare.yaml")
    assert spec["reference"] == "feature_matching" and len(spec["seeds"]) >= 2
    assert {"pixel", "feature_matching", "rco_equal", "rco_greedy", "eskd", "afd_offline", "afd_online", "dfa",
            "emd"} <= set(spec["arms"])


def test_hand_narrowed_searched_student_joins_the_pareto_table_within_budget():
    plan = arms(load_compare("training/recipes/search_budget.yaml"))
    narrowed = plan["search-0.005-w15"]
    assert narrowed["group"] == "search" and plan["feature_matching"]["group"] == "baseline"
    assert count_macs_per_megapixel(build_model(narrowed["model"]["arch"], **narrowed["model"]["config"])) <= 1.25e9


def test_pareto_front():
    assert pareto_flags([(1.0, 30.0), (2.0, 31.0), (2.0, 30.5), (3.0, 31.0)]) == [True, True, False, False]
