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
