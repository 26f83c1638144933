"""Residual statistics tell a faithful denoiser from one that leaves noise in or smooths detail away."""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from denoise.cfa import pack_rggb
from evaluation.residual import ResidualCheckError, find_raw_files, residual_stats
from denoise.noise import NoiseProfile, log_linear_b
from training.noise_synthesis import add_noise
from training.synth import EVAL_SEED_BASE, clean_raw, procedural_scene

PROFILE = NoiseProfile.uniform(5e-3, float(log_linear_b(5e-3)), "synthetic")


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(4)
    mosaic, _ = clean_raw(procedural_scene(160, EVAL_SEED_BASE + 11), rng)
    clean = pack_rggb(mosaic)
    return clean, add_noise(clean, PROFILE, rng)


def _lags(stats):
    return np.array(list(stats["lag1_x"].values()) + list(stats["lag1_y"].values()), dtype=float)


def test_oracle_residual_is_the_predicted_white_noise(pair):
    clean, noisy = pair
    stats = residual_stats(noisy, clean, PROFILE)
    ratios = [b["ratio"] for b in stats["variance_ratio"]]
    print(f"oracle: overall ratio {stats['variance_ratio_overall']:.3f}, per bin {np.round(ratios, 2)}, "
          f"lag1 {np.round(_lags(stats), 3)}")
    assert abs(stats["variance_ratio_overall"] - 1.0) < 0.05
    assert all(abs(r - 1.0) < 0.2 for r in ratios)
    assert np.all(np.abs(_lags(stats)) < 0.05)
    assert all(abs(v) < 0.02 for v in stats["mean_shift"].values())


def test_identity_removes_nothing(pair):
    _, noisy = pair
    stats = residual_stats(noisy, noisy.copy(), PROFILE)
    assert stats["variance_ratio_overall"] == 0.0
    assert all(v == 0.0 for v in stats["mean_shift"].values())
    assert np.all(np.isnan(_lags(stats)))


def test_half_way_denoiser_removes_a_quarter_of_the_variance(pair):
    clean, noisy = pair
    stats = residual_stats(noisy, 0.5 * (noisy + clean), PROFILE)
    print(f"half-way: overall ratio {stats['variance_ratio_overall']:.3f}")
    assert abs(stats["variance_ratio_overall"] - 0.25) < 0.03


def test_over_smoothing_puts_structure_into_the_residual(pair):
    clean, noisy = pair
    smoothed = np.stack([gaussian_filter(p, 2.5) for p in noisy])
    stats = residual_stats(noisy, smoothed, PROFILE)
    print(f"over-smoothed: overall ratio {stats['variance_ratio_overall']:.3f}, lag1 {np.round(_lags(stats), 3)}")
    assert stats["variance_ratio_overall"] > 1.2
    assert _lags(stats).mean() > 0.1


def test_find_raw_files_lists_raw_suffixes_and_errors_clearly(tmp_path):
    (tmp_path / "a.DNG").write_bytes(b"x")
    (tmp_path / "b.nef").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in find_raw_files([tmp_path])] == ["a.DNG", "b.nef"]
    with pytest.raises(ResidualCheckError, match="no such file"):
        find_raw_files([tmp_path / "missing"])
    (tmp_path / "a.DNG").unlink()
    (tmp_path / "b.nef").unlink()
    with pytest.raises(ResidualCheckError, match="no RAW files"):
        find_raw_files([tmp_path])


def test_residual_check_reads_dngs_and_writes_strict_json(tmp_path, pair):
    import json

    from denoise.cfa import unpack_rggb
    from denoise.dng import write_bayer_dng
    from evaluation.methods import Method, identity_method
    from evaluation.residual import run_residual_check
    from training.synth import random_camera

    clean, noisy = pair
    cam = random_camera(np.random.default_rng(2))
    black, white = 64, 4095
    mosaic = unpack_rggb(noisy)[1:-1, :]                       # a GBRG crop of odd height
    dn = np.clip(np.rint(mosaic * (white - black) + black), 0, white).astype(np.uint16)
    folder = tmp_path / "raws"
    folder.mkdir()
    write_bayer_dng(folder / "shot.dng", dn, "GBRG", black, white, cam.xyz2cam, cam.as_shot_neutral,
                    noise_profile=PROFILE)
    smooth = Method("smooth", lambda planes, profile: np.stack([gaussian_filter(p, 1.0) for p in planes]))
    out = tmp_path / "res" / "residual.json"
    for method in (identity_method(), smooth):
        data = run_residual_check([folder], method, out, progress=False, command="denoise eval residual raws/")
        row = json.loads(out.read_text())["files"][0]
        assert data["kind"] == "residual" and data["method"] == method.name
        assert row["file"].endswith("shot.dng") and row["noise"]["source"] == "metadata"
        np.testing.assert_allclose(row["noise"]["a"], PROFILE.a, rtol=1e-4)
        print(f"{method.name}: variance ratio {row['variance_ratio_overall']:.3f}, "
              f"lag1 x {[round(v, 3) for v in row['lag1_x'].values() if v is not None]}")
        if method.name == "noisy":
            assert row["variance_ratio_overall"] == 0.0 and row["lag1_x"]["R"] is None   # NaN stored as null
        else:
            assert row["variance_ratio_overall"] > 0.5
