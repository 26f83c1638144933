"""The shipped specialists meet the mobile budget the SDK promises (≤ 0.3 M parameters, ≤ 1.25 GMAC
per Bayer megapixel, torch's FLOP counter), and the teacher they were distilled from costs ≥ 10× more."""
from __future__ import annotations

from pathlib import Path

import pytest

from denoise.bundle import default_bundle_path, load_bundle
from denoise.models import count_macs_per_megapixel, count_params, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = load_bundle(default_bundle_path())


@pytest.mark.parametrize("spec", BUNDLE.specialists, ids=lambda s: s.name)
def test_every_shipped_specialist_is_within_the_mobile_budget(spec):
    model = load_checkpoint(BUNDLE.file(spec.files["torch"]))
    params, macs = count_params(model), count_macs_per_megapixel(model)
    print(f"{spec.name}: {params:,} params, {macs / 1e9:.3f} GMAC per Bayer megapixel")
    assert params <= 300_000 and macs <= 1.25e9


def test_teacher_costs_at_least_ten_times_a_specialist():
    teacher = count_macs_per_megapixel(load_checkpoint(ROOT / "runs" / "teacher" / "best.pt"))
    student = count_macs_per_megapixel(load_checkpoint(BUNDLE.file(BUNDLE.specialists[0].files["torch"])))
    assert teacher >= 10 * student
