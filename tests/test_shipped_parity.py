"""The shipped models themselves: ONNX vs torch through the padded runtime path, for the generalist
and for every specialist of the default bundle (three sizes, odd ones included)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from denoise.backends import OnnxRunner, TorchRunner
from denoise.bundle import default_bundle_path, load_bundle
from denoise.models import load_checkpoint
from export.onnx import export_onnx
from export.verify import PARITY_SIZES, PARITY_TOLERANCE, parity

ROOT = Path(__file__).resolve().parents[1]
GENERALIST = ROOT / "runs" / "student_fa_sep_long" / "best.pt"  # the specialists were fine-tuned from it

BUNDLE = load_bundle(default_bundle_path())


def _mid(a_range):
    return (math.sqrt(a_range[0] * a_range[1]),) * 2


@pytest.mark.parametrize("spec", BUNDLE.specialists, ids=lambda s: s.name)
def test_every_shipped_specialist_onnx_matches_torch(spec):
    torch_runner = TorchRunner(load_checkpoint(BUNDLE.file(spec.files["torch"])), "cpu")
    onnx_runner = OnnxRunner(str(BUNDLE.file(spec.files["onnx"])), stride=BUNDLE.stride)
    results = parity(torch_runner, onnx_runner, a_range=_mid(spec.a_range))
    for r in results:
        print(f"{spec.name}: ONNX vs torch at {r.size[0]}x{r.size[1]} planes: max abs {r.max_abs:.2e}")
    assert any(h % 2 or w % 2 for h, w in PARITY_SIZES)
    assert all(r.max_abs <= PARITY_TOLERANCE for r in results)


def test_shipped_generalist_onnx_matches_torch(tmp_path):
    model = load_checkpoint(GENERALIST)
    path = export_onnx(model, tmp_path / "generalist.onnx")
    results = parity(TorchRunner(model, "cpu"), OnnxRunner(str(path)), a_range=(1e-3, 1e-3))
    for r in results:
        print(f"generalist: ONNX vs torch at {r.size[0]}x{r.size[1]} planes: max abs {r.max_abs:.2e}")
    assert all(r.max_abs <= PARITY_TOLERANCE for r in results)
