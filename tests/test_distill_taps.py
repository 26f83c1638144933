"""Forward-hook taps and the feature-matching loss."""
import pytest
import torch

from denoise.models import build_model
from training.distill import FeatureTaps
from training.losses import FeatureMatchingLoss


def _teacher():
    torch.manual_seed(0)
    return build_model("teacher", widths=[4, 8, 16]).eval()


def test_taps_return_the_module_outputs_and_are_removed():
    t = _teacher()
    x, n = torch.rand(2, 4, 16, 16), torch.full((2, 8), 1e-3)
    expected = {}
    handles = [t.encoders[0].register_forward_hook(lambda m, i, o: expected.__setitem__("e0", o)),
               t.decoders[0].register_forward_hook(lambda m, i, o: expected.__setitem__("d0", o))]
    t(x, n)
    for h in handles:
        h.remove()
    with FeatureTaps(t, ["encoders.0", "decoders.0"]) as taps:
        feats = taps.run(x, n, stop_early=False)
        assert torch.equal(feats["encoders.0"], expected["e0"])
        assert torch.equal(feats["decoders.0"], expected["d0"])
        assert sum(len(m._forward_hooks) for m in t.modules()) == 2
    assert sum(len(m._forward_hooks) for m in t.modules()) == 0


def test_stop_early_skips_the_rest_of_the_network():
    t = _teacher()
    ran = []
    t.head.register_forward_hook(lambda m, i, o: ran.append(True))
    with FeatureTaps(t, ["encoders.0"]) as taps:
        taps.run(torch.rand(1, 4, 16, 16), torch.full((1, 8), 1e-3))
    assert not ran


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(KeyError, match="no module"):
        FeatureTaps(_teacher(), ["encoders.9"])


def test_feature_matching_is_zero_on_target_and_trains_only_the_student_side():
    t = _teacher()
    fm = FeatureMatchingLoss(t, ["encoders.0", "encoders.1"], [1.0, 0.5])
    clean = torch.rand(2, 4, 16, 16)
    n = torch.full((2, 8), 1e-3)
    assert fm(clean.clone(), clean, n).item() == pytest.approx(0.0, abs=1e-7)
    pred = (clean + 0.05 * torch.randn_like(clean)).requires_grad_(True)
    loss = fm(pred, clean, n)
    assert loss.item() > 0
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in t.parameters())
