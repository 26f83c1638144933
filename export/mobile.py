"""On-device runtime formats: ONNX Runtime Mobile's ``.ort`` and ExecuTorch's ``.pte``.

``.ort`` is a flatbuffer of an ONNX model that the reduced-size mobile runtime loads without the
ONNX parser; dynamic H/W survive the conversion. The default ``runtime`` optimization style keeps
the graph portable to the XNNPACK/NNAPI/Core ML execution providers phones use, and the ``arm``
target lets int8 QDQ groups be fused as on a phone. The files are written by the exact ONNX Runtime
version the app links (:data:`ORT_RUNTIME_VERSION`), run in its own Python environment when this one
has another version: a runtime loads the ORT files of its own and older versions, never of newer ones.

``.pte`` (ExecuTorch, XNNPACK-lowered, dynamic H/W) is optional: ``pip install rawdenoise[executorch]``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import ExportError
from .atomic import write_bytes

ORT_STYLES = ("runtime", "fixed")
# The ONNX Runtime the phone app links (onnxruntime-android in android_demo/app/build.gradle.kts). An
# ORT-format file loads in the runtime that wrote it and in newer ones, not in older ones: an INT8 file
# converted by 1.32 fails in 1.20 ("Missing action 1DQ_CPU for transformer QDQSelectorActionTransformer").
ORT_RUNTIME_VERSION = "1.20.0"
# The graph optimization level the files are checked at and the app loads them with: at "all" ORT
# replays the saved runtime optimizations (QDQ fusion into integer kernels).
ORT_OPTIMIZATION_LEVEL = "all"
_SESSION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                   "all": "ORT_ENABLE_ALL"}  # manifest level → onnxruntime.GraphOptimizationLevel member
ORT_PYTHON_ENV = "RAWDENOISE_ORT_PYTHON"

# Run in the target runtime's own Python: load the converted file at the app's optimization level and
# run one small window, so a file that the app's runtime cannot load never leaves the exporter.
_LOAD_CHECK = """
import sys, numpy as np, onnxruntime as ort
options = ort.SessionOptions()
options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, sys.argv[2])
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
side = 2 * int(session.get_modelmeta().custom_metadata_map.get("rawdenoise.stride", "8"))
noise = np.array([[1e-3] * 4 + [1e-5] * 4], np.float32)
out = session.run(None, {"noisy": np.full((1, 4, side, side), 0.25, np.float32), "noise": noise})[0]
assert out.shape == (1, 4, side, side) and np.isfinite(out).all(), "non-finite output"
"""


def _run(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except OSError as err:
        raise ExportError(f"{what}: cannot run {command[0]} ({err.strerror})") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ExportError(f"{what} failed ({lines[-1] if lines else f'exit status {done.returncode}'})")
    return done.stdout


def ort_python(version: str = ORT_RUNTIME_VERSION, python: str | os.PathLike | None = None) -> str:
    """A Python interpreter whose onnxruntime is exactly ``version``: ``python``, else this one when its
    onnxruntime is that version, else $RAWDENOISE_ORT_PYTHON. ORT files are written by the runtime that will
    load them, so the exporter and the app can never disagree on the format."""
    import onnxruntime

    if python is None and onnxruntime.__version__ == version:
        return sys.executable
    candidate = python or os.environ.get(ORT_PYTHON_ENV)
    if not candidate:
        venv = f"~/.cache/rawdenoise/ort-{version}"
        raise ExportError(f"ORT files for onnxruntime {version} (the app's runtime) need that exact version, this "
                          f"environment has {onnxruntime.__version__}: python3 -m venv {venv} && {venv}/bin/pip "
                          f"install onnxruntime=={version} onnx numpy, then pass --ort-python {venv}/bin/python "
                          f"(or set {ORT_PYTHON_ENV})")
    found = _run([str(candidate), "-c", "import onnxruntime; print(onnxruntime.__version__)"],
                 f"checking the onnxruntime of {candidate}").strip()
    if found != version:
        raise ExportError(f"{candidate} has onnxruntime {found}, not {version}; point --ort-python (or "
                          f"{ORT_PYTHON_ENV}) at a Python with onnxruntime=={version}")
    return str(candidate)


def convert_to_ort(onnx_path: str | os.PathLike, out_path: str | os.PathLike, style: str = "runtime",
                   runtime_version: str = ORT_RUNTIME_VERSION, python: str | os.PathLike | None = None) -> Path:
    """Convert one ONNX file to ORT format at ``out_path`` with onnxruntime ``runtime_version``'s own
    converter (run in :func:`ort_python`), and check that runtime loads and runs the result."""
    if style not in ORT_STYLES:
        raise ExportError(f"ORT optimization style must be one of {', '.join(ORT_STYLES)}, got {style!r}")
    interpreter = ort_python(runtime_version, python)
    onnx_path, out_path = Path(onnx_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # The converter converts every .onnx in the model's folder and writes side files next to it:
    # give it a private folder holding only this model.
    with tempfile.TemporaryDirectory(prefix=".ort-", dir=out_path.parent) as work:
        src = Path(work, "in", "model.onnx")
        src.parent.mkdir()
        shutil.copyfile(onnx_path, src)
        _run([interpreter, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(src), "--output_dir",
              str(Path(work, "out")), "--optimization_style", style.capitalize(), "--target_platform", "arm"],
             f"{onnx_path}: ORT format conversion with onnxruntime {runtime_version}")
        produced = sorted(Path(work, "out").glob("*.ort"))
        if len(produced) != 1:
            raise ExportError(f"{onnx_path}: ORT converter produced {len(produced)} .ort files")
        _run([interpreter, "-c", _LOAD_CHECK, str(produced[0]), _SESSION_LEVELS[ORT_OPTIMIZATION_LEVEL]],
             f"{onnx_path}: loading its ORT file in onnxruntime {runtime_version}")
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
