"""On-device runtime formats: ONNX Runtime Mobile's ``.ort`` and ExecuTorch's ``.pte``.

``.ort`` is a flatbuffer of an ONNX model that the reduced-size mobile runtime loads without the
ONNX parser; dynamic H/W survive the conversion. The default ``runtime`` optimization style keeps
the graph portable to the XNNPACK/NNAPI/Core ML execution providers phones use, and the ``arm``
target lets int8 QDQ groups be fused as on a phone.

``.pte`` (ExecuTorch, XNNPACK-lowered, dynamic H/W) is optional: ``pip install rawdenoise[executorch]``.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import ExportError
from .atomic import write_bytes

ORT_STYLES = ("runtime", "fixed")


def convert_to_ort(onnx_path: str | os.PathLike, out_path: str | os.PathLike, style: str = "runtime") -> Path:
    """Convert one ONNX file to ORT format at ``out_path`` (via ONNX Runtime's own converter)."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)  # it logs every config file at INFO
    if style not in ORT_STYLES:
        raise ExportError(f"ORT optimization style must be one of {', '.join(ORT_STYLES)}, got {style!r}")
    onnx_path, out_path = Path(onnx_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # The converter converts every .onnx in the model's folder and writes side files next to it:
    # give it a private folder holding only this model.
    with tempfile.TemporaryDirectory(prefix=".ort-", dir=out_path.parent) as work:
        src = Path(work, "in", "model.onnx")
        src.parent.mkdir()
        shutil.copyfile(onnx_path, src)
        with contextlib.redirect_stdout(io.StringIO()) as log:
            try:
                convert_onnx_models_to_ort(src, output_dir=Path(work, "out"),
                                           optimization_styles=[OptimizationStyle[style.capitalize()]],
                                           target_platform="arm")
            except Exception as err:
                raise ExportError(f"{onnx_path}: ORT format conversion failed "
                                  f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
        produced = sorted(Path(work, "out").glob("*.ort"))
        if len(produced) != 1:
            raise ExportError(f"{onnx_path}: ORT converter produced {len(produced)} .ort files; log: "
                              f"{log.getvalue().strip().splitlines()[-1:] or 'empty'}")
        os.replace(produced[0], out_path)
    return out_path


def executorch_available() -> bool:
    try:
        import executorch.exir  # noqa: F401
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner  # noqa: F401
    except ImportError:
        return False
    return True


def export_pte(model: nn.Module, path: str | os.PathLike, max_side: int = 512, max_batch: int = 4) -> Path:
    """ExecuTorch program lowered to XNNPACK with dynamic N, H, W (H, W multiples of the stride).

    ExecuTorch plans its memory for the largest shape, so tiles are bounded: packed sides up to
    ``max_side`` and batches up to ``max_batch``.
    """
    if not executorch_available():
        raise ExportError(f"{path}: the 'pte' format needs ExecuTorch: pip install 'rawdenoise[executorch]'")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from torch.export import Dim

    path = Path(path)
    model = model.eval().cpu()
    stride = int(getattr(model, "stride", 1))
    batch = Dim("batch", min=1, max=max_batch)
    height = stride * Dim("h_over_stride", min=1, max=max_side // stride)
    width = stride * Dim("w_over_stride", min=1, max=max_side // stride)
    example = (torch.rand(2, 4, 3 * stride, 5 * stride), torch.full((2, 8), 1e-3))
    try:
        program = torch.export.export(model, example, dynamic_shapes=({0: batch, 2: height, 3: width}, {0: batch}))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    except Exception as err:
        raise ExportError(f"{path}: ExecuTorch export failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from None
    return write_bytes(path, lowered.buffer)


class PteRunner:
    """Runs a ``.pte`` with ExecuTorch's Python runtime — the same runner interface as
    ``denoise.backends``, so export parity checks treat it like any other format."""

    def __init__(self, path: str | os.PathLike, stride: int, name: str = "pte") -> None:
        if not executorch_available():
            raise ExportError(f"{path}: running a .pte needs ExecuTorch: pip install 'rawdenoise[executorch]'")
        from executorch.runtime import Runtime

        self.method = Runtime.get().load_program(str(path)).load_method("forward")
        self.stride = int(stride)
        self.name = name

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        inputs = [torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32)),
                  torch.from_numpy(np.ascontiguousarray(noise, dtype=np.float32))]
        return self.method.execute(inputs)[0].numpy()
