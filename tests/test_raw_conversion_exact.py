"""DN ↔ normalized conversions are the per-CFA-position formulas bit for bit (any size, any black
levels), and writing a DNG of a margin-free input does not decode the input a second time."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rawpy

import denoise.writers
from denoise.raw import _normalize, read_raw
from rawfiles import bayer_dng

BLACKS = np.array([[60.0, 62.0], [64.0, 66.5]])


def normalized_reference(dn: np.ndarray, black: np.ndarray, white: float) -> np.ndarray:
    out = np.empty(dn.shape, dtype=np.float32)
    for (dy, dx), b in np.ndenumerate(black.astype(np.float32)):
        out[dy::2, dx::2] = (dn[dy::2, dx::2] - b) / (np.float32(white) - b)
    return out


def dn_reference(mosaic: np.ndarray, black: np.ndarray, white: float) -> np.ndarray:
    out = np.empty(mosaic.shape, dtype=np.uint16)
    for (dy, dx), b in np.ndenumerate(black):
        out[dy::2, dx::2] = np.clip(np.rint(mosaic[dy::2, dx::2].astype(np.float64) * (white - b) + b), 0, white)
    return out


@pytest.mark.parametrize("shape", [(1, 9), (5, 6), (33, 47), (40, 1001)])
@pytest.mark.parametrize("white", [1023.0, 65535.0])
def test_normalize_and_back_are_the_per_position_formulas(tmp_path, shape: tuple[int, int], white: float) -> None:
    rng = np.random.default_rng(shape[0] * shape[1])
    dn = rng.integers(0, int(white) + 1, size=shape).astype(np.uint16)
    mosaic = _normalize(dn, BLACKS, white)
    assert mosaic.tobytes() == normalized_reference(dn, BLACKS, white).tobytes()

    src = bayer_dng(tmp_path / "in.dng", (33, 47), "RGGB")
    raw = dataclasses.replace(read_raw(src), mosaic=mosaic, black_levels=BLACKS, white_level=white)
    denoised = (mosaic + rng.normal(0, 0.01, size=shape)).astype(np.float32)
    denoised.flat[:4] = [-1.0, 2.0, 0.5 / white, 1.5 / white]   # clipped low/high, rounding ties
    assert raw.to_dn(denoised).tobytes() == dn_reference(denoised, BLACKS, white).tobytes()
    np.testing.assert_array_equal(raw.to_dn(mosaic), dn)     # an unchanged mosaic comes back exactly


def test_a_margin_free_dng_is_written_without_decoding_the_input_again(tmp_path, monkeypatch) -> None:
    src = bayer_dng(tmp_path / "in.dng", (33, 47), "GBRG", black=(60, 62, 64, 66))
    raw = read_raw(src)
    assert raw.raw_shape == raw.mosaic.shape

    def no_second_decode(*args, **kwargs):
        raise AssertionError("the writer decoded the input again")

    monkeypatch.setattr(denoise.writers.rawpy, "imread", no_second_decode)
    out = denoise.writers.write_output(raw, raw.mosaic, tmp_path / "out.dng", "dng")
    monkeypatch.undo()
    with rawpy.imread(str(src)) as a, rawpy.imread(str(out)) as b:
        np.testing.assert_array_equal(a.raw_image, b.raw_image)


def test_inputs_with_sensor_margins_record_the_whole_raw_size(tmp_path) -> None:
    src = bayer_dng(tmp_path / "in.dng", (40, 48), "GRBG", extra_tags=[(50829, 4, 4, (4, 4, 36, 44))])
    raw = read_raw(src)
    assert raw.mosaic.shape == (32, 40) and raw.raw_shape == (40, 48)
