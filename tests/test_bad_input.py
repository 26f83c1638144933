"""Every bad input and unsafe output gets its own one-line error naming the file; inputs are never touched."""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from denoise.errors import (CorruptInputError, EmptyInputError, ImageTooSmallError, InputError, MissingInputError,
                            NotBayerError, OutputError, UnsupportedFormatError)
from denoise.noise import NoiseProfile
from denoise.raw import read_raw
from denoise.writers import FORMATS, check_output_path, write_output
from rawfiles import bayer_dng, cfa_dng, linear_dng, monochrome_dng, sha256, xtrans_dng


def read_error(path: Path, kind: type[InputError], match: str) -> InputError:
    with pytest.raises(kind, match=match) as info:
        read_raw(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert isinstance(info.value, ValueError)
    return info.value


def test_missing_file(tmp_path):
    read_error(tmp_path / "nope.dng", MissingInputError, "no such file")


def test_a_folder_is_not_a_file(tmp_path):
    folder = tmp_path / "shots.dng"
    folder.mkdir()
    read_error(folder, MissingInputError, "not a file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dng"
    path.touch()
    read_error(path, EmptyInputError, r"empty \(0 bytes\)")


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "noextension"])
def test_non_raw_extension_is_refused_before_decoding(tmp_path, name):
    path = tmp_path / name
    Image.new("RGB", (32, 32)).save(path, format="PNG")
    read_error(path, UnsupportedFormatError, "is not a RAW format")


def test_random_bytes(tmp_path):
    path = tmp_path / "random.nef"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    read_error(path, UnsupportedFormatError, "LibRaw cannot decode this file")


@pytest.mark.parametrize("keep", [0.03, 0.5, 0.99], ids=["inside-tags", "half-pixels", "last-row"])
def test_truncated_file(tmp_path, keep):
    whole = bayer_dng(tmp_path / "whole.dng", (64, 64)).read_bytes()
    path = tmp_path / "cut.dng"
    path.write_bytes(whole[:int(len(whole) * keep)])
    read_error(path, CorruptInputError, "truncated or damaged")


def test_xtrans_sensor(tmp_path):
    read_error(xtrans_dng(tmp_path / "fuji.dng"), NotBayerError, "6x6 X-Trans")


def test_two_by_two_cfa_that_is_not_bayer(tmp_path):
    # R G / B G: both greens in one column.
    read_error(cfa_dng(tmp_path / "odd.dng", 2, [0, 1, 2, 1]), NotBayerError, "'RGBG' is not a Bayer")


def test_linear_dng(tmp_path):
    read_error(linear_dng(tmp_path / "proraw.dng"), NotBayerError, "linear .*demosaiced.* DNG")


def test_monochrome_sensor(tmp_path):
    read_error(monochrome_dng(tmp_path / "mono.dng"), NotBayerError, "monochrome sensor")


def test_tiny_image_says_how_small(tmp_path):
    read_error(bayer_dng(tmp_path / "tiny.dng", (8, 12)), ImageTooSmallError, "only 12x8 pixels")


def test_tiny_active_area_says_how_small(tmp_path):
    path = bayer_dng(tmp_path / "crop.dng", (40, 40), extra_tags=[(50829, 4, 4, (4, 4, 14, 20))])
    read_error(path, ImageTooSmallError, "only 16x10 pixels")


def test_smallest_readable_image(tmp_path):
    assert read_raw(bayer_dng(tmp_path / "small.dng", (22, 22))).mosaic.shape == (22, 22)


def output_error(input_path: Path, out: Path, match: str) -> None:
    raw = read_raw(input_path)
    with pytest.raises(OutputError, match=match) as info:
        write_output(raw, raw.mosaic, out, "dng")
    assert "\n" not in str(info.value) and isinstance(info.value, OSError)


def test_output_equal_to_the_input_is_refused(tmp_path, monkeypatch):
    src = bayer_dng(tmp_path / "in.dng")
    before = sha256(src)
    output_error(src, src, "this is the input file")
    monkeypatch.chdir(tmp_path)
    output_error(src, Path("sub/../in.dng"), "this is the input file")
    (tmp_path / "sub").mkdir()
    output_error(src, Path("sub/../in.dng"), "this is the input file")
    os.symlink(src, tmp_path / "link.dng")
    output_error(src, tmp_path / "link.dng", "this is the input file")
    os.link(src, tmp_path / "hard.dng")
    output_error(src, tmp_path / "hard.dng", "this is the input file")
    assert sha256(src) == before


