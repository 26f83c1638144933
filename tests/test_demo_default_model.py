"""The shipped default bundle and `denoise demo`: the Quick start's main job."""
import json

import pytest

from denoise.bundle import default_bundle_path, load_bundle
from denoise.cli import main
from denoise.raw import read_raw


def test_default_bundle_verifies_and_describes_itself(capsys):
    bundle = load_bundle(default_bundle_path())
    assert bundle.manifest["specialists"]
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"onnx", "torch"} <= set(info["formats"])
    specialists = info["specialists"]  # together they cover the whole trained noise range
    assert specialists[0]["a_range"][0] <= 1e-4 and specialists[-1]["a_range"][1] >= 2e-2


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_demo_denoises_the_noisy_dng_it_writes(tmp_path, backend):
    from evaluation.demo import run_demo

    r = run_demo(tmp_path, a=4e-3, seed=0, backend=backend)
    # fixed seed: the shipped model must clearly denoise the demo scene (raw PSNR gain)
    assert r["psnr_denoised"] > r["psnr_noisy"] + 3.0, r
    assert r["profile_source"] == "metadata"
    for path in r["outputs"].values():
        assert (tmp_path / path.rsplit("/", 1)[-1]).is_file()
    assert read_raw(r["outputs"]["denoised_dng"]).mosaic.shape == read_raw(r["outputs"]["noisy_dng"]).mosaic.shape


def test_demo_command_prints_psnr(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "raw PSNR vs clean" in out and "demo_denoised.dng" in out
