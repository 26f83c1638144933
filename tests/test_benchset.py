"""The held-out benchmark set is deterministic, held out from training seeds, and noised as specified."""
import numpy as np
import pytest

from evaluation.benchset import (BENCH_A, BENCH_LEVELS, BenchSetError, _photo_srgb, bench_level, bench_scenes,
                                   load_scene, scene_names)
from evaluation.benchset import BENCH_PHOTOS, scene_group
from denoise.noise import log_linear_b
from training.synth import EVAL_SEED_BASE


def test_levels_are_five_log_spaced_shot_terms_on_the_dnd_line():
    a = np.array([p.a[0] for p in BENCH_LEVELS])
    assert len(BENCH_LEVELS) == 5 and a[0] == pytest.approx(1e-4) and a[-1] == pytest.approx(2e-2)
    np.testing.assert_allclose(np.diff(np.log(a)), np.log(200) / 4)
    for p in BENCH_LEVELS:
        assert p.b == (pytest.approx(float(log_linear_b(p.a[0]))),) * 4
        assert p.source == "synthetic"
    assert BENCH_A == tuple(p.a[0] for p in BENCH_LEVELS)


def test_scene_order_alternates_procedural_and_photos():
    assert scene_names(5) == ["procedural:0", "skimage:astronaut", "procedural:1", "skimage:coffee", "procedural:2"]
    names = scene_names(len(BENCH_PHOTOS) + 18)
    assert names[8:8 + len(BENCH_PHOTOS)] == [f"photo:{p}" for p in BENCH_PHOTOS] and len(BENCH_PHOTOS) >= 8
    assert names[-10:] == ["bright:0", "bright:1", "bright:2", "bright:3", "sensor:0", "sensor:1", "sensor:2",
                           "sensor:3", "procedural:4", "procedural:5"]
    assert {scene_group(n) for n in names} == {"procedural", "photographs", "bright un-WB", "real-sensor noise"}


def test_bright_scenes_are_unbalanced_and_high_signal():
    scene = load_scene("bright:1", 0, size=128)
    means = scene.clean.mean(axis=(1, 2))
    assert 0.3 < scene.clean.mean() < 0.4                  # exposed to a mean of 0.35 before clipping
    assert means.max() / means.min() < 1.6                 # no inverse white balance: R, G, B alike
    ordinary = load_scene("procedural:1", 0, size=128).clean.mean(axis=(1, 2))
    assert ordinary[1] / ordinary[0] > 1.5                 # the ordinary camera's red is dimmed by its WB gain


def test_sensor_scenes_carry_row_noise_beyond_poisson_gaussian():
    sensor, plain = load_scene("sensor:0", 0, size=256), load_scene("procedural:0", 0, size=256)

    def row_spread(scene):  # row means of white noise shrink like 1/sqrt(w); banding does not
        resids = [scene.noisy(level) - scene.clean for level in BENCH_LEVELS]
        return float(np.mean([r.mean(axis=2).std() / r.std() for r in resids]))
    assert row_spread(sensor) > 1.25 * row_spread(plain)
    assert np.array_equal(sensor.noisy(BENCH_LEVELS[1]), sensor.noisy(BENCH_LEVELS[1]))


def test_same_request_gives_identical_arrays_and_levels_differ():
    first = bench_scenes(2, size=32)
    again = bench_scenes(2, size=32)
    for s1, s2 in zip(first, again):
        assert s1.clean.shape == (4, 16, 16) and s1.clean.dtype == np.float32
        np.testing.assert_array_equal(s1.clean, s2.clean)
        np.testing.assert_array_equal(s1.camera.rgb2cam, s2.camera.rgb2cam)
        np.testing.assert_array_equal(s1.noisy(BENCH_LEVELS[2]), s2.noisy(BENCH_LEVELS[2]))
        assert s1.seed >= EVAL_SEED_BASE
        assert 0.0 <= s1.clean.min() and s1.clean.max() <= 1.0
    assert not np.array_equal(first[0].noisy(BENCH_LEVELS[1]), first[0].noisy(BENCH_LEVELS[2]))
    assert not np.array_equal(first[0].clean, first[1].clean)
    assert first[0].camera.red_gain != first[1].camera.red_gain


def test_noise_has_the_profiles_variance():
    scene = load_scene("procedural:0", 0, size=128)
    profile = bench_level(5e-3)
    residual = scene.noisy(profile).astype(np.float64) - scene.clean
    predicted = profile.a[0] * scene.clean + profile.b[0]
    ratio = np.mean(residual ** 2) / np.mean(predicted)
    print(f"noise energy / predicted a*x+b = {ratio:.3f}")
    assert abs(ratio - 1.0) < 0.05
    assert abs(residual.mean()) < 3 * np.sqrt(np.mean(predicted) / residual.size)


def test_photos_come_from_scikit_image_and_small_ones_are_upscaled():
    import skimage.data

    crop = _photo_srgb("astronaut", 64)
    np.testing.assert_allclose(crop, skimage.data.astronaut()[224:288, 224:288] / 255.0, atol=1e-6)
    big = _photo_srgb("chelsea", 320)        # chelsea is 300x451: scaled up to cover 320x320
    assert big.shape == (320, 320, 3) and 0.0 <= big.min() and big.max() <= 1.0


@pytest.mark.parametrize("name,size,match", [("imagenet:cat", 32, "unknown benchmark scene"),
                                             ("skimage:nosuch", 32, "no sample image"),
                                             ("procedural:0", 31, "even number")])
def test_bad_requests_are_clear_errors(name, size, match):
    with pytest.raises(BenchSetError, match=match):
        load_scene(name, 0, size)
    with pytest.raises(BenchSetError, match="at least 1"):
        scene_names(0)


def test_unknown_catalogue_photograph_is_a_clear_error():
    with pytest.raises(BenchSetError, match="not a catalogue photograph"):
        load_scene("photo:no_such_photo", 0, 64)
