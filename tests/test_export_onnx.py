"""ONNX export: one self-contained file, named dynamic I/O, and torch parity through the runtime path."""
from __future__ import annotations

import onnx
import pytest
import torch
from export_helpers import shared_onnx, tiny_model
from torch import nn

from denoise.backends import OnnxRunner, OnnxRunnerError, TorchRunner
from export import ExportError
from export.onnx import DEFAULT_OPSET, export_onnx, metadata_of
from export.verify import PARITY_SIZES, PARITY_TOLERANCE, check_parity, parity


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return shared_onnx(tmp_path_factory)


def test_single_file_with_named_dynamic_inputs(exported):
    model, path = exported
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no external .data file
    proto = onnx.load(str(path))
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(proto.graph.input) + list(proto.graph.output)}
    assert set(dims) == {"noisy", "noise", "denoised"}
    n, c, h, w = dims["noisy"]
    assert (c, dims["noise"][1]) == (4, 8)
    assert all(isinstance(d, str) for d in (n, h, w)) and len({n, h, w}) == 3  # symbolic, independent
    assert dims["noise"][0] == n and dims["denoised"][0] == n
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [DEFAULT_OPSET]
    meta = metadata_of(path)
    assert int(meta["rawdenoise.stride"]) == model.stride
    assert meta["rawdenoise.arch"] == "feature_align"
    assert all(len(node.metadata_props) == 0 for node in proto.graph.node)  # no local stack traces shipped


def test_parity_with_torch_at_three_sizes_including_odd(exported):
    model, path = exported
    assert any(h % 2 or w % 2 for h, w in PARITY_SIZES)
    results = parity(TorchRunner(model, "cpu"), OnnxRunner(path), a_range=(2e-3, 2e-3))
    for r in results:
        print(f"ONNX vs torch, {r.size[0]}x{r.size[1]} planes: max abs diff {r.max_abs:.3g}")
    assert [r.size for r in results] == list(PARITY_SIZES)
    assert all(r.max_abs <= PARITY_TOLERANCE for r in results)


def test_parity_check_refuses_a_model_that_differs(exported):
    _, path = exported
    other = TorchRunner(tiny_model(seed=1), "cpu")
    with pytest.raises(ExportError, match="differs from torch"):
        check_parity(other, OnnxRunner(path), "tiny.onnx", (1e-3, 1e-3))


def test_onnx_runner_refuses_files_without_the_contract(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(OnnxRunnerError, match="junk.onnx: ONNX Runtime cannot load"):
        OnnxRunner(junk)
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 2, 2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 2, 2])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(OnnxRunnerError, match="expected inputs 'noisy' and 'noise'"):
        OnnxRunner(tmp_path / "other.onnx")


class _DataDependent(nn.Module):
    stride = 1

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0:  # Python control flow on data: not exportable as one graph
            return x
        return -x


def test_unexportable_model_gives_one_line_error_and_no_file(tmp_path):
    target = tmp_path / "bad.onnx"
    with pytest.raises(ExportError) as info:
        export_onnx(_DataDependent(), target)
    assert "ONNX export failed" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
