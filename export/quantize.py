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
can stay float (``keep_float``; both by default: +0.3–1.8 dB).

Where the remaining loss comes from (partly trained student, 4 sub-ranges of a in [1e-4, 2e-2]):
8-bit *activations*, not weights (8-bit weights with 16-bit activations lose ≤ 0.04 dB, 16-bit
weights with 8-bit activations lose as much as all-8-bit), and almost only at full resolution. The
model sees its input divided by the noise scale, so at low noise the full-resolution features carry
the image at up to ~100× the noise amplitude (ranges of ±200 around a median of ~1), and 256 levels
cannot hold both. Quantized alone at the lowest noise, each conv that reads or writes full-resolution
features (the level-0 decoder block, the level-0 Feature-Align head, the 1×1 convs into and out of
level 1) costs 0.1–2.2 dB; every conv deeper in the U-Net, the coarser Feature-Align heads included,
≤ 0.07 dB. Calibration helps a little: the 99.99th percentile clips the rare extremes that the
99.999th and MinMax keep (2.4 instead of 3.1 and 3.8 dB at the lowest noise); the 99.9th clips more
and lets the search below keep fewer convs float, but then one sub-range misses the bar on held-out
crops.

Hence the *budgeted mixed precision* (``max_drop_db``): convs are ranked by the denoising PSNR lost
when each alone is INT8, and the most sensitive are kept float until the loss next to the float model
on the calibration crops is within the budget in every noise-level group (the project's bar: 0.2 dB).
On the student that keeps 2–6 full-resolution convs float (more at low noise). Calibration runs once
and its ranges are reused for every candidate model.

INT8 presets: ``x86`` = uint8 activations, int8 per-channel weights, ``reduce_range`` (avoids the
16-bit accumulator saturation of AVX2 machines without VNNI); ``arm`` = int8/int8 (phones; on an
x86 machine such a model can saturate, so judge it on the device).
"""
from __future__ import annotations

import contextlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from denoise.backends import OnnxRunner

from . import ExportError
from .atomic import remove, temp_path_beside, write_bytes
from .calibration import CalibrationReader, NoisyCrop
from .verify import denoising_psnr, level_drop

INT8_TARGETS = ("x86", "arm")
# QDQ: float graph with QuantizeLinear/DequantizeLinear pairs that ORT fuses into integer kernels at
# load (portable to XNNPACK/NNAPI); QOperator: the fused QLinearConv ops written into the file.
INT8_LAYOUTS = ("qdq", "qoperator")
KEEP_FLOAT_CHOICES = ("first", "last")
CALIBRATIONS = ("percentile", "minmax")
PERCENTILE = 99.99
INT8_MAX_DROP_DB = 0.2  # the project's bar (issue "Export to phones"): denoising PSNR INT8 may cost per noise level
FP16_BLOCKED_OPS = ("Resize",)  # fp16 Resize is a known source of wrong results in ORT converters
CONV_OPS = ("Conv", "ConvTranspose")


@dataclass(frozen=True)
class FloatChoice:
    """One conv the mixed-precision search kept float: its PSNR cost when it alone is INT8, and the
    loss of the whole model once it (and every conv chosen before it) is float."""

    node: str
    module: str
    alone_db: float
    drop_after_db: float


@dataclass(frozen=True)
class MixedPrecision:
    """The evidence for a budgeted INT8 model, measured against the float model on the calibration crops
    and, when given, the quality crops (the worse of the two worst noise-level groups,
    :func:`export.verify.level_drop`)."""

    max_drop_db: float
    drop_before_db: float  # with only ``keep_float`` in float
    drop_db: float  # with ``kept`` in float as well
    kept: tuple[FloatChoice, ...]  # most sensitive first
    measured_on: str = "calibration crops, worst noise-level group"

    def to_json(self) -> dict[str, Any]:
        return {"max_drop_db": self.max_drop_db, "drop_before_db": round(self.drop_before_db, 3),
                "drop_db": round(self.drop_db, 3), "measured_on": self.measured_on,
                "kept_float": [{"node": c.node, "module": c.module, "alone_db": round(c.alone_db, 3),
                                "drop_after_db": round(c.drop_after_db, 3)} for c in self.kept]}


@dataclass(frozen=True)
class QuantizedModel:
    """Where the quantized model went and which nodes were deliberately left in float32."""

    path: Path
    target: str
    float_nodes: tuple[str, ...]
    mixed: MixedPrecision | None = None  # set when a PSNR budget chose some of ``float_nodes``


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


def conv_modules(graph: onnx.GraphProto) -> dict[str, str]:
    """Conv node name → the torch module it came from (its weight's name without ``.weight``)."""
    return {n.name: n.input[1].removesuffix(".weight") for n in graph.node if n.op_type in CONV_OPS}


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


class _Quantizer:
    """Static QDQ quantization of one prepared model with every conv not excluded; the activation
    ranges are calibrated on the first call and reused (from a cache file) by every later one."""

    def __init__(self, prepared: Path, cache: Path, crops: Sequence[NoisyCrop], target: str, calibration: str,
                 layout: str = "qdq") -> None:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

        self.format = QuantFormat.QOperator if layout == "qoperator" else QuantFormat.QDQ

        self.prepared, self.cache, self.crops = prepared, cache, list(crops)
        self.activation, self.reduce_range = (QuantType.QUInt8, True) if target == "x86" else (QuantType.QInt8, False)
        self.method = CalibrationMethod.Percentile if calibration == "percentile" else CalibrationMethod.MinMax

    def __call__(self, exclude: Sequence[str], out: Path) -> Path:
        from onnxruntime.quantization import QuantType, quantize_static

        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print progress
            quantize_static(str(self.prepared), str(out), CalibrationReader(self.crops), quant_format=self.format,
                            op_types_to_quantize=list(CONV_OPS), per_channel=True, reduce_range=self.reduce_range,
                            activation_type=self.activation, weight_type=QuantType.QInt8, calibrate_method=self.method,
                            nodes_to_exclude=list(exclude), extra_options={"CalibPercentile": PERCENTILE},
                            calibration_cache_path=str(self.cache))
        return out


def _keep_float_within(budget_db: float, quantize: _Quantizer, graph: onnx.GraphProto, kept: Sequence[str],
                       reference: OnnxRunner, scratch: Path, gate: Sequence[NoisyCrop] = ()) -> MixedPrecision:
    """Greedy mixed precision: keep the convs that cost the most when quantized alone in float, most
    sensitive first, until the loss on the calibration crops — and on the ``gate`` crops, the ones the
    bundle reports its quality on — is within ``budget_db``.

    Without the gate a budget met on the calibration crops was missed on the quality crops (0.20 and
    0.18 dB against 0.15), so the manifest's budget did not hold for what it reported.

    Ranking once by the single-conv cost needs one model per conv plus one per kept conv; a full greedy
    search (re-ranking after every kept conv) needs one per conv per step. On the trained student at the
    lowest noise both kept the same 6 convs, the full search from 172 models instead of 37.
    """
    crops, gate = quantize.crops, list(gate)
    ref_psnr = denoising_psnr(reference, crops)
    gate_psnr = denoising_psnr(reference, gate) if gate else None

    def drop_with_float(exclude: Sequence[str]) -> float:
        runner = OnnxRunner(quantize(exclude, scratch), stride=reference.stride)
        drop = level_drop(crops, ref_psnr, denoising_psnr(runner, crops))
        return max(drop, level_drop(gate, gate_psnr, denoising_psnr(runner, gate))) if gate else drop

    modules = conv_modules(graph)
    drop = before = drop_with_float(kept)
    choices: list[FloatChoice] = []
    if before > budget_db:
        candidates = [name for name in modules if name not in kept]
        alone = {name: drop_with_float([other for other in modules if other != name]) for name in candidates}
        floating = list(kept)
        for name in sorted(candidates, key=lambda n: -alone[n]):
            floating.append(name)
            drop = drop_with_float(floating)
            choices.append(FloatChoice(name, modules[name], alone[name], drop))
            if drop <= budget_db:
                break
    where = "calibration and quality crops" if gate else "calibration crops"
    return MixedPrecision(budget_db, before, drop, tuple(choices), f"{where}, worst noise-level group")


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, crops: Sequence[NoisyCrop],
                  target: str = "x86", keep_float: Sequence[str] = ("first", "last"),
                  calibration: str = "percentile", max_drop_db: float | None = None,
                  gate: Sequence[NoisyCrop] = (), layout: str = "qdq") -> QuantizedModel:
    """Static INT8 (``layout`` :data:`INT8_LAYOUTS`) of the convs of an exported fp32 model, calibrated on ``crops``.

    ``float_nodes`` of the result lists the convs kept in float (everything else not a conv is float):
    the ``keep_float`` boundary convs and, with ``max_drop_db``, those the budgeted search kept (see
    :class:`MixedPrecision`; the crops' clean planes measure the denoising PSNR; ``gate``: further crops
    the budget must hold on). ``None`` quantizes every other conv whatever it costs.
    """
    from onnxruntime.quantization import quant_pre_process

    if target not in INT8_TARGETS:
        raise ExportError(f"--int8-target must be one of {', '.join(INT8_TARGETS)}, got {target!r}")
    if layout not in INT8_LAYOUTS:
        raise ExportError(f"--int8-layout must be one of {', '.join(INT8_LAYOUTS)}, got {layout!r}")
    if calibration not in CALIBRATIONS:
        raise ExportError(f"INT8 calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    if max_drop_db is not None and not (math.isfinite(max_drop_db) and max_drop_db >= 0):
        raise ExportError(f"--int8-max-drop must be a PSNR budget in dB >= 0 (or 'off'), got {max_drop_db}")
    if not crops:
        raise ExportError(f"{out_path}: INT8 calibration needs at least one noisy crop")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    temps = [temp_path_beside(out_path, suffix) for suffix in (".pre.onnx", ".q.onnx", ".try.onnx", ".ranges.json")]
    prepared, quantized, scratch, cache = temps
    try:
        # Symbolic shape inference cannot resolve the dynamic H/W on its own: auto_merge lets it.
        quant_pre_process(str(fp32_path), str(prepared), auto_merge=True)
        graph = onnx.load(str(prepared)).graph
        _unnamed_check(graph, fp32_path)
        kept = boundary_convs(graph, keep_float)
        quantize = _Quantizer(prepared, cache, crops, target, calibration, layout)
        mixed = None
        if max_drop_db is not None:
            mixed = _keep_float_within(max_drop_db, quantize, graph, kept, OnnxRunner(fp32_path), scratch, gate)
            kept += [choice.node for choice in mixed.kept]
        proto = onnx.load(str(quantize(kept, quantized)))
        _copy_metadata(onnx.load(str(fp32_path), load_external_data=False), proto, f"int8-{target}-{calibration}")
        onnx.checker.check_model(proto)
        write_bytes(out_path, proto.SerializeToString())
    finally:
        for temp in temps:
            remove(temp)
    return QuantizedModel(out_path, target, tuple(kept), mixed)


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
