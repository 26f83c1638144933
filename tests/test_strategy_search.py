"""Cost-aware student search: the MACs penalty of a hard choice is the chosen student's counted cost, the
space holds the shipped student, the search runs on the distillation objective, and the chosen student
is an ordinary, exportable model."""
import pytest
import torch

from denoise.models import build_model, count_macs_per_megapixel, load_checkpoint, save_checkpoint
from denoise.models.searched import searched_config
from denoise.models.teacher import UNetTeacher
from strategy_fixtures import save_teacher
from training.compare import load_compare, same_student
from training.strategies import StrategyError
from training.strategies.student_search import (DEFAULT_OPS, STEMS, SearchSupernet, search_space, search_student,
                                                space_contains, supernet)
from training.train import load_recipe
from training_fixtures import tiny_recipe

SPACE = {"widths": [8, 16, 16], "enc_slots": [1, 2, 1], "dec_slots": [2, 1], "fa_hidden": [4, 4, 4]}
SHIPPED = "training/recipes/student_fa_sep_long.yaml"


def _hard_choice(net: SearchSupernet, picks: list[str], stem: str = "1x1", fa_levels: int = 3) -> None:
    net.stem.pick(stem)
    net.fa_choice.pick(str(fa_levels))
    for m, op in zip(net.mixed_blocks(), picks):
        m.pick(op)
    net.eval()(torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3))   # records the (one-hot) weights


@pytest.mark.parametrize("picks,stem,fa_levels", [
    (["full:1", "sep:0.5", "skip", "full:0.5", "sep:1", "skip", "sep:1"], "1x1", 3),
    (["skip"] * 7, "3x3", 1),                              # no blocks anywhere: the fixed network alone
    (["skip", "sep:1", "sep:0.5", "full:1", "skip", "full:1", "skip"], "sep3x3", 2),
    (["sep:1", "skip", "skip", "sep:1", "full:0.5", "sep:0.5", "skip"], "sep3x3", 1),
])
def test_penalty_of_a_hard_choice_equals_the_chosen_students_counted_macs(picks, stem, fa_levels):
    torch.manual_seed(0)
    net = SearchSupernet(**SPACE)
    assert len(net.mixed_blocks()) == len(picks)
    _hard_choice(net, picks, stem, fa_levels)
    chosen = build_model("searched", **net.chosen_config())
    counted = count_macs_per_megapixel(chosen)          # torch's FLOP counter on the built student
    print(f"{stem} FA on {fa_levels} {net.chosen_config()['enc_ops']} {net.chosen_config()['dec_ops']}: penalty "
          f"{net.expected_macs().item() / 1e6:.3f} MMAC/MP, counted {counted / 1e6:.3f} MMAC/MP")
    assert net.expected_macs().item() == pytest.approx(counted, rel=1e-12)
    assert chosen.config["stem_kernel"] == STEMS[stem][0] and chosen.config["fa_levels"] == fa_levels


def test_the_space_holds_the_shipped_student_at_its_exact_cost():
    model = load_recipe(SHIPPED)["model"]
    space = load_compare("training/recipes/compare.yaml")["student_search"]["space"]
    space = search_space(space, load_recipe(SHIPPED))
    assert space_contains(space, model["arch"], model["config"])
    net = supernet(space, space["widths"])
    net.select(searched_config(model["arch"], model["config"]))
    net.eval()(torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3))
    shipped = build_model(model["arch"], **model["config"])
    print(f"shipped student in the space: {net.chosen_config()}; penalty {net.expected_macs().item() / 1e9:.3f} "
          f"GMAC/MP, counted {count_macs_per_megapixel(shipped) / 1e9:.3f} GMAC/MP")
    assert net.expected_macs().item() == pytest.approx(count_macs_per_megapixel(shipped), rel=1e-12)
    chosen = build_model("searched", **net.chosen_config())
    chosen.load_state_dict(shipped.state_dict())        # the same network, parameter for parameter
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 2e-3)
    assert torch.equal(chosen.eval()(x, n), shipped.eval()(x, n))
    assert same_student({"arch": "searched", "config": net.chosen_config()}, model)
    # what the old skeleton (1×1 stem, Feature-Align everywhere) could not express is now a choice
    assert not space_contains({**space, "stems": ["1x1"]}, model["arch"], model["config"])
    assert not space_contains({**space, "fa_levels": [4]}, model["arch"], model["config"])


