"""INT8 (static QDQ, per-channel, calibrated per noise sub-range) and fp16 variants of an exported model."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from export_helpers import shared_onnx
from onnx import numpy_helper

from denoise.backends import OnnxRunner
from export import ExportError
from export.calibration import CalibrationReader, noisy_crops
from export.quantize import boundary_convs, convert_fp16, float_island_nodes, quantize_int8
from export.verify import quality

A_RANGE = (1e-3, 8e-3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return shared_onnx(tmp_path_factory)


@pytest.fixture(scope="module")
def crops():
    return noisy_crops(A_RANGE, 8, 32, seed=11), noisy_crops(A_RANGE, 3, 48, seed=12)


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def test_calibration_crops_are_noisy_raw_from_the_subrange():
    first = noisy_crops(A_RANGE, 4, 32, seed=3)
    again = noisy_crops(A_RANGE, 4, 32, seed=3)
    for c, d in zip(first, again):
        assert np.array_equal(c.noisy, d.noisy) and np.array_equal(c.noise, d.noise)
        a, b = c.noise[:4], c.noise[4:]
        assert np.all((a >= A_RANGE[0]) & (a <= A_RANGE[1]))
        predicted = float(np.mean(a[:, None, None] * np.maximum(c.clean, 0) + b[:, None, None]))
        measured = float(np.var(c.noisy - c.clean))
        assert 0.85 < measured / predicted < 1.15
    reader = CalibrationReader(first)
    feeds = list(iter(reader.get_next, None))
    assert len(feeds) == 4 and feeds[0]["noisy"].shape == (1, 4, 32, 32) and feeds[0]["noise"].shape == (1, 8)
    reader.rewind()
    assert reader.get_next() is not None


def test_float_islands_are_input_normalization_and_residual_output(exported):
    _, path = exported
    graph = onnx.load(str(path)).graph
    island = set(float_island_nodes(graph))
    by_name = {n.name: n for n in graph.node}
    ops = {by_name[n].op_type for n in island}
    assert "Conv" not in ops and {"Sqrt", "Div", "Concat"} <= ops
    output_node = _producers(graph)[graph.output[0].name]
    assert output_node.name in island and output_node.op_type == "Add"  # x + residual·scale
    first, last = boundary_convs(graph, ["first"]), boundary_convs(graph, ["last"])
    assert len(first) == 3  # stem + the Feature-Align hidden conv of each of the 2 levels
    assert len(last) == 1
    with pytest.raises(ExportError, match="--keep-float accepts"):
        boundary_convs(graph, ["middle"])


@pytest.mark.parametrize("target", ["x86", "arm"])
def test_int8_is_qdq_per_channel_and_close_to_fp32(exported, crops, tmp_path, target):
    _, path = exported
    calibration, held_out = crops
    q = quantize_int8(path, tmp_path / "q.onnx", calibration, target=target)  # default: keep first, last
    graph = onnx.load(str(q.path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = _producers(graph)
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 5
    weights = [inits[producers[n.input[1]].input[0]] for n in graph.node
               if n.op_type == "Conv" and producers.get(n.input[1], n).op_type == "DequantizeLinear"]
    assert weights and all(w.dtype == np.int8 for w in weights)
    peak = max(int(np.abs(w.astype(np.int32)).max()) for w in weights)
    assert peak <= 64 if target == "x86" else peak > 64  # reduce_range: 7-bit weights on x86
    scales = [inits[n.input[1]] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
              and inits[n.input[0]].ndim == 4]
    assert any(s.size > 1 for s in scales)  # per-channel weight scales
    act_zero = [inits[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear"]
    assert {z.dtype for z in act_zero} == {np.dtype(np.uint8) if target == "x86" else np.dtype(np.int8)}
    for name in boundary_convs(graph, ["first", "last"]):  # kept float: their weights are plain initializers
        conv = next(n for n in graph.node if n.name == name)
        assert conv.input[1] in inits and inits[conv.input[1]].dtype == np.float32
    assert set(q.float_nodes) == set(boundary_convs(graph, ["first", "last"]))
    # Only convs are quantized: an element-wise result goes through int8 only where a conv reads it.
    consumers = {name: [c for c in graph.node if name in c.input] for n in graph.node for name in n.output}
    for dq in graph.node:
        if dq.op_type == "DequantizeLinear" and dq.input[0] not in inits:
            source = producers.get(producers[dq.input[0]].input[0])
            if source is not None and source.op_type != "Conv":
                assert "Conv" in {c.op_type for c in consumers[dq.output[0]]}, source.name
    result = quality(OnnxRunner(path), OnnxRunner(q.path), held_out)
    print(f"INT8 {target} vs fp32 ONNX on held-out crops: {result.psnr_db:.1f} dB, max abs {result.max_abs:.3g}")
    assert result.psnr_db > 50


def test_int8_qoperator_layout_writes_integer_convs(exported, crops, tmp_path):
    _, path = exported
    calibration, held_out = crops
    q = quantize_int8(path, tmp_path / "q.onnx", calibration, layout="qoperator")
    ops = {n.op_type for n in onnx.load(str(q.path)).graph.node}
    assert "QLinearConv" in ops and "DequantizeLinear" in ops  # fused convs; float again for the element-wise ops
    assert "Conv" in ops  # the boundary convs kept float
    result = quality(OnnxRunner(path), OnnxRunner(q.path), held_out)
    print(f"INT8 QOperator vs fp32 ONNX on held-out crops: {result.psnr_db:.1f} dB, max abs {result.max_abs:.3g}")
    assert result.psnr_db > 50


def test_int8_refuses_bad_settings(exported, crops, tmp_path):
    _, path = exported
    with pytest.raises(ExportError, match="--int8-layout"):
        quantize_int8(path, tmp_path / "q.onnx", crops[0], layout="qlinear")
    with pytest.raises(ExportError, match="--int8-target"):
        quantize_int8(path, tmp_path / "q.onnx", crops[0], target="gpu")
    with pytest.raises(ExportError, match="calibration must be one of"):
        quantize_int8(path, tmp_path / "q.onnx", crops[0], calibration="entropy")
    with pytest.raises(ExportError, match="at least one noisy crop"):
        quantize_int8(path, tmp_path / "q.onnx", [])
    assert not (tmp_path / "q.onnx").exists()


def test_fp16_keeps_io_normalization_and_resize_in_float32(exported, crops, tmp_path):
    _, path = exported
    out = convert_fp16(path, tmp_path / "h.onnx").path
    proto = onnx.load(str(out))
    graph = proto.graph
    assert {v.type.tensor_type.elem_type for v in list(graph.input) + list(graph.output)} == {onnx.TensorProto.FLOAT}
    inits = {t.name: t for t in graph.initializer}
    conv_weights = [inits[n.input[1]].data_type for n in graph.node if n.op_type == "Conv"]
    assert conv_weights and set(conv_weights) == {onnx.TensorProto.FLOAT16}
    producers = _producers(graph)
    resizes = [n for n in graph.node if n.op_type == "Resize"]
    assert resizes and all(producers[n.input[0]].op_type == "Cast" and producers[n.input[0]].attribute[0].i
                           == onnx.TensorProto.FLOAT for n in resizes)
    assert out.stat().st_size < 0.7 * path.stat().st_size
    result = quality(OnnxRunner(path), OnnxRunner(out), crops[1])
    print(f"fp16 vs fp32 ONNX on held-out crops: {result.psnr_db:.1f} dB, max abs {result.max_abs:.3g}")
    assert result.psnr_db > 80