def test_output_through_a_symlinked_input_is_refused(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    os.symlink(src, tmp_path / "link.dng")
    output_error(tmp_path / "link.dng", src, "this is the input file")


def test_unwritable_folder_is_refused(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
    elif sys.platform.startswith("linux") and Path("/sys").is_dir():
        folder = Path("/sys")  # sysfs refuses new files even to root
    else:
        pytest.skip("no folder is unwritable for root on this system")
    output_error(src, folder / "out.dng", "cannot write in this folder")


def test_output_inside_a_file_is_refused(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    output_error(src, tmp_path / "in.dng" / "out.dng", "cannot write in this folder")


def test_output_that_is_a_folder_is_refused(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    (tmp_path / "out.dng").mkdir()
    output_error(src, tmp_path / "out.dng", "is a folder")


def test_check_output_path_runs_before_any_work(tmp_path):
    src = bayer_dng(tmp_path / "in.dng")
    assert check_output_path(src, tmp_path / "o" / "x.dng") == tmp_path / "o" / "x.dng"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == []


@pytest.mark.parametrize("preview", [False, True], ids=["raw-in-IFD0", "raw-in-SubIFD0"])
def test_input_is_never_modified(tmp_path, preview):
    src = bayer_dng(tmp_path / "in.dng", (33, 47), "BGGR", preview=preview)
    before, mtime = sha256(src), src.stat().st_mtime_ns
    raw = read_raw(src)
    denoised = np.clip(raw.mosaic, 0, None) * 0.9
    for fmt in FORMATS:
        write_output(raw, denoised, tmp_path / f"out.{fmt}", fmt)
    write_output(raw, denoised, tmp_path / "out16.png", "png", bit_depth=16)
    assert sha256(src) == before and src.stat().st_mtime_ns == mtime


def _patched(path: Path, code: int, field: str, value: int) -> Path:
    """``path`` with one IFD0 entry's count or value field overwritten (little-endian classic TIFF)."""
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == code:
            struct.pack_into("<I", data, entry + (4 if field == "count" else 8), value)
    path.write_bytes(bytes(data))
    return path


def _without_tag(path: Path, code: int) -> Path:
    """``path`` with one IFD0 entry removed from its directory (the entries after it move up)."""
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    entries = [bytes(data[ifd + 2 + 12 * i: ifd + 14 + 12 * i]) for i in range(count)]
    kept = [e for e in entries if struct.unpack_from("<H", e)[0] != code]
    tail = data[ifd + 2 + 12 * count: ifd + 6 + 12 * count]  # the next-IFD offset
    data[ifd: ifd + 6 + 12 * count] = (struct.pack("<H", len(kept)) + b"".join(kept) + tail
                                       + bytes(12 * (count - len(kept))))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name, match", [("grey.dng", "without a DNGVersion tag, not a DNG"),
                                         ("grey.nef", "a TIFF image without camera metadata")])
def test_a_greyscale_tiff_renamed_as_raw_is_refused(tmp_path, name, match):
    path = tmp_path / name
    tifffile.imwrite(path, (np.arange(64 * 64).reshape(64, 64) * 13).astype(np.uint16))
    read_error(path, UnsupportedFormatError, match)


@pytest.mark.parametrize("damage, match", [
    (lambda p: _without_tag(p, 257), "has no ImageLength tag"),
    (lambda p: _patched(p, 262, "count", 2), "PhotometricInterpretation has 2 values where one is expected"),
    (lambda p: _patched(p, 256, "value", 4_000_000_000), r"size 4000000000x40 is impossible"),
    (lambda p: _patched(p, 273, "value", 8), "pixel data overlaps the file's tags"),
], ids=["no-ImageLength", "multi-valued-Photometric", "absurd-width", "pixels-over-tags"])
def test_damaged_dng_tags_are_refused_naming_the_file(tmp_path, damage, match):
    read_error(damage(bayer_dng(tmp_path / "bad.dng", (40, 40))), CorruptInputError, match)


@pytest.mark.parametrize("tags, match", [
    ([(50829, 4, 4, (30, 30, 10, 10))], r"ActiveArea \(30, 30, 10, 10\) does not lie inside"),
    ([(50721, 10, 2, (1, 1, 2, 1))], "ColorMatrix1 has 2 values, not a matrix of 3 columns"),
], ids=["inverted-ActiveArea", "short-ColorMatrix"])
def test_inconsistent_dng_tags_are_refused_naming_the_file(tmp_path, tags, match):
    read_error(bayer_dng(tmp_path / "bad.dng", (40, 40), extra_tags=tags), CorruptInputError, match)


def test_bad_files_of_every_kind_never_stop_a_batch(tmp_path, capsys):
    from denoise.cli import main
    from export_helpers import tiny_checkpoint

    folder = tmp_path / "shots"
    folder.mkdir()
    _without_tag(bayer_dng(folder / "a_no_length.dng", (40, 40)), 257)
    _patched(bayer_dng(folder / "b_photometric.dng", (40, 40)), 262, "count", 2)
    tifffile.imwrite(folder / "c_grey.nef", np.zeros((64, 64), np.uint16))
    good = bayer_dng(folder / "z_good.dng", (40, 40), noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata"))
    model = tiny_checkpoint(tmp_path / "tiny.pt", seed=0, a_range=(1e-4, 2e-2))
    code = main(["run", str(folder), "-o", str(tmp_path / "out"), "--model", str(model), "--device", "cpu", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    for name in ("a_no_length.dng", "b_photometric.dng", "c_grey.nef"):
        assert sum(name in line for line in err.splitlines()) == 1
    assert "1 written, 3 failed" in err and (tmp_path / "out" / f"{good.stem}_denoised.dng").is_file()
