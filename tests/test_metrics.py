"""Metrics score like DND, and the local benchmark writes complete, strict results and its plots."""
import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from evaluation.benchset import load_scene
from evaluation.methods import Method, MethodSpecError, identity_method, method_from_spec
from denoise.metrics import PSNR_CAP_DB, psnr
from evaluation.metrics import raw_ssim, run_synth_benchmark, srgb_metrics
from denoise.models import build_model, save_checkpoint
from denoise.noise import NoiseProfile
from training.synth import random_camera


def test_psnr_has_peak_one_and_clips_like_dnd():
    clean = np.full((4, 8, 8), 0.5, np.float32)
    assert psnr(clean + 0.01, clean) == pytest.approx(40.0, abs=1e-4)
    over = np.full((4, 8, 8), 1.3, np.float32)              # clean above saturation counts as 1
    assert psnr(np.ones_like(over), over) == PSNR_CAP_DB
    assert psnr(np.full_like(over, 2.0), over) == PSNR_CAP_DB  # so does an estimate above 1


def test_ssim_and_srgb_metrics_are_perfect_only_for_the_clean_image():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.1, 0.6, size=(4, 16, 16)).astype(np.float32)
    noisy = clean + rng.normal(0, 0.05, size=clean.shape).astype(np.float32)
    cam = random_camera(rng)
    assert raw_ssim(clean, clean) == pytest.approx(1.0)
    assert raw_ssim(noisy, clean) < 0.95
    assert srgb_metrics(clean, clean, cam) == (PSNR_CAP_DB, pytest.approx(1.0))
    s_psnr, s_ssim = srgb_metrics(noisy, clean, cam)
    assert s_psnr < psnr(noisy, clean)   # WB and the colour matrix amplify raw noise
    assert s_ssim < 0.95


def _blur() -> Method:
    return Method("blur", lambda planes, profile: np.stack([gaussian_filter(p, 0.6) for p in planes]))


def test_synth_benchmark_writes_results_and_plots(tmp_path):
    levels = [1e-3, 1e-2]
    out = tmp_path / "res" / "synth.json"
    data = run_synth_benchmark([identity_method(), _blur()], n_scenes=1, levels=levels, out_json=out,
                               progress=False, size=64, command="denoise eval synth --test")
    on_disk = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert on_disk["kind"] == "synth" and on_disk["command"] == "denoise eval synth --test"
    assert on_disk["methods"] == ["noisy", "blur"]
    assert [(r["method"], r["level"]) for r in on_disk["results"]] == [("noisy", 0), ("noisy", 1), ("blur", 0), ("blur", 1)]
    assert on_disk["scenes"][0]["name"] == "procedural:0" and on_disk["machine"]["cpu"]
    noisy = {r["level"]: r for r in data["results"] if r["method"] == "noisy"}
    blur = {r["level"]: r for r in data["results"] if r["method"] == "blur"}
    clean = np.clip(load_scene("procedural:0", 0, 64).clean, 0, 1)
    for li, a in enumerate(levels):
        row = noisy[li]
        assert set(row) >= {"raw_psnr", "raw_ssim", "srgb_psnr", "srgb_ssim", "seconds", "per_scene"}
        # The identity's raw PSNR is the noise power the profile predicts (clipping removes a little).
        predicted = 10 * np.log10(1.0 / np.mean(a * clean + on_disk["levels"][li]["b"]))
        print(f"a={a}: noisy raw PSNR {row['raw_psnr']:.2f} dB (predicted {predicted:.2f}), "
              f"blur {blur[li]['raw_psnr']:.2f} dB, noisy sRGB {row['srgb_psnr']:.2f} dB")
        assert predicted - 0.3 < row["raw_psnr"] < predicted + 1.0
    assert noisy[0]["raw_psnr"] > noisy[1]["raw_psnr"] + 5
    assert blur[1]["raw_psnr"] > noisy[1]["raw_psnr"]          # smoothing helps at high noise
    for name in ("synth_grid.png", "synth_psnr.png"):
        png = (tmp_path / "res" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not list((tmp_path / "res").glob(".*"))             # no temporary files left behind


def test_model_spec_runs_a_checkpoint_through_the_tiled_engine(tmp_path):
    model = build_model("feature_align", widths=[4, 8], enc_blocks=[0, 1], dec_blocks=[1], fa_hidden=[4, 4])
    save_checkpoint(model, tmp_path / "tiny.pt")
    method = method_from_spec(f"model:{tmp_path / 'tiny.pt'}", device="cpu")
    assert method.name == f"model:{tmp_path / 'tiny.pt'}"
    planes = np.random.default_rng(1).uniform(0, 1, size=(4, 20, 22)).astype(np.float32)
    out = method(planes, NoiseProfile.uniform(1e-3, 1e-5))
    assert out.shape == planes.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_unknown_method_spec_is_a_clear_error():
    with pytest.raises(MethodSpecError, match="unknown method 'nlm'"):
        method_from_spec("nlm")
    with pytest.raises(MethodSpecError, match="model:PATH"):
        method_from_spec("model:")


def test_two_checkpoints_with_the_same_file_name_stay_apart(tmp_path):
    import pytest

    from evaluation.methods import method_from_spec
    from evaluation.metrics import run_synth_benchmark
    from denoise.models import build_model, save_checkpoint

    paths = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "best.pt")
        save_checkpoint(build_model("feature_align", widths=[8, 16], enc_blocks=[0, 1], dec_blocks=[1],
                                    fa_hidden=[4, 4]), paths[-1])
    methods = [method_from_spec(f"model:{p}") for p in paths]
    assert methods[0].name != methods[1].name
    with pytest.raises(ValueError, match="named once"):
        run_synth_benchmark([methods[0], methods[0]], 1, [1e-3], tmp_path / "r.json", progress=False, size=64)


def test_crop_grid_shows_the_methods_asked_for(tmp_path, monkeypatch):
    import evaluation.plots as plots

    shown = []
    monkeypatch.setattr(plots, "save_crop_grid", lambda grid, camera, names, profiles, path: shown.append(list(names)))
    methods = [identity_method(), _blur(), *(Method(f"m{k}", lambda p, prof: p) for k in range(6))]
    run_synth_benchmark(methods, 1, [1e-3], tmp_path / "a.json", progress=False, size=32)
    run_synth_benchmark(methods, 1, [1e-3], tmp_path / "b.json", progress=False, size=32, grid_methods=["m5", "blur"])
    assert shown == [["noisy", "blur", "m0", "m1", "m2", "m3"], ["blur", "m5"]]   # default: the first six run
    with pytest.raises(ValueError, match="--grid-method bm3d: not among the methods given"):
        run_synth_benchmark(methods, 1, [1e-3], tmp_path / "c.json", progress=False, size=32, grid_methods=["bm3d"])
