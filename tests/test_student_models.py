"""The student's constructor options: stem kernel, levels with Feature-Align, budgets, old checkpoints."""
import pytest
import torch

from denoise.models import build_model, count_macs_per_megapixel, count_params, load_checkpoint
from denoise.models.registry import model_record

FA_S3 = {"stem_kernel": 3, "fa_levels": 3, "enc_blocks": [0, 0, 0, 1], "fa_hidden": [8, 6, 8, 16]}


def test_fa_levels_leave_out_the_finest_levels_and_stay_within_budget():
    model = build_model("feature_align", **FA_S3)
    assert sorted(model.align.keys()) == ["1", "2", "3"]
    assert model.stem[0].kernel_size == (3, 3)
    assert count_params(model) <= 300_000 and count_macs_per_megapixel(model) <= 1.25e9


def test_modulation_acts_on_the_kept_levels():
    model = build_model("feature_align", **FA_S3).eval()
    x, n = torch.rand(1, 4, 32, 32) * 0.5, torch.full((1, 8), 1e-3)
    base = model(x, n)
    for level in ("1", "3"):  # heads start at zero (identity); a non-zero head must reach the output
        head = model.align[level].heads[0]
        with torch.no_grad():
            head.bias.add_(0.5)
        assert (model(x, n) - base).abs().max().item() > 1e-4
        with torch.no_grad():
            head.bias.sub_(0.5)
    with pytest.raises(ValueError, match="fa_levels"):
        build_model("feature_align", fa_levels=0)


def test_checkpoints_without_the_new_keys_load_as_before(tmp_path):
    old = build_model("feature_align")  # 1×1 stem, Feature-Align everywhere: the earlier default
    record = model_record(old)
    assert "stem_kernel" not in record["config"] and "fa_levels" not in record["config"]
    torch.save(record, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.stem[0].kernel_size == (1, 1) and sorted(loaded.align.keys()) == ["0", "1", "2", "3"]
    assert set(loaded.state_dict()) == set(old.state_dict())
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 2e-3)
    assert torch.equal(loaded.eval()(x, n), old.eval()(x, n))


FA_SEP = {"stem_kernel": 3, "separable_stem": True, "fa_input": "bounded", "fa_hidden": [6, 8, 8, 16]}


def test_separable_stem_is_depthwise_then_pointwise_and_cheaper_than_a_full_stem():
    sep, full = build_model("feature_align", **FA_SEP), build_model("feature_align", **{**FA_SEP, "separable_stem": False})
    depthwise, pointwise = sep.stem[0], sep.stem[1]
    assert depthwise.groups == depthwise.in_channels == 8 and depthwise.kernel_size == (3, 3)
    assert pointwise.kernel_size == (1, 1) and pointwise.out_channels == 16
    assert count_macs_per_megapixel(sep) < count_macs_per_megapixel(full) - 0.2e9
    assert count_params(sep) <= 300_000 and count_macs_per_megapixel(sep) <= 1.25e9


def test_bounded_fa_input_is_the_noisy_planes_as_they_are_plus_the_relative_std_map():
    seen: list[torch.Tensor] = []
    model = build_model("feature_align", **FA_SEP).eval()
    model.align["0"].hidden.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = torch.rand(1, 4, 16, 16) * 0.8
    for a in (1e-4, 1e-2):  # the modulation's input must not scale with 1 / noise std
        model(x, torch.tensor([[a] * 4 + [1e-6] * 4]))
    assert torch.equal(seen[0][:, :4], x) and torch.equal(seen[1][:, :4], x)
    assert seen[0][:, 4:].max() < 2 and seen[1][:, 4:].max() < 2
    with pytest.raises(ValueError, match="fa_input"):
        build_model("feature_align", fa_input="raw")


def test_new_options_round_trip_through_a_checkpoint(tmp_path):
    model = build_model("feature_align", **FA_SEP)
    record = model_record(model)
    assert record["config"]["separable_stem"] is True and record["config"]["fa_input"] == "bounded"
    torch.save(record, tmp_path / "sep.pt")
    loaded = load_checkpoint(tmp_path / "sep.pt").eval()
    x, n = torch.rand(1, 4, 16, 16), torch.full((1, 8), 2e-3)
    assert torch.equal(loaded(x, n), model.eval()(x, n))
