"""Feature matching and output distillation are strategies of the one registry, selected by their own
recipe keys or by name, and the strategies never import the training loop."""
import ast
import json
from pathlib import Path

import pytest
import torch

from denoise.models import load_checkpoint
from strategy_fixtures import save_teacher, tiny_context
from training.losses import FeatureMatchingLoss, output_distillation
from training.strategies import STRATEGIES, Batch, StrategyError, build_loss_strategies
from training.train import load_recipe, train
from training_fixtures import tiny_recipe

ROOT = Path(__file__).resolve().parents[1]


def _batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(2, 4, 16, 16, generator=g)
    noise = torch.tensor([[2e-3] * 4 + [1e-4] * 4] * 2)
    return Batch(clean + 0.05 * torch.randn(2, 4, 16, 16, generator=g), clean, noise)


def test_recipe_keys_build_registry_strategies_with_the_loss_terms(tmp_path):
    teacher = str(save_teacher(tmp_path / "t.pt", seed=3))
    fm = {"teacher": teacher, "layers": ["encoders.0", "encoders.1"], "weights": [1.0, 0.5], "weight": 0.3}
    loss = {"pixel": "l1", "feature_matching": fm, "output_distill": {"teacher": teacher, "weight": 0.7},
            "strategy": {"name": "eskd", "teacher": teacher}}
    built = build_loss_strategies(loss, tiny_context(tmp_path))
    assert list(built) == ["feature_matching", "output_distill", "strategy"]
    assert {type(s) for s in built.values()} <= set(STRATEGIES.values())
    batch, pred = _batch(), _batch(1).noisy
    reference = FeatureMatchingLoss(load_checkpoint(teacher), fm["layers"], fm["weights"])
    got = built["feature_matching"].loss_terms(0, batch, pred)
    torch.testing.assert_close(got["feature"], 0.3 * reference(pred, batch.clean, batch.noise))
    teacher_out = built["output_distill"].teacher(batch.noisy, batch.noise)
    got = built["output_distill"].loss_terms(0, batch, pred)
    torch.testing.assert_close(got["output_distill"], 0.7 * output_distillation(pred, teacher_out, batch.noise))


def test_a_recipe_key_and_the_same_strategy_by_name_train_alike(tmp_path):
    teacher = str(save_teacher(tmp_path / "t.pt", seed=3))
    fm = {"teacher": teacher, "layers": ["encoders.1"], "weight": 0.5}
    by_key = load_recipe(tiny_recipe(tmp_path, steps=4, loss={"pixel": "l1", "feature_matching": fm}))
    by_name = load_recipe(tiny_recipe(tmp_path, steps=4, loss={"pixel": "l1",
                                                               "strategy": {"name": "feature_matching", **fm}}))
    train(by_key, tmp_path / "key", progress=False)
    train(by_name, tmp_path / "name", progress=False)
    a = torch.load(tmp_path / "key" / "latest.pt", weights_only=True)
    b = torch.load(tmp_path / "name" / "latest.pt", weights_only=True)
    assert all(torch.equal(a["model"]["state_dict"][k], v) for k, v in b["model"]["state_dict"].items())
    rows = [json.loads(line) for line in (tmp_path / "key" / "metrics.jsonl").read_text().splitlines()]
    assert all("feature" in r for r in rows if "loss" in r)


def test_bad_options_of_a_recipe_key_name_that_key(tmp_path):
    ctx = tiny_context(tmp_path)
    with pytest.raises(StrategyError, match=r"loss.output_distill: unknown option\(s\) \['wieght'\]"):
        build_loss_strategies({"output_distill": {"teacher": "t.pt", "wieght": 1}}, ctx)
    with pytest.raises(StrategyError, match="loss.feature_matching: feature_matching needs option"):
        build_loss_strategies({"feature_matching": {"layers": ["encoders.0"]}}, ctx)


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (function-level imports too), as absolute names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            found.add(".".join(p for p in (base, node.module or "") if p))
    return found


def test_strategies_never_import_the_training_loop():
    files = sorted((ROOT / "training" / "strategies").glob("*.py"))
    imports = {f.name: _imported_modules(f) for f in files}
    assert "training.losses" in imports["base.py"]      # the scan sees relative imports
    offenders = {name: sorted(m for m in found if m == "training.train" or m.startswith("training.train."))
                 for name, found in imports.items()}
    assert not any(offenders.values()), offenders
