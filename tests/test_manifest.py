"""The manifest schema (denoise/manifest.py) refuses exactly the committed golden "bad manifest" cases —
the same list the Android core's JUnit tests must refuse — each with one line naming the bundle, and
the ORT runtime rule matches its golden pairs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from denoise.bundle import BundleError, load_bundle
from denoise.manifest import ort_runtime_compatible
from export.golden import BUNDLE_DIR, COMMITTED_DIR

GOLDEN = json.loads((COMMITTED_DIR / "manifests.json").read_text())


def _bundle_with(manifest_text: str, folder: Path) -> Path:
    shutil.copytree(COMMITTED_DIR / BUNDLE_DIR, folder)
    (folder / "manifest.json").write_text(manifest_text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_golden_manifest_is_accepted_or_refused_in_one_line(case, tmp_path):
    folder = _bundle_with(case["manifest_text"], tmp_path / "bundle")
    if case["valid"]:
        load_bundle(folder)
        return
    with pytest.raises(BundleError) as refused:
        load_bundle(folder)
    message = str(refused.value)
    assert message.startswith(f"{folder}: ") and "\n" not in message, message


def test_the_golden_list_covers_every_io_field_and_the_ort_runtime():
    names = " ".join(c["name"] for c in GOLDEN["cases"] if not c["valid"])
    for field in ("stride", "tile", "overlap", "Core ML tile", "cfa", "inputs", "quality", "INT8 budget",
                  "ORT runtime", "ORT optimization level", "export formats"):
        assert field in names, f"no refused golden case for {field}"


def test_ort_runtime_rule_matches_its_golden_pairs():
    for pair in GOLDEN["ort_runtimes"]:
        assert ort_runtime_compatible(pair["made_for"], pair["runtime"]) == pair["compatible"], pair


def test_ort_files_for_a_newer_runtime_are_refused_before_loading(tmp_path):
    valid = next(c for c in GOLDEN["cases"] if c["name"] == "valid ORT file with its runtime")
    manifest = json.loads(valid["manifest_text"])
    manifest["export"]["ort"]["runtime_version"] = "1.999.0"
    bundle = load_bundle(_bundle_with(json.dumps(manifest), tmp_path / "bundle"))
    mid = bundle.specialists[1]
    with pytest.raises(BundleError, match=r"written for onnxruntime 1\.999\.0, which onnxruntime .* cannot load"):
        bundle.runner(mid, "ort")
