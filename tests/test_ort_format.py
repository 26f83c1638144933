"""ORT format (.ort) for ONNX Runtime Mobile: dynamic sizes survive, it matches the .onnx, and it is
written by exactly the runtime version asked for."""
from __future__ import annotations

import sys

import onnxruntime
import pytest
from export_helpers import shared_onnx

from denoise.backends import OnnxRunner
from export import ExportError
from export.mobile import ORT_PYTHON_ENV, convert_to_ort
from export.verify import parity


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    model, onnx_path = shared_onnx(tmp_path_factory)
    out = tmp_path_factory.mktemp("ort") / "tiny.ort"
    convert_to_ort(onnx_path, out, runtime_version=onnxruntime.__version__)  # this environment's own runtime
    return onnx_path, out


def test_ort_file_is_flatbuffer_with_dynamic_sizes(converted):
    _, ort_path = converted
    assert ort_path.read_bytes()[4:8] == b"ORTM"  # ORT-format flatbuffer identifier
    assert sorted(p.name for p in ort_path.parent.iterdir()) == ["tiny.ort"]  # no side files left behind
    runner = OnnxRunner(ort_path)
    shapes = {i.name: i.shape for i in runner.session.get_inputs()}
    assert all(isinstance(d, str) for d in (shapes["noisy"][0], shapes["noisy"][2], shapes["noisy"][3]))


def test_ort_matches_onnx_at_odd_and_even_sizes(converted):
    onnx_path, ort_path = converted
    results = parity(OnnxRunner(onnx_path), OnnxRunner(ort_path), sizes=((37, 53), (64, 64), (91, 130)))
    for r in results:
        print(f".ort vs .onnx, {r.size[0]}x{r.size[1]} planes: max abs diff {r.max_abs:.3g}")
    assert max(r.max_abs for r in results) <= 1e-5


def test_unknown_optimization_style_is_refused(converted, tmp_path):
    onnx_path, _ = converted
    with pytest.raises(ExportError, match="optimization style"):
        convert_to_ort(onnx_path, tmp_path / "x.ort", style="extreme")
    assert list(tmp_path.iterdir()) == []


def test_a_runtime_version_this_environment_lacks_needs_its_own_python(converted, tmp_path, monkeypatch):
    onnx_path, _ = converted
    monkeypatch.delenv(ORT_PYTHON_ENV, raising=False)
    with pytest.raises(ExportError, match=r"need that exact version.*pip install onnxruntime==1\.0\.0"):
        convert_to_ort(onnx_path, tmp_path / "x.ort", runtime_version="1.0.0")
    with pytest.raises(ExportError, match=f"has onnxruntime {onnxruntime.__version__}, not 1\\.0\\.0"):
        convert_to_ort(onnx_path, tmp_path / "x.ort", runtime_version="1.0.0", python=sys.executable)
    assert list(tmp_path.iterdir()) == []


def test_pte_matches_torch_with_dynamic_sizes(tmp_path):
    """ExecuTorch is optional (``rawdenoise[executorch]``); the .pte runs here in its Python runtime."""
    pytest.importorskip("executorch.runtime")
    from export_helpers import tiny_model

    from denoise.backends import TorchRunner
    from export.mobile import PteRunner, export_pte

    model = tiny_model(0)
    path = export_pte(model, tmp_path / "tiny.pte")
    results = parity(TorchRunner(model, "cpu"), PteRunner(path, model.stride))
    for r in results:
        print(f".pte vs torch, {r.size[0]}x{r.size[1]} planes: max abs diff {r.max_abs:.3g}")
    assert max(r.max_abs for r in results) <= 1e-4
