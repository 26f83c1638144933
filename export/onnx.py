"""Export a model to one self-contained ONNX file with dynamic batch and tile size.

The graph takes ``noisy`` (N, 4, H, W) and ``noise`` (N, 8) float32 and returns ``denoised``
(N, 4, H, W); H and W are declared as multiples of the model's stride (``torch.export.Dim``
multiples), so one file serves every tile size. The stride and I/O contract are stored in the
file's metadata, which is what :class:`denoise.backends.OnnxRunner` reads.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from . import ExportError
from .atomic import write_bytes

DEFAULT_OPSET = 20
INPUT_NAMES = ("noisy", "noise")
OUTPUT_NAME = "denoised"


def model_metadata(model: nn.Module) -> dict[str, str]:
    """The string metadata every exported file carries (ONNX metadata_props, Core ML user metadata)."""
    return {
        "rawdenoise.arch": str(getattr(model, "arch", type(model).__name__)),
        "rawdenoise.config": json.dumps(getattr(model, "config", {}), sort_keys=True),
        "rawdenoise.stride": str(int(getattr(model, "stride", 1))),
        "rawdenoise.io": json.dumps({"inputs": {"noisy": "float32 (N,4,H,W) packed RGGB R,G1,G2,B, "
                                                         "black-subtracted / (white-black)",
                                               "noise": "float32 (N,8) [a_R,a_G1,a_G2,a_B,b_R,b_G1,b_G2,b_B]"},
                                    "outputs": {"denoised": "float32 (N,4,H,W)"},
                                    "H, W": "multiples of rawdenoise.stride"}),
    }


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Write ``model`` as a single-file ONNX graph (weights embedded) with dynamic N, H, W."""
    from torch.export import Dim

    path = Path(path)
    model = model.eval().cpu()
    stride = int(getattr(model, "stride", 1))
    batch = Dim("batch", min=1)
    height = stride * Dim("h_over_stride", min=1)
    width = stride * Dim("w_over_stride", min=1)
    # Distinct, non-trivial example sizes so the exporter cannot specialise H, W or N to them.
    example = (torch.rand(2, 4, 3 * stride, 5 * stride), torch.full((2, 8), 1e-3))
    try:
        with warnings.catch_warnings():  # "axis name batch will not be used": noisy and noise share it
            warnings.filterwarnings("ignore", message=".*axis name.*", category=UserWarning)
            program = torch.onnx.export(
                model, example, None, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                opset_version=opset, dynamo=True, external_data=False, verbose=False,
                dynamic_shapes=({0: batch, 2: height, 3: width}, {0: batch}))
    except Exception as err:  # the exporter raises many types; surface one clear line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"{path}: ONNX export failed ({type(err).__name__}: {first}); "
                          "the model must use export-friendly ops only (see DESIGN.md)") from None
    proto = program.model_proto
    for node in proto.graph.node:  # exporter debug info: source paths and stack traces of this machine
        del node.metadata_props[:]
    proto.producer_name = "rawdenoise"
    del proto.metadata_props[:]
    for key, value in model_metadata(model).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)
    return write_bytes(path, proto.SerializeToString())


def metadata_of(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without loading its weights into a session)."""
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}
