"""Cost-aware student search: the MACs penalty of a hard choice is the chosen student's counted cost,
and the chosen student is an ordinary, exportable model."""
import pytest
import torch

from denoise.models import build_model, count_macs_per_megapixel, load_checkpoint, save_checkpoint
from training.strategies.student_search import DEFAULT_OPS, SearchSupernet, search_student
from training.train import load_recipe
from training_fixtures import tiny_recipe

SPACE = {"widths": [8, 16, 16], "enc_slots": [1, 2, 1], "dec_slots": [2, 1], "fa_hidden": [4, 4, 4]}


def _hard_choice(net: SearchSupernet, picks: list[str]) -> None:
    with torch.no_grad():
        for m, op in zip(net.mixed_blocks(), picks):
            m.logits.copy_(torch.full((len(m.ops),), -5.0))
            m.logits[m.ops.index(op)] = 5.0
    net.eval()(torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3))   # records the (one-hot) op weights


@pytest.mark.parametrize("picks", [
    ["full:1", "sep:0.5", "skip", "full:0.5", "sep:1", "skip", "sep:1"],
    ["skip"] * 7,                              # no blocks anywhere: the fixed network alone
    ["skip", "sep:1", "sep:0.5", "full:1", "skip", "full:1", "skip"],
])
def test_penalty_of_a_hard_choice_equals_the_chosen_students_counted_macs(picks):
    torch.manual_seed(0)
    net = SearchSupernet(**SPACE)
    assert len(net.mixed_blocks()) == len(picks)
    _hard_choice(net, picks)
    chosen = build_model("searched", **net.chosen_config())
    counted = count_macs_per_megapixel(chosen)          # torch's FLOP counter on the built student
    print(f"{net.chosen_config()['enc_ops']} {net.chosen_config()['dec_ops']}: penalty "
          f"{net.expected_macs().item() / 1e6:.3f} MMAC/MP, counted {counted / 1e6:.3f} MMAC/MP")
    assert net.expected_macs().item() == pytest.approx(counted, rel=1e-12)


def test_soft_weights_give_the_expected_cost():
    torch.manual_seed(1)
    net = SearchSupernet(**{**SPACE, "enc_slots": [1, 0, 0], "dec_slots": [0, 0]})
    (block,) = net.mixed_blocks()
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


def test_search_with_a_heavy_penalty_picks_a_cheaper_student_and_choices_export(tmp_path):
    recipe = load_recipe(tiny_recipe(tmp_path))
    space = {"widths": [8, 16], "enc_slots": [1, 1], "dec_slots": [1], "fa_hidden": [4, 4]}
    free = search_student(recipe, space, penalty_weight=0.0, steps=3, arch_lr=0.5)
    heavy = search_student(recipe, space, penalty_weight=100.0, steps=3, arch_lr=0.5)
    for label, r in (("penalty 0", free), ("penalty 100", heavy)):
        print(f"{label}: {r['config']['enc_ops']} {r['config']['dec_ops']} {r['macs_per_mp'] / 1e6:.2f} MMAC/MP")
    assert any(free["config"]["enc_ops"] + free["config"]["dec_ops"])
    assert heavy["macs_per_mp"] < free["macs_per_mp"]
    assert all(op == [] for op in heavy["config"]["enc_ops"] + heavy["config"]["dec_ops"])  # every slot skipped
    model = build_model("searched", **free["config"])    # the one with blocks
    save_checkpoint(model, tmp_path / "searched.pt")
    loaded = load_checkpoint(tmp_path / "searched.pt")
    import onnxruntime as ort

    from export.onnx import export_onnx

    onnx = export_onnx(loaded, tmp_path / "searched.onnx")
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3)
    (got,) = ort.InferenceSession(str(onnx)).run(None, {"noisy": x.numpy(), "noise": n.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), loaded(x, n), rtol=1e-4, atol=1e-5)
