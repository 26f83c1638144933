"""DNG in, DNG out: pixels come back bit-exact in every Bayer phase, metadata is carried over,
and LibRaw opens and renders every DNG the SDK writes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rawpy
import tifffile

from denoise.dng import read_dng_tags, replace_dng_pixels
from denoise.noise import NoiseProfile
from denoise.raw import read_raw
from denoise.writers import write_output
from rawfiles import EXIF_PLACEHOLDER, WHITE, add_exif_ifd, bayer_dng

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


def visible_dn(path) -> np.ndarray:
    with rawpy.imread(str(path)) as rp:
        return rp.raw_image_visible.copy()


@pytest.mark.parametrize("preview", [False, True], ids=["raw-in-IFD0", "raw-in-SubIFD0"])
@pytest.mark.parametrize("shape", [(32, 48), (33, 47)], ids=["even", "odd"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_identity_round_trip_is_bit_exact(tmp_path, pattern, shape, preview):
    src = bayer_dng(tmp_path / "in.dng", shape, pattern, black=(60, 62, 64, 66), preview=preview,
                    noise=NoiseProfile.uniform(1e-3, 1e-6))
    raw = read_raw(src)
    planes, canonical = raw.canonical_planes()
    out = write_output(raw, raw.restore_mosaic(planes, canonical), tmp_path / "out.dng", "dng")
    np.testing.assert_array_equal(visible_dn(out), visible_dn(src))
    again = read_raw(out)
    assert again.pattern == pattern
    np.testing.assert_array_equal(again.black_levels, raw.black_levels)
    np.testing.assert_array_equal(again.mosaic, raw.mosaic)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_new_dng_for_non_dng_inputs_keeps_pixels_and_phase(tmp_path, pattern):
    # The path taken for NEF/CR2/ARW…: a fresh Bayer DNG from what LibRaw decoded. The camera
    # name is made up so that LibRaw uses the ColorMatrix1 we write, not its own table.
    src = bayer_dng(tmp_path / "in.dng", (33, 47), pattern, black=(60, 62, 64, 66),
                    extra_tags=[(274, 3, 1, 6), (33434, 5, 1, (1, 125))])
    raw = dataclasses.replace(read_raw(src), is_dng=False, model="Prototype 7")
    out = write_output(raw, raw.mosaic, tmp_path / "out.dng", "dng", NoiseProfile.uniform(1e-4, 1e-7))
    np.testing.assert_array_equal(visible_dn(out), visible_dn(src))
    again = read_raw(out)
    assert again.pattern == pattern and again.flip == 6
    assert (again.make, again.model) == ("Acme", "Prototype 7")
    assert again.exposure_time == pytest.approx(1 / 125)
    np.testing.assert_allclose(again.color_matrix, raw.color_matrix, atol=1e-4)
    assert again.as_shot_neutral == pytest.approx(raw.as_shot_neutral)
    assert again.noise_profile == NoiseProfile.uniform(1e-4, 1e-7, "metadata")


def test_denoised_pixels_are_written_in_dn_within_half_a_step(tmp_path):
    src = bayer_dng(tmp_path / "in.dng", (33, 47), "BGGR")
    raw = read_raw(src)
    smooth = np.full_like(raw.mosaic, 0.25) + np.linspace(0, 0.5, raw.mosaic.shape[1], dtype=np.float32)
    out = write_output(raw, smooth, tmp_path / "out.dng", "dng")
    back = read_raw(out).mosaic
    assert not np.array_equal(back, raw.mosaic)
    np.testing.assert_allclose(back, smooth, atol=0.5 / (WHITE - 64) + 1e-6)


def test_dng_metadata_is_carried_over_and_pixel_digests_dropped(tmp_path):
    opcodes = b"\x00\x00\x00\x00"                       # an (empty) OpcodeList2
    src = bayer_dng(tmp_path / "in.dng", preview=True, noise=NoiseProfile.uniform(1e-3, 1e-6), extra_tags=[
        (274, 3, 1, 8), (50730, 10, 1, (-1, 2)), (51009, 7, 4, opcodes), (305, 2, 0, "FW 1.0"),
        (33432, 2, 0, "© Ann".encode()), (700, 1, 5, b"<xmp>"),
        (50781, 1, 16, bytes(range(16))), (51111, 1, 16, bytes(16)), EXIF_PLACEHOLDER])
    add_exif_ifd(src, iso=1600, exposure=(1, 100))
    raw = read_raw(src)
    residual = NoiseProfile((1e-4, 2e-4, 2e-4, 3e-4), (1e-7, 2e-7, 2e-7, 3e-7))
    out = write_output(raw, raw.mosaic, tmp_path / "out.dng", "dng", residual)

    before, after = read_dng_tags(src), read_dng_tags(out)
    for name in ("Make", "Model", "UniqueCameraModel", "Orientation", "BaselineExposure", "AsShotNeutral",
                 "CalibrationIlluminant1", "CFAPattern", "BlackLevel", "WhiteLevel"):
        assert after[name] == before[name], name
    np.testing.assert_array_equal(after["ColorMatrix1"], before["ColorMatrix1"])
    assert after["ISOSpeedRatings"] == 1600 and after["ExposureTime"] == pytest.approx(0.01)
    assert after["NoiseProfile"] == pytest.approx((1e-4, 1e-7, 2e-4, 2e-7, 3e-4, 3e-7))
    assert after["NoiseProfileIFD"] == "IFD0"
    with tifffile.TiffFile(out) as tif:
        tags = tif.pages[0].tags
        assert tags[51009].value == opcodes and tags[700].value == b"<xmp>"
        assert tags[305].value == "FW 1.0" and tags[33432].value == "© Ann"
        assert 50781 not in tags and 51111 not in tags  # they describe the old pixels
        assert tif.pages[0].compression == 1
    again = read_raw(out)
    assert again.iso == 1600 and again.flip == 5
    assert again.noise_profile == residual.with_source("metadata")


def test_noise_profile_is_dropped_when_the_residual_is_unknown(tmp_path):
    raw = read_raw(bayer_dng(tmp_path / "in.dng", noise=NoiseProfile.uniform(1e-3, 1e-6)))
    out = write_output(raw, raw.mosaic, tmp_path / "out.dng", "dng")
    assert "NoiseProfile" not in read_dng_tags(out)


def test_linearization_table_is_not_applied_twice(tmp_path):
    # LibRaw hands out linearized values; the rewritten DNG stores those without the table.
    table = tuple(min(2 * i, WHITE) for i in range(WHITE + 1))
    src = bayer_dng(tmp_path / "in.dng", extra_tags=[(50712, 3, len(table), table)])
    raw = read_raw(src)
    out = write_output(raw, raw.mosaic, tmp_path / "out.dng", "dng")
    np.testing.assert_array_equal(visible_dn(out), visible_dn(src))
    np.testing.assert_array_equal(read_raw(out).mosaic, raw.mosaic)


def test_masked_margins_and_active_area_survive(tmp_path):
    src = bayer_dng(tmp_path / "in.dng", (40, 48), "GRBG", extra_tags=[(50829, 4, 4, (4, 4, 36, 44))])
    raw = read_raw(src)
    out = write_output(raw, np.zeros_like(raw.mosaic), tmp_path / "out.dng", "dng")
    with rawpy.imread(str(src)) as a, rawpy.imread(str(out)) as b:
        full_a, full_b = a.raw_image.copy(), b.raw_image.copy()
    inner = (slice(4, 36), slice(4, 44))
    assert (full_b[inner] == 64).all()
    full_a[inner] = full_b[inner] = 0
    np.testing.assert_array_equal(full_a, full_b)
    assert read_dng_tags(out)["ActiveArea"] == (4, 4, 36, 44)


@pytest.mark.parametrize("preview", [False, True], ids=["raw-in-IFD0", "raw-in-SubIFD0"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_libraw_renders_every_dng_the_sdk_writes(tmp_path, pattern, preview):
    src = bayer_dng(tmp_path / "in.dng", (33, 47), pattern, preview=preview)
    raw = read_raw(src)
    outputs = [src, write_output(raw, raw.mosaic, tmp_path / "same.dng", "dng"),
               write_output(dataclasses.replace(raw, is_dng=False), raw.mosaic, tmp_path / "new.dng", "dng")]
    for path in outputs:
        with rawpy.imread(str(path)) as rp:
            rgb = rp.postprocess(use_camera_wb=True)
        assert rgb.shape == (33, 47, 3) and rgb.dtype == np.uint8
        assert 0 < rgb.mean() < 255


def test_read_dng_tags_finds_the_raw_ifd_behind_a_preview(tmp_path):
    path = bayer_dng(tmp_path / "in.dng", (33, 47), "GBRG", preview=True, noise=NoiseProfile.uniform(1e-3, 1e-6))
    tags = read_dng_tags(path)
    assert (tags["ImageLength"], tags["ImageWidth"]) == (33, 47)
    assert tags["PhotometricInterpretation"] == 32803 and tags["CFAPattern"] == (1, 2, 0, 1)
    assert tags["NoiseProfile"] == (1e-3, 1e-6) and tags["NoiseProfileIFD"] == "SubIFD"
    assert tags["Make"] == "Acme" and tags["DNGVersion"] == (1, 4, 0, 0)


def test_replace_dng_pixels_refuses_pixels_of_another_size(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    with pytest.raises(ValueError, match="do not fit its raw IFD"):
        replace_dng_pixels(src, tmp_path / "out.dng", np.zeros((30, 48), np.uint16))
    assert not (tmp_path / "out.dng").exists()
