"""Small RAW files built in a test's tmp folder: Bayer DNGs of every phase and size, camera-style
layouts (raw in SubIFD0 behind a preview, an EXIF IFD) and non-Bayer sensors.

Non-Bayer fixtures are written with tifffile directly, since ``write_bayer_dng`` only writes
Bayer data; their tags are the ones real files carry, so LibRaw treats them as it would those.
"""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Sequence

import numpy as np
import tifffile

from denoise.dng import ExtraTag, write_bayer_dng
from denoise.noise import NoiseProfile
from training.synth import XYZ2CAMS

COLOR_MATRIX = XYZ2CAMS[0]  # a real camera's XYZ→camera matrix
AS_SHOT_NEUTRAL = (0.5, 1.0, 0.625)
WHITE = 4095
_LONG, _SHORT, _RATIONAL = 4, 3, 5
EXIF_PLACEHOLDER: ExtraTag = (34664, _LONG, 1, 0)
_COMMON_TAGS = [(50706, 1, 4, bytes((1, 4, 0, 0))), (50708, 2, 0, "Test Cam"), (271, 2, 0, "Acme"),
                (272, 2, 0, "X1"),
                (50721, 10, 9, tuple(v for x in COLOR_MATRIX.ravel() for v in (round(x * 10000), 10000))),
                (50778, 3, 1, 21), (50728, 5, 3, (1, 2, 1, 1, 5, 8)), (50714, 4, 1, 64), (50717, 4, 1, WHITE)]


def noisy_mosaic(shape: tuple[int, int], black: int | Sequence[int] = 64, seed: int = 0) -> np.ndarray:
    """uint16 DN mosaic with a smooth scene, noise and values below black, as real raws have."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    scene = 0.05 + 0.6 * (0.5 + 0.5 * np.sin(xx / 5.0) * np.cos(yy / 7.0))
    tile = np.resize(np.asarray(black, dtype=np.float64).reshape(-1), 4).reshape(2, 2)
    blacks = np.tile(tile, ((h + 1) // 2, (w + 1) // 2))[:h, :w]
    dn = blacks + scene * (WHITE - blacks) + rng.normal(0.0, 12.0, size=shape)
    dn[0, 0] = blacks[0, 0] - 20  # below black: must survive reading and writing
    return np.clip(np.round(dn), 0, WHITE).astype(np.uint16)


def bayer_dng(path: Path, shape: tuple[int, int] = (32, 48), pattern: str = "RGGB",
              black: int | Sequence[int] = 64, noise: NoiseProfile | None = None, preview: bool = False,
              extra_tags: Sequence[ExtraTag] = (), seed: int = 0) -> Path:
    """A Bayer DNG written by the SDK itself (raw in IFD0, or in SubIFD0 behind a preview)."""
    thumb = np.full((8, 12, 3), 128, dtype=np.uint8) if preview else None
    return write_bayer_dng(path, noisy_mosaic(shape, black, seed), pattern, black, WHITE, COLOR_MATRIX,
                           AS_SHOT_NEUTRAL, noise_profile=noise, make="Acme", model="X1",
                           extra_tags=extra_tags, preview=thumb)


def cfa_dng(path: Path, side: int, colors: Sequence[int]) -> Path:
    """A CFA DNG whose pattern repeats every ``side``×``side`` pixels (colours 0=R, 1=G, 2=B)."""
    cfa = [(33421, 3, 2, (side, side)), (33422, 1, side * side, bytes(colors))]
    tifffile.imwrite(path, noisy_mosaic((36, 36)), photometric=32803, extratags=_COMMON_TAGS + cfa,
                     metadata=None, software=False)
    return path


def xtrans_dng(path: Path) -> Path:
    """A Fujifilm-style X-Trans DNG: a 6×6 CFA."""
    return cfa_dng(path, 6, [1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
                             1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1])


def linear_dng(path: Path) -> Path:
    """A demosaiced LinearRaw DNG (PhotometricInterpretation 34892, 3 samples), like Apple ProRAW."""
    rgb = np.stack([noisy_mosaic((32, 32), seed=s) for s in range(3)], axis=-1)
    tifffile.imwrite(path, rgb, photometric=34892, planarconfig="contig", extratags=_COMMON_TAGS,
                     metadata=None, software=False)
    return path


def monochrome_dng(path: Path) -> Path:
    """A monochrome-sensor DNG (LinearRaw with one sample, like a Leica Monochrom).

    tifffile will not write LinearRaw with one sample, so the file is written as BlackIsZero and
    its PhotometricInterpretation patched to 34892 in place.
    """
    tifffile.imwrite(path, noisy_mosaic((32, 32)), photometric="minisblack", extratags=_COMMON_TAGS,
                     metadata=None, software=False)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags[262].overwrite(34892)
    return path


def add_exif_ifd(path: Path, iso: int, exposure: tuple[int, int]) -> None:
    """Turn IFD0's placeholder tag into an ExifIFD pointer to a new EXIF IFD appended to the file.

    tifffile refuses to write tag 34665, so the file is written with :data:`EXIF_PLACEHOLDER`
    (unused code 34664, sorted where 34665 goes) in ``extra_tags`` and patched here. The file must
    be a little-endian classic TIFF. The EXIF IFD holds ISOSpeedRatings and ExposureTime, as
    camera DNGs do.
    """
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\x00", "little-endian classic TIFF expected"
    ifd0 = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd0)[0]
    entry = next(ifd0 + 2 + 12 * i for i in range(count)
                 if struct.unpack_from("<H", data, ifd0 + 2 + 12 * i)[0] == EXIF_PLACEHOLDER[0])
    if len(data) % 2:
        data += b"\x00"
    exif = len(data)
    rational_at = exif + 2 + 2 * 12 + 4
    data += struct.pack("<H", 2)
    data += struct.pack("<HHII", 33434, _RATIONAL, 1, rational_at)       # ExposureTime
    data += struct.pack("<HHIHH", 34855, _SHORT, 1, iso, 0)               # ISOSpeedRatings
    data += struct.pack("<I", 0)
    data += struct.pack("<II", *exposure)
    struct.pack_into("<HHII", data, entry, 34665, _LONG, 1, exif)
    path.write_bytes(bytes(data))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