def test_soft_weights_give_the_expected_cost():
    torch.manual_seed(1)
    net = SearchSupernet(**{**SPACE, "enc_slots": [1, 0, 0], "dec_slots": [0, 0]})
    (block,) = net.mixed_blocks()
    _hard_choice(net, ["skip"])
    with torch.no_grad():
        block.logits.copy_(torch.tensor([0.3, -1.0, 0.5, 0.2, -0.4]))
    probs = torch.softmax(block.logits.detach(), 0).double()
    block.weights = probs.float()
    costs = []
    for op in DEFAULT_OPS:
        _hard_choice(net, [op])
        costs.append(net.expected_macs().item())
    block.weights = probs.float()
    assert net.expected_macs().item() == pytest.approx(float((probs * torch.tensor(costs)).sum()), rel=1e-6)


def test_searched_default_is_the_feature_align_student():
    torch.manual_seed(0)
    student = build_model("feature_align")
    searched = build_model("searched")
    searched.load_state_dict(student.state_dict())
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 2e-3)
    assert torch.equal(student.eval()(x, n), searched.eval()(x, n))


def _distill_recipe(tmp_path):
    teacher = str(save_teacher(tmp_path / "teacher.pt", seed=3))
    return load_recipe(tiny_recipe(tmp_path, loss={"pixel": "l1", "feature_matching": {
        "teacher": teacher, "layers": ["encoders.0", "encoders.1"], "weight": 0.5}}))


def test_search_with_a_heavy_penalty_picks_a_cheaper_student_and_choices_export(tmp_path):
    recipe = _distill_recipe(tmp_path)
    space = {"widths": [8, 16], "enc_slots": [1, 1], "dec_slots": [1], "fa_hidden": [4, 4]}
    free = search_student(recipe, space, penalty_weight=0.0, steps=3, arch_lr=0.5)
    heavy = search_student(recipe, space, penalty_weight=100.0, steps=3, arch_lr=0.5)
    for label, r in (("penalty 0", free), ("penalty 100", heavy)):
        print(f"{label}: {r['config']} {r['macs_per_mp'] / 1e6:.2f} MMAC/MP")
    assert any(free["config"]["enc_ops"] + free["config"]["dec_ops"])
    assert heavy["macs_per_mp"] < free["macs_per_mp"] / 4
    assert sum(map(len, heavy["config"]["enc_ops"] + heavy["config"]["dec_ops"])) < sum(
        map(len, free["config"]["enc_ops"] + free["config"]["dec_ops"]))                      # fewer blocks
    assert heavy["config"]["stem_kernel"] == 1 and heavy["config"]["fa_levels"] == 1         # cheapest stem, least FA
    model = build_model("searched", **free["config"])    # the one with blocks
    save_checkpoint(model, tmp_path / "searched.pt")
    loaded = load_checkpoint(tmp_path / "searched.pt")
    import onnxruntime as ort

    from export.onnx import export_onnx

    onnx = export_onnx(loaded, tmp_path / "searched.onnx")
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3)
    (got,) = ort.InferenceSession(str(onnx)).run(None, {"noisy": x.numpy(), "noise": n.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), loaded(x, n), rtol=1e-4, atol=1e-5)


def test_search_runs_on_the_distillation_objective_and_compares_width_lists(tmp_path):
    recipe = _distill_recipe(tmp_path)
    space = {"widths": [[8, 16], [4, 8]], "enc_slots": [1, 1], "dec_slots": [1], "fa_hidden": [4, 4]}
    calls = []

    def count(module, _inputs):
        if isinstance(module, UNetTeacher):
            calls.append(module)

    handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
    torch.set_num_threads(2)
    try:
        result = search_student(recipe, space, penalty_weight=0.3, steps=2)
    finally:
        handle.remove()
    assert torch.get_num_threads() == recipe["threads"] == 1  # like train(): it shares the machine with other runs
    print(f"teacher forwards during a 2-step search of 2 width lists: {len(calls)}")
    # per width list and step: target and prediction features on the training batch and on the held-out batch,
    # then the final held-out objective
    assert len(calls) == 2 * (2 * 2 * 2 + 2)
    assert [c["widths"] for c in result["candidates"]] == [[8, 16], [4, 8]]
    best = min(result["candidates"], key=lambda c: c["score"])
    assert result["config"] == best["config"] and result["config"]["widths"] == best["widths"]
    with pytest.raises(StrategyError, match="distillation objective"):
        search_student(load_recipe(tiny_recipe(tmp_path)), space, penalty_weight=0.3, steps=1)
