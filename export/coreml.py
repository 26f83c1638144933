"""Core ML ``.mlpackage`` (ML program) for iPhones: fp16 compute, tile sizes the Neural Engine can run.

The Neural Engine only runs the default shape of a range-shaped model but every shape of an
enumerated one, so ``noisy`` gets a short list of tile sizes (packed planes, multiples of the
stride) and ``noise`` is fixed at (1, 8) — one enumerated input keeps the iOS 16 target.
fp16 compute is applied to the conv body only: the input normalization (shot terms near 1e-4 and
read terms near 1e-8 underflow fp16) and the residual output stay float32, the same split as the
ONNX fp16 and INT8 variants (see :mod:`export.quantize`). Optional int8 weight compression
(``linear_quantize_weights``) halves the file again. Prediction needs macOS; on Linux the spec
is what can be checked.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import ExportError
from .atomic import move_into_place, remove, temp_path_beside
from .onnx import model_metadata

DEFAULT_TILES = ((256, 256), (128, 128))
MIL_CONVS = ("conv", "conv_transpose")


def _quiet_coremltools() -> None:
    """coremltools warns at import that this torch is untested and that the macOS-only runtime is
    missing; both are expected here (conversion works, prediction needs a Mac)."""
    logging.getLogger("coremltools").setLevel(logging.ERROR)


def _input_vars(op: Any) -> list[Any]:
    out = []
    for value in op.inputs.values():
        out.extend(value if isinstance(value, (list, tuple)) else [value])
    return out


def _float32_island(block: Any) -> set[str]:
    """Names of the MIL ops outside the conv body (input normalization, residual output)."""
    ops = list(block.operations)
    after: set[str] = set()
    for op in ops:
        if any(v.op is not None and (v.op.op_type in MIL_CONVS or v.op.name in after) for v in _input_vars(op)):
            after.add(op.name)
    before: set[str] = set()
    for op in reversed(ops):
        if any(c.op_type in MIL_CONVS or c.name in before for v in op.outputs for c in v.child_ops):
            before.add(op.name)
    return {op.name for op in ops
            if op.op_type not in MIL_CONVS and op.op_type != "const" and not (op.name in after and op.name in before)}


def _body_only_selector() -> Callable[[Any], bool]:
    """``op_selector`` for ``FP16ComputePrecision``: True (fp16) for ops inside the conv body."""
    islands: dict[int, set[str]] = {}

    def select(op: Any) -> bool:
        block = op.enclosing_block
        if id(block) not in islands:  # computed before the pass inserts its casts into the block
            islands[id(block)] = _float32_island(block)
        return op.name not in islands[id(block)]

    return select


def export_coreml(model: nn.Module, path: str | os.PathLike, tiles: Sequence[tuple[int, int]] = DEFAULT_TILES,
                  compress_int8: bool = False, metadata: dict[str, Any] | None = None,
                  version: str = "") -> Path:
    """Convert ``model`` to an ``.mlpackage`` with enumerated ``noisy`` tile shapes; return its path."""
    _quiet_coremltools()
    import coremltools as ct

    path = Path(path)
    if path.suffix != ".mlpackage":
        raise ExportError(f"{path}: a Core ML package name must end in .mlpackage")
    model = model.eval().cpu()
    stride = int(getattr(model, "stride", 1))
    tiles = [(int(h), int(w)) for h, w in tiles]
    bad = [f"{h}x{w}" for h, w in tiles if h % stride or w % stride or h <= 0 or w <= 0]
    if not tiles or bad:
        raise ExportError(f"Core ML tile sizes must be positive multiples of the model stride {stride}; "
                          f"got {', '.join(bad) or 'none'}")
    shapes = [(1, 4, h, w) for h, w in tiles]
    noisy_shape = ct.EnumeratedShapes(shapes=shapes, default=shapes[0]) if len(shapes) > 1 else shapes[0]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # trace deprecation, untested-torch-version notices
            traced = torch.jit.trace(model, (torch.rand(*shapes[0]), torch.full((1, 8), 1e-3)))
            mlmodel = ct.convert(
                traced, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
                inputs=[ct.TensorType(name="noisy", shape=noisy_shape, dtype=np.float32),
                        ct.TensorType(name="noise", shape=(1, 8), dtype=np.float32)],
                outputs=[ct.TensorType(name="denoised", dtype=np.float32)],
                compute_precision=ct.transform.FP16ComputePrecision(op_selector=_body_only_selector()),
                skip_model_load=True)
            if compress_int8:
                import coremltools.optimize.coreml as cto

                config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric"))
                mlmodel = cto.linear_quantize_weights(mlmodel, config)
    except Exception as err:
        raise ExportError(f"{path}: Core ML conversion failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from None
    mlmodel.author = "rawdenoise"
    mlmodel.license = "Apache-2.0"
    mlmodel.version = version
    mlmodel.short_description = ("Camera RAW denoiser: packed RGGB planes 'noisy' (1,4,H,W) and noise "
                                 "'noise' (1,8) [a x4, b x4] -> 'denoised' (1,4,H,W)")
    user = {**model_metadata(model), "rawdenoise.tiles": json.dumps(tiles),
            "rawdenoise.weights": "int8" if compress_int8 else "fp16"}
    user.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    for key, value in user.items():
        mlmodel.user_defined_metadata[key] = value
    tmp = temp_path_beside(path, suffix=".mlpackage")
    try:
        mlmodel.save(str(tmp))
        move_into_place(tmp, path)
    finally:
        remove(tmp)
    return path


def load_spec(path: str | os.PathLike) -> Any:
    """The protobuf spec of a saved ``.mlpackage`` (works on Linux, unlike prediction)."""
    _quiet_coremltools()
    import coremltools as ct

    return ct.utils.load_spec(str(path))


def program_ops(spec: Any) -> set[str]:
    """Every MIL op type used by an ML program spec."""
    ops: set[str] = set()
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            ops.update(op.type for op in block.operations)
    return ops
