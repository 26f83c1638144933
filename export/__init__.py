"""Turn trained checkpoints into phone-ready artefacts (ONNX fp32/fp16/INT8, ORT, Core ML, ExecuTorch)
and a verified bundle that ``denoise.bundle.load_bundle`` can run.

Each format lives in its own module; :mod:`export.bundle` composes them. Everything here may import
``denoise``; nothing in ``denoise`` imports this package.
"""


class ExportError(ValueError):
    """An export that cannot be made or failed its own checks (one line: what and what to do)."""
