"""read_raw: normalization, CFA phase, metadata and the DNG tags LibRaw hides."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import rawpy

from denoise.noise import NoiseProfile
from denoise.raw import read_raw
from rawfiles import AS_SHOT_NEUTRAL, COLOR_MATRIX, EXIF_PLACEHOLDER, WHITE, add_exif_ifd, bayer_dng, noisy_mosaic

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", [(32, 48), (33, 47)])
def test_mosaic_is_black_subtracted_per_channel_and_scaled(tmp_path, pattern, shape):
    black = (60, 62, 64, 66)  # the 2x2 tile in the file's own phase
    raw = read_raw(bayer_dng(tmp_path / "a.dng", shape, pattern, black=black))
    dn = noisy_mosaic(shape, black).astype(np.float64)
    tile = np.array(black, dtype=np.float64).reshape(2, 2)
    blacks = np.tile(tile, ((shape[0] + 1) // 2, (shape[1] + 1) // 2))[:shape[0], :shape[1]]
    expected = (dn - blacks) / (WHITE - blacks)
    assert raw.pattern == pattern
    assert raw.mosaic.dtype == np.float32 and raw.mosaic.shape == shape
    np.testing.assert_allclose(raw.mosaic, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(raw.black_levels, tile)
    assert raw.white_level == WHITE
    assert raw.mosaic.min() < 0, "values below black must be kept, not clipped"


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", [(32, 48), (33, 47), (23, 22)])
def test_canonical_planes_restore_the_mosaic_exactly(tmp_path, pattern, shape):
    raw = read_raw(bayer_dng(tmp_path / "a.dng", shape, pattern))
    planes, canonical = raw.canonical_planes()
    assert planes.shape[0] == 4 and planes.dtype == np.float32
    np.testing.assert_array_equal(raw.restore_mosaic(planes, canonical), raw.mosaic)


def test_canonical_planes_put_each_colour_in_its_plane(tmp_path):
    # GBRG: R sits at (1, 0) of every tile, B at (0, 1); one padded row in front makes it RGGB.
    raw = read_raw(bayer_dng(tmp_path / "a.dng", (32, 48), "GBRG"))
    planes, _ = raw.canonical_planes()
    assert planes.shape == (4, 17, 24)
    np.testing.assert_array_equal(planes[0, 1:], raw.mosaic[1::2, 0::2])
    np.testing.assert_array_equal(planes[3, :16], raw.mosaic[0::2, 1::2])


def test_metadata_from_libraw_and_dng_tags(tmp_path):
    path = bayer_dng(tmp_path / "a.dng", extra_tags=[(274, 3, 1, 6), EXIF_PLACEHOLDER])
    add_exif_ifd(path, iso=800, exposure=(1, 50))
    raw = read_raw(path)
    assert raw.is_dng and raw.make == "Acme" and raw.model == "X1"
    assert raw.iso == 800 and raw.exposure_time == pytest.approx(0.02)
    assert raw.flip == 6
    assert raw.as_shot_neutral == pytest.approx(AS_SHOT_NEUTRAL)
    assert raw.camera_wb == pytest.approx((2.0, 1.0, 1.6))  # 1 / AsShotNeutral, relative to G
    # LibRaw has no matrix for an unknown camera: ColorMatrix1 comes from the DNG tags.
    np.testing.assert_allclose(raw.color_matrix, COLOR_MATRIX, atol=1e-4)
    assert raw.noise_profile is None


@pytest.mark.parametrize("preview", [False, True], ids=["raw-in-IFD0", "raw-in-SubIFD0"])
def test_noise_profile_is_read_from_ifd0_or_subifd(tmp_path, preview):
    profile = NoiseProfile.uniform(2e-3, 3e-6)
    raw = read_raw(bayer_dng(tmp_path / "a.dng", noise=profile, preview=preview))
    assert raw.noise_profile == profile.with_source("metadata")
    assert raw.noise_profile.source == "metadata"


def test_per_plane_noise_profile_follows_cfa_plane_colors(tmp_path):
    # Three (S, O) pairs in CFAPlaneColor order B, G, R: both greens take the G pair.
    pairs = (3e-3, 3e-6, 2e-3, 2e-6, 1e-3, 1e-6)
    path = bayer_dng(tmp_path / "a.dng", extra_tags=[(50710, 1, 3, bytes((2, 1, 0))), (51041, 12, 6, pairs)])
    raw = read_raw(path)
    assert raw.noise_profile.a == pytest.approx((1e-3, 2e-3, 2e-3, 3e-3))
    assert raw.noise_profile.b == pytest.approx((1e-6, 2e-6, 2e-6, 3e-6))


def test_invalid_noise_profile_warns_and_is_ignored(tmp_path):
    path = bayer_dng(tmp_path / "a.dng", extra_tags=[(51041, 12, 2, (-1e-3, 1e-6))])
    with pytest.warns(UserWarning, match="ignoring its NoiseProfile"):
        raw = read_raw(path)
    assert raw.noise_profile is None


def test_active_area_margins_are_not_part_of_the_mosaic(tmp_path):
    # ActiveArea (top, left, bottom, right) leaves 4 masked pixels on each side.
    path = bayer_dng(tmp_path / "a.dng", (40, 48), extra_tags=[(50829, 4, 4, (4, 4, 36, 44))])
    raw = read_raw(path)
    dn = noisy_mosaic((40, 48)).astype(np.float64)[4:36, 4:44]
    assert raw.mosaic.shape == (32, 40)
    np.testing.assert_allclose(raw.mosaic, (dn - 64) / (WHITE - 64), atol=1e-6)


def test_uppercase_extension_is_accepted(tmp_path):
    raw = read_raw(bayer_dng(tmp_path / "IMG_0001.DNG"))
    assert raw.pattern == "RGGB"


def test_reading_does_not_warn_for_a_clean_file(tmp_path):
    path = bayer_dng(tmp_path / "a.dng", noise=NoiseProfile.uniform(1e-3, 1e-6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_raw(path)


def test_to_dn_inverts_the_normalization(tmp_path):
    path = bayer_dng(tmp_path / "a.dng", (33, 47), "GRBG", black=(60, 62, 64, 66))
    raw = read_raw(path)
    with rawpy.imread(str(path)) as rp:
        np.testing.assert_array_equal(raw.to_dn(raw.mosaic), rp.raw_image_visible)
    assert raw.to_dn(np.full_like(raw.mosaic, 2.0)).max() == WHITE
    assert raw.to_dn(np.full_like(raw.mosaic, -1.0)).min() == 0
