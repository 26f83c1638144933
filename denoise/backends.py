"""Model runners behind one interface: ``runner(planes, noise) -> planes`` on numpy arrays.

``planes`` is (N, 4, h, w) float32 packed RGGB with h, w multiples of ``runner.stride``;
``noise`` is (N, 8) float32 ``[a×4, b×4]``. The tiling engine only ever talks to this interface.
A runner may say how many windows per call it runs fastest (``preferred_batch``); the engine uses
it unless told otherwise. torch is imported only by :class:`TorchRunner`, so the ONNX Runtime path
runs on the base install.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn


# Every way a bundle can run: its ONNX Runtime formats (``onnx`` is fp32; ``ort`` and ``int8_ort`` are
# the ORT-mobile flatbuffers) and its torch checkpoints. The CLI, the public API and the evaluation
# methods all offer exactly this list.
BACKENDS = ("onnx", "fp16", "int8", "ort", "int8_ort", "torch")


class Runner(Protocol):
    stride: int
    name: str

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray: ...


def pick_device(device: str = "auto") -> "torch.device":
    """``auto`` → CUDA if present, else Apple MPS, else CPU; otherwise the named device."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    mps = getattr(torch.backends, "mps", None)
    if (chosen.type == "cuda" and not torch.cuda.is_available()) or (
            chosen.type == "mps" and not (mps is not None and mps.is_available())):
        raise ValueError(f"device {device!r} is not available on this machine; use --device cpu or auto")
    return chosen


class TorchRunner:
    """Runs a torch model (eval mode, no grad) on CPU, CUDA or MPS.

    Four windows per call: on a 2-core CPU shared with another busy process, one window per call
    was several times slower (every op's thread barrier waits for a core), and accelerators want
    batches anyway.
    """

    preferred_batch = 4

    def __init__(self, model: "nn.Module", device: str = "auto", name: str = "torch") -> None:
        import torch

        self.device = pick_device(device)
        self.model = model.eval().to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.stride = int(getattr(model, "stride", 1))
        self.name = name

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32)).to(self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        n = torch.from_numpy(np.ascontiguousarray(noise, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            return self.model(x, n).float().cpu().numpy()


class OnnxRunnerError(ValueError):
    """An ONNX / ORT model file that cannot serve as a denoiser runner."""


class OnnxRunner:
    """Runs an exported ``.onnx`` or ``.ort`` file with ONNX Runtime (fp32, fp16 or INT8 QDQ alike).

    The stride comes from the file's ``rawdenoise.stride`` metadata (written by ``export.onnx`` and
    kept by the ``.ort`` conversion and quantization) unless given. On the CPU provider alone it
    prefers one window per call: a 12 MP frame of 256-pixel windows ran about 10 % faster than with
    four per call (one window's activations stay in the cache), with identical outputs.
    ``optimization`` is ONNX Runtime's graph optimization level (``disable``, ``basic``, ``extended``,
    ``all``; its default is ``all``): INT8 QDQ models run as integer kernels only from ``extended`` on.
    """

    def __init__(self, path: str | os.PathLike, stride: int | None = None, threads: int | None = None,
                 providers: list[str] | None = None, name: str = "onnx", optimization: str | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        if optimization is not None:
            levels = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                      "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                      "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                      "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
            if optimization not in levels:
                raise OnnxRunnerError(f"graph optimization must be one of {', '.join(levels)}, got {optimization!r}")
            options.graph_optimization_level = levels[optimization]
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=providers or ["CPUExecutionProvider"])
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
            raise OnnxRunnerError(f"{path}: ONNX Runtime cannot load this model "
                                  f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})") from None
        names = {i.name for i in self.session.get_inputs()}
        if names != {"noisy", "noise"}:
            raise OnnxRunnerError(f"{path}: expected inputs 'noisy' and 'noise', found {sorted(names)}; "
                                  "export the model with 'denoise export'")
        if stride is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            if "rawdenoise.stride" not in meta:
                raise OnnxRunnerError(f"{path}: no 'rawdenoise.stride' metadata; pass the model's stride explicitly")
            stride = int(meta["rawdenoise.stride"])
        self.stride = int(stride)
        self.output = self.session.get_outputs()[0].name
        self.preferred_batch = 1 if self.session.get_providers() == ["CPUExecutionProvider"] else 4
        self.name = name
        self.path = str(path)

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        feeds = {"noisy": np.ascontiguousarray(planes, dtype=np.float32),
                 "noise": np.ascontiguousarray(noise, dtype=np.float32)}
        return self.session.run([self.output], feeds)[0].astype(np.float32, copy=False)
