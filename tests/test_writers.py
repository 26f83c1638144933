"""tiff/png/jpg renderings through LibRaw, the npy array, output naming and atomic writes."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import rawpy
import tifffile
from PIL import Image

from denoise import writers
from denoise.raw import read_raw
from denoise.writers import output_path_for, png16_bytes, write_output
from rawfiles import bayer_dng


@pytest.fixture
def raw(tmp_path):
    return read_raw(bayer_dng(tmp_path / "in.dng", (33, 47), "GRBG", black=(60, 62, 64, 66)))


def libraw_render(path, bits: int) -> np.ndarray:
    """The original file developed by LibRaw, untouched."""
    with rawpy.imread(str(path)) as rp:
        return rp.postprocess(use_camera_wb=True, output_bps=bits)


def test_npy_is_the_normalized_float32_mosaic(raw, tmp_path):
    out = write_output(raw, raw.mosaic.astype(np.float64), tmp_path / "o.npy", "npy")
    back = np.load(out)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, raw.mosaic)


def test_tiff_is_16_bit_and_matches_libraw_for_unchanged_pixels(raw, tmp_path):
    out = write_output(raw, raw.mosaic, tmp_path / "o.tif", "tiff")
    rgb = tifffile.imread(out)
    assert rgb.dtype == np.uint16 and rgb.shape == (33, 47, 3)
    np.testing.assert_array_equal(rgb, libraw_render(raw.path, 16))


def test_png_8_bit_matches_libraw_for_unchanged_pixels(raw, tmp_path):
    out = write_output(raw, raw.mosaic, tmp_path / "o.png", "png")
    with Image.open(out) as im:
        assert im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), libraw_render(raw.path, 8))


def test_png_16_bit(raw, tmp_path):
    out = write_output(raw, raw.mosaic, tmp_path / "o.png", "png", bit_depth=16)
    data = out.read_bytes()
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (47, 33, 16, 2)
    expected = libraw_render(raw.path, 16)
    with Image.open(out) as im:  # Pillow decodes 48-bit PNGs to 8 bits: the high bytes
        np.testing.assert_array_equal(np.asarray(im), (expected >> 8).astype(np.uint8))


def test_png16_encoder_stores_every_sample_big_endian():
    rgb = np.random.default_rng(3).integers(0, 65536, size=(5, 7, 3)).astype(np.uint16)
    data = png16_bytes(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    rows = np.frombuffer(zlib.decompress(data[41:41 + length]), np.uint8).reshape(5, 1 + 7 * 6)
    assert (rows[:, 0] == 0).all()
    np.testing.assert_array_equal(rows[:, 1:].copy().view(">u2").reshape(5, 7, 3), rgb)
    with Image.open(io.BytesIO(data)) as im:
        im.load()


def test_jpg_is_a_close_8_bit_rendering(raw, tmp_path):
    out = write_output(raw, raw.mosaic, tmp_path / "o.jpg", "jpg")
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (47, 33)
        diff = np.abs(np.asarray(im).astype(int) - libraw_render(raw.path, 8).astype(int))
    assert diff.mean() < 4


def test_rendering_shows_the_denoised_pixels(raw, tmp_path):
    flat = np.full_like(raw.mosaic, 0.3)
    out = write_output(raw, flat, tmp_path / "o.tif", "tiff")
    rgb, noisy = tifffile.imread(out).astype(float), libraw_render(raw.path, 16).astype(float)
    assert rgb[2:-2, 2:-2].std(axis=(0, 1)).max() < 0.05 * noisy.std(axis=(0, 1)).min()


def test_rendering_follows_the_camera_orientation(tmp_path):
    raw = read_raw(bayer_dng(tmp_path / "in.dng", (33, 47), extra_tags=[(274, 3, 1, 6)]))
    rgb = tifffile.imread(write_output(raw, raw.mosaic, tmp_path / "o.tif", "tiff"))
    assert rgb.shape == (47, 33, 3)


def test_output_path_for_names_files_after_the_input(tmp_path):
    assert output_path_for("/data/IMG_1.DNG", tmp_path, "dng") == tmp_path / "IMG_1_denoised.dng"
    assert output_path_for("/data/IMG_1.nef", None, "tiff").as_posix() == "/data/IMG_1_denoised.tif"
    assert output_path_for("a.cr3", "out", "jpg").as_posix() == "out/a_denoised.jpg"
    with pytest.raises(ValueError, match="unknown output format 'webp'"):
        output_path_for("a.cr3", "out", "webp")


def test_missing_output_folders_are_created(raw, tmp_path):
    out = write_output(raw, raw.mosaic, tmp_path / "new" / "deeper" / "o.npy", "npy")
    assert out.is_file()


def test_an_existing_output_is_replaced_and_no_temporary_file_remains(raw, tmp_path):
    out = tmp_path / "o.jpg"
    out.write_bytes(b"old")
    write_output(raw, raw.mosaic, out, "jpg")
    assert out.read_bytes()[:2] == b"\xff\xd8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.dng", "o.jpg"]


def test_a_failed_write_leaves_the_old_output_and_no_debris(raw, tmp_path, monkeypatch):
    out = tmp_path / "o.tif"
    out.write_bytes(b"old")

    def disk_full(path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.tifffile, "imwrite", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_output(raw, raw.mosaic, out, "tiff")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.dng", "o.tif"]


@pytest.mark.parametrize("fmt, depth", [("jpg", 16), ("npy", 8), ("dng", 16)])
def test_impossible_bit_depths_are_refused(raw, tmp_path, fmt, depth):
    with pytest.raises(ValueError, match=f"no {depth}-bit option"):
        write_output(raw, raw.mosaic, tmp_path / f"o.{fmt}", fmt, bit_depth=depth)
    assert not (tmp_path / f"o.{fmt}").exists()


def test_a_mosaic_of_the_wrong_size_is_refused(raw, tmp_path):
    with pytest.raises(ValueError, match=r"does not match in.dng \(\(33, 47\)\)"):
        write_output(raw, raw.mosaic[:32], tmp_path / "o.npy", "npy")
