"""Reduced-precision ONNX variants: static INT8 (QDQ) and fp16, each keeping the numerically fragile
parts of a residual denoiser in float32.

fp16 keeps in float32 the *input normalization* — every non-conv node with no conv upstream (noise
vector slicing, ``sqrt(a·x + b)``, division by the noise scale: shot terms near 1e-4 and read terms
near 1e-8 underflow fp16) — and the *residual output* — every non-conv node with no conv downstream
(``x + residual·scale``, which would otherwise round the image itself to fp16) — plus ``Resize``.

INT8 quantizes the convolutions only; every element-wise op (the residual sums, the Feature-Align
modulation ``h·(1+γ)+β``, the normalization and the output) stays float. Measured on a trained
student, per noise sub-range, against its fp32 output: quantizing the element-wise ops as well cost
up to 3 dB of denoising PSNR, convs-only cost 0.2–0.9 dB. The first convs (which read the normalized
input, whose signal and noise-map channels differ in scale by 100×) and the last (the residual head)
can stay float (``keep_float``; both by default: +0.3–1.8 dB). Percentile calibration (99.999 %)
beat MinMax by 0.1–0.2 dB on the trained model; both are available.

INT8 presets: ``x86`` = uint8 activations, int8 per-channel weights, ``reduce_range`` (avoids the
16-bit accumulator saturation of AVX2 machines without VNNI); ``arm`` = int8/int8 (phones; on an
x86 machine such a model can saturate, so judge it on the device).
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import ExportError
from .atomic import remove, temp_path_beside, write_bytes
from .calibration import CalibrationReader, NoisyCrop

INT8_TARGETS = ("x86", "arm")
KEEP_FLOAT_CHOICES = ("first", "last")
CALIBRATIONS = ("percentile", "minmax")
PERCENTILE = 99.999
FP16_BLOCKED_OPS = ("Resize",)  # fp16 Resize is a known source of wrong results in ORT converters
CONV_OPS = ("Conv", "ConvTranspose")


@dataclass(frozen=True)
class QuantizedModel:
    """Where the quantized model went and which nodes were deliberately left in float32."""

    path: Path
    target: str
    float_nodes: tuple[str, ...]


def _conv_reach(graph: onnx.GraphProto) -> tuple[set[str], set[str]]:
    """Names of nodes that have a conv upstream, and of nodes that have a conv downstream."""
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    after_conv: set[str] = set()
    for node in graph.node:  # ONNX graphs are stored in topological order
        if any(name in producer and (producer[name].op_type in CONV_OPS or producer[name].name in after_conv)
               for name in node.input):
            after_conv.add(node.name)
    before_conv: set[str] = set()
    for node in reversed(graph.node):
        if any(c.op_type in CONV_OPS or c.name in before_conv for out in node.output for c in consumers.get(out, [])):
            before_conv.add(node.name)
    return after_conv, before_conv


def float_island_nodes(graph: onnx.GraphProto) -> list[str]:
    """Non-conv nodes outside the conv body: the input normalization and the residual output."""
    after_conv, before_conv = _conv_reach(graph)
    return [n.name for n in graph.node
            if n.op_type not in CONV_OPS and (n.name not in after_conv or n.name not in before_conv)]


def boundary_convs(graph: onnx.GraphProto, which: Iterable[str]) -> list[str]:
    """Convs that read the normalized input directly (``first``) or produce the residual (``last``)."""
    which = set(which)
    unknown = which - set(KEEP_FLOAT_CHOICES)
    if unknown:
        raise ExportError(f"--keep-float accepts {', '.join(KEEP_FLOAT_CHOICES)}; got {', '.join(sorted(unknown))}")
    after_conv, before_conv = _conv_reach(graph)
    return [n.name for n in graph.node if n.op_type in CONV_OPS and (
        ("first" in which and n.name not in after_conv) or ("last" in which and n.name not in before_conv))]


def _unnamed_check(graph: onnx.GraphProto, path: Path) -> None:
    names = [n.name for n in graph.node]
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ExportError(f"{path}: graph nodes need unique names to choose what stays float; "
                          "re-export it with export.onnx.export_onnx")


def _copy_metadata(src: onnx.ModelProto, dst: onnx.ModelProto, precision: str) -> None:
    del dst.metadata_props[:]
    for prop in src.metadata_props:
        dst.metadata_props.add(key=prop.key, value=prop.value)
    dst.metadata_props.add(key="rawdenoise.precision", value=precision)


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, crops: Sequence[NoisyCrop],
                  target: str = "x86", keep_float: Sequence[str] = ("first", "last"),
                  calibration: str = "percentile") -> QuantizedModel:
    """Static QDQ INT8 of the convs of an exported fp32 model, calibrated on ``crops``.

    ``float_nodes`` of the result lists the convs kept in float (everything else not a conv is float).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    if target not in INT8_TARGETS:
        raise ExportError(f"--int8-target must be one of {', '.join(INT8_TARGETS)}, got {target!r}")
    if calibration not in CALIBRATIONS:
        raise ExportError(f"INT8 calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    if not crops:
        raise ExportError(f"{out_path}: INT8 calibration needs at least one noisy crop")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    activation, reduce_range = (QuantType.QUInt8, True) if target == "x86" else (QuantType.QInt8, False)
    method = CalibrationMethod.Percentile if calibration == "percentile" else CalibrationMethod.MinMax
    prepared, quantized = temp_path_beside(out_path, ".pre.onnx"), temp_path_beside(out_path, ".q.onnx")
    try:
        # Symbolic shape inference cannot resolve the dynamic H/W on its own: auto_merge lets it.
        quant_pre_process(str(fp32_path), str(prepared), auto_merge=True)
        graph = onnx.load(str(prepared)).graph
        _unnamed_check(graph, fp32_path)
        kept = boundary_convs(graph, keep_float)
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print progress
            quantize_static(str(prepared), str(quantized), CalibrationReader(list(crops)),
                            quant_format=QuantFormat.QDQ, op_types_to_quantize=list(CONV_OPS), per_channel=True,
                            reduce_range=reduce_range, activation_type=activation, weight_type=QuantType.QInt8,
                            calibrate_method=method, nodes_to_exclude=kept,
                            extra_options={"CalibPercentile": PERCENTILE})
        proto = onnx.load(str(quantized))
        _copy_metadata(onnx.load(str(fp32_path), load_external_data=False), proto, f"int8-{target}-{calibration}")
        onnx.checker.check_model(proto)
        write_bytes(out_path, proto.SerializeToString())
    finally:
        remove(prepared)
        remove(quantized)
    return QuantizedModel(out_path, target, tuple(kept))


def _cast(name: str, src: str, dst: str, to: int) -> onnx.NodeProto:
    return helper.make_node("Cast", [src], [dst], name=name, to=to)


def convert_fp16(fp32_path: str | os.PathLike, out_path: str | os.PathLike,
                 blocked_ops: Sequence[str] = FP16_BLOCKED_OPS) -> QuantizedModel:
    """fp16 weights and conv body; float32 I/O, normalization, residual output and ``blocked_ops``.

    Casts are inserted wherever a float32 tensor meets an fp16 node and back; weights used only by
    fp16 nodes are stored as fp16 (half the file size). A small converter of our own, so that
    onnxconverter-common is not a dependency.
    """
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    source = onnx.load(str(fp32_path))
    proto = onnx.shape_inference.infer_shapes(source, strict_mode=True)
    graph = proto.graph
    _unnamed_check(graph, fp32_path)
    graph_outputs = {o.name for o in graph.output}
    keep32 = set(float_island_nodes(graph)) | {n.name for n in graph.node if n.op_type in blocked_ops
                                               or n.op_type == "Constant" or set(n.output) & graph_outputs}
    elem_type = {v.name: v.type.tensor_type.elem_type for v in
                 list(graph.input) + list(graph.output) + list(graph.value_info)}
    elem_type.update({t.name: t.data_type for t in graph.initializer})
    is_float = {name for name, t in elem_type.items() if t == TensorProto.FLOAT}

    half_nodes = [n for n in graph.node if n.name not in keep32]
    half_inputs = {name for n in half_nodes for name in n.input if name in is_float}
    float_inputs = {name for n in graph.node if n.name in keep32 for name in n.input if name in is_float}
    half_outputs = {name for n in half_nodes for name in n.output if name in is_float}
    initializers = {t.name: t for t in graph.initializer}

    # Weights read only by fp16 nodes become fp16 in place; the rest stay float32 (cast on use).
    half_weights = {name for name in half_inputs if name in initializers and name not in float_inputs}
    for name in half_weights:
        init = initializers[name]
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name))

    new_nodes: list[onnx.NodeProto] = []
    casts: dict[str, str] = {}  # tensor → its cast to the other precision (one cast per tensor)

    def cast_input(node: onnx.NodeProto, i: int, suffix: str, to: int) -> None:
        name = node.input[i]
        if name not in casts:
            casts[name] = f"{name}__{suffix}"
            new_nodes.append(_cast(f"{name}__to_{suffix}", name, casts[name], to))
        node.input[i] = casts[name]

    for node in graph.node:
        half = node.name not in keep32
        for i, name in enumerate(node.input):
            if half and name in is_float and name not in half_outputs and name not in half_weights:
                cast_input(node, i, "fp16", TensorProto.FLOAT16)
            elif not half and name in half_outputs:
                cast_input(node, i, "fp32", TensorProto.FLOAT)
        if half:
            for attr in node.attribute:
                if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16
                elif attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16),
                                                            attr.t.name))
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]
    _copy_metadata(source, proto, "fp16")
    try:
        onnx.checker.check_model(onnx.shape_inference.infer_shapes(proto, strict_mode=True), full_check=True)
    except Exception as err:
        raise ExportError(f"{fp32_path}: fp16 conversion produced an invalid graph ({str(err).splitlines()[0]})") from None
    write_bytes(out_path, proto.SerializeToString())
    return QuantizedModel(out_path, "fp16", tuple(sorted(keep32)))
