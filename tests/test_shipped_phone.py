"""The shipped bundle on the phone's runtime: the app links the ONNX Runtime its ORT files were written
for, every ``.ort`` file loads in exactly that version (run in its own Python, as the exporter does) and
agrees with the fp32 model, and every INT8 model is within the manifest's PSNR budget."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from denoise.backends import OnnxRunner
from denoise.bundle import default_bundle_path
from denoise.manifest import INT8_FORMATS, ORT_FORMATS
from denoise.metrics import psnr
from export.calibration import QUALITY_SEED, noisy_crops
from export.mobile import ORT_PYTHON_ENV, ORT_RUNTIME_VERSION, ort_python
from export.verify import denoising_psnr, level_drop

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = default_bundle_path()
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text())
ORT_FP32_TOLERANCE = 1e-5

# Runs in the app's onnxruntime: every listed .ort file at the app's optimization level on the given crops.
_RUN_ORT = """
import sys, numpy as np, onnxruntime as ort
data = np.load(sys.argv[1])
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
outputs = {}
for path in sys.argv[3:]:
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    outputs[path] = np.stack([session.run(None, {"noisy": x[None], "noise": n[None]})[0][0]
                              for x, n in zip(data["noisy"], data["noise"])])
np.savez(sys.argv[2], **{str(i): outputs[p] for i, p in enumerate(sys.argv[3:])})
"""


def test_the_app_links_the_runtime_the_ort_files_were_written_for():
    gradle = (ROOT / "android_demo" / "app" / "build.gradle.kts").read_text()
    pinned = re.search(r'onnxruntimeVersion\s*=\s*"([0-9.]+)"', gradle)
    assert pinned, "android_demo/app/build.gradle.kts must pin onnxruntime-android as val onnxruntimeVersion"
    assert pinned.group(1) == ORT_RUNTIME_VERSION == MANIFEST["export"]["ort"]["runtime_version"]
    assert MANIFEST["export"]["ort"]["optimization_level"] == "all"


@pytest.mark.parametrize("index", range(len(MANIFEST["specialists"])),
                         ids=[s["name"] for s in MANIFEST["specialists"]])
def test_every_ort_file_loads_in_the_apps_runtime_and_matches_fp32(index, tmp_path):
    if not os.environ.get(ORT_PYTHON_ENV) and onnxruntime.__version__ != ORT_RUNTIME_VERSION:
        pytest.skip(f"no Python with onnxruntime=={ORT_RUNTIME_VERSION} (the app's runtime): set "
                    f"{ORT_PYTHON_ENV} to one (.ci/run creates .venv-ort)")
    python = ort_python(ORT_RUNTIME_VERSION)  # a broken $RAWDENOISE_ORT_PYTHON fails here rather than skips
    spec = MANIFEST["specialists"][index]
    crops = noisy_crops(tuple(spec["a_range"]), 8, 128, seed=QUALITY_SEED + 1000 * index)  # the quality set
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, noisy=np.stack([c.noisy for c in crops]), noise=np.stack([c.noise for c in crops]))
    files = [str(BUNDLE / spec["files"][fmt]) for fmt in ORT_FORMATS]
    subprocess.run([python, "-c", _RUN_ORT, str(inputs), str(tmp_path / "out.npz"), *files], check=True)
    outputs = np.load(tmp_path / "out.npz")
    fp32 = OnnxRunner(str(BUNDLE / spec["files"]["onnx"]))
    reference = np.stack([fp32(c.noisy[None], c.noise[None])[0] for c in crops])
    ref_psnr = denoising_psnr(fp32, crops)
    budget = MANIFEST["export"]["int8"]["max_drop_db"]
    for i, fmt in enumerate(ORT_FORMATS):
        out = outputs[str(i)]
        diff = float(np.abs(out - reference).max())
        drop = level_drop(crops, ref_psnr, [psnr(o, c.clean) for o, c in zip(out, crops)])
        print(f"{spec['name']}.{fmt} in onnxruntime {ORT_RUNTIME_VERSION} vs fp32: max abs diff {diff:.3g}, "
              f"PSNR drop {drop:.3f} dB")
        if fmt == "ort":
            assert diff <= ORT_FP32_TOLERANCE
        else:
            assert drop <= budget


def test_every_shipped_int8_model_is_within_the_manifests_budget():
    budget = MANIFEST["export"]["int8"]["max_drop_db"]
    assert budget is not None and budget <= 0.2  # the project's bar for INT8
    for spec in MANIFEST["specialists"]:
        for fmt in INT8_FORMATS:
            drop = spec["quality"][fmt]["psnr_drop_db"]
            print(f"{spec['name']}.{fmt}: {drop} dB held-out PSNR drop (budget {budget} dB)")
            assert drop <= budget
