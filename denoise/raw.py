"""Read a camera RAW file (any Bayer format LibRaw decodes) into the SDK's normalized mosaic.

:func:`read_raw` is the one entry point. It checks the file before LibRaw sees it, turns every
LibRaw failure and every non-Bayer sensor into an :class:`~denoise.errors.InputError` with a
one-line message, reads the DNG tags LibRaw hides (NoiseProfile, ColorMatrix), and returns a
:class:`RawImage` whose mosaic follows the SDK convention: black level subtracted per CFA
channel, divided by (white − black), values below 0 kept.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rawpy
import tifffile

from .cfa import Canonical, CFAError, pack_rggb, pattern_from_codes, to_rggb, unpack_rggb
from .dng import PHOTOMETRIC_LINEAR_RAW, daylight_color_matrix, read_dng_tags, stored_raw_pixels
from .errors import (CorruptInputError, EmptyInputError, ImageTooSmallError, InputError, MissingInputError,
                     NotBayerError, UnsupportedFormatError)
from .noise import NoiseProfile, NoiseProfileError

# Extensions of the RAW formats LibRaw decodes (compared case-insensitively). Anything else is
# refused before LibRaw opens it, so a JPEG or a PNG gets a clear message instead of a decoder error.
RAW_EXTENSIONS = (
    ".dng",                          # Adobe DNG (phones, Leica, Pentax, Ricoh, converted files)
    ".nef", ".nrw",                  # Nikon
    ".cr2", ".cr3", ".crw",          # Canon
    ".arw", ".srf", ".sr2",          # Sony
    ".raf",                          # Fujifilm (Bayer models; X-Trans is refused after decoding)
    ".orf",                          # Olympus / OM System
    ".rw2", ".rwl", ".raw",          # Panasonic, Leica
    ".pef",                          # Pentax
    ".srw",                          # Samsung
    ".3fr", ".fff",                  # Hasselblad
    ".iiq",                          # Phase One
    ".mos",                          # Leaf
    ".mrw",                          # Minolta
    ".erf",                          # Epson
    ".kdc", ".dcr",                  # Kodak
    ".mef",                          # Mamiya
    ".x3f",                          # Sigma (Foveon: refused after decoding)
)
# LibRaw refuses images narrower or shorter than this ("height < 22 || width < 22" in its
# identify step) with a generic "unsupported" error; the SDK names the size instead.
MIN_SIDE = 22
_LIBRAW_VERSION = ".".join(map(str, rawpy.libraw_version))
_LIBRAW_OUT_OF_MEMORY = (rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawTooBigError, rawpy.LibRawMemPoolOverflowError)


@dataclass
class RawImage:
    """A Bayer RAW image: the normalized visible mosaic plus what it takes to write it back.

    ``mosaic`` is (H, W) float32 in the file's own CFA phase ``pattern``; ``black_levels`` is the
    2×2 tile of black levels at the visible top-left (same phase); ``color_matrix`` maps XYZ to
    camera RGB; ``camera_wb`` are the as-shot gains (R, G, B) normalized to G; ``flip`` is LibRaw's
    orientation code (0 none, 3 180°, 5 90° CCW, 6 90° CW). ``make``/``model`` are empty when
    the container is not TIFF-based (CR3, RAF, RW2, ORF). ``raw_shape`` is the size of LibRaw's
    whole raw image, sensor margins included (None when not known): when it equals the mosaic's,
    a writer needs nothing of the file's pixels beyond the mosaic.
    """

    path: Path
    mosaic: np.ndarray = field(repr=False)
    pattern: str
    black_levels: np.ndarray
    white_level: float
    camera_wb: tuple[float, float, float] | None
    as_shot_neutral: tuple[float, float, float] | None
    color_matrix: np.ndarray | None
    iso: float | None
    exposure_time: float | None
    make: str
    model: str
    noise_profile: NoiseProfile | None
    is_dng: bool
    flip: int = 0
    raw_shape: tuple[int, int] | None = None

    def canonical_planes(self) -> tuple[np.ndarray, Canonical]:
        """(4, h, w) float32 planes R, G1, G2, B of the mosaic brought to even-sized RGGB."""
        rggb, canonical = to_rggb(self.mosaic, self.pattern)
        return pack_rggb(rggb), canonical

    def restore_mosaic(self, planes: np.ndarray, canonical: Canonical) -> np.ndarray:
        """(4, h, w) planes from :meth:`canonical_planes` → (H, W) mosaic in this file's phase and size."""
        mosaic = canonical.to_original(unpack_rggb(planes))
        if mosaic.shape != self.mosaic.shape:
            raise ValueError(f"planes restore to a {mosaic.shape} mosaic, but {self.path.name} is {self.mosaic.shape}")
        return mosaic

    def to_dn(self, mosaic: np.ndarray) -> np.ndarray:
        """Normalized (H, W) mosaic → uint16 DN of this file, rounded, clipped to [0, white].

        Values between 0 DN and black are kept: they carry the noise around black that a raw
        converter averages, and an unchanged mosaic comes back bit-exact. Computed in float64
        (exact for a float32 value times a 16-bit scale), a band of rows at a time.
        """
        if mosaic.shape != self.mosaic.shape:
            raise ValueError(f"mosaic {mosaic.shape} does not match {self.path.name} ({self.mosaic.shape})")
        black = _band_pattern(self.black_levels.astype(np.float64), mosaic.shape[1])
        scale = self.white_level - black
        dn = np.empty(mosaic.shape, dtype=np.uint16)
        for r0 in range(0, mosaic.shape[0], _BAND_ROWS):
            band = mosaic[r0:r0 + _BAND_ROWS].astype(np.float64)
            band *= scale[:len(band)]
            band += black[:len(band)]
            np.rint(band, out=band)
            np.clip(band, 0, self.white_level, out=band)
            dn[r0:r0 + _BAND_ROWS] = band
        return dn


# Rows converted at a time between DN and normalized values (an even number, so every band
# starts on an even row): a band stays in the cache for its in-place passes.
_BAND_ROWS = 16


def _band_pattern(tile: np.ndarray, width: int) -> np.ndarray:
    """(_BAND_ROWS, width): the 2×2 per-pixel ``tile`` repeated over a band of rows."""
    return np.tile(tile, (_BAND_ROWS // 2, -(-width // 2)))[:, :width]


def _normalize(visible: np.ndarray, black_levels: np.ndarray, white: float) -> np.ndarray:
    """DN → (DN − black) / (white − black) as float32, black taken per pixel of the 2×2 tile."""
    black = _band_pattern(black_levels.astype(np.float32), visible.shape[1])
    span = np.float32(white) - black
    mosaic = np.empty(visible.shape, dtype=np.float32)
    for r0 in range(0, visible.shape[0], _BAND_ROWS):
        band = mosaic[r0:r0 + _BAND_ROWS]
        band[...] = visible[r0:r0 + _BAND_ROWS]
        band -= black[:len(band)]
        band /= span[:len(band)]
    return mosaic


def check_input_file(path: str | os.PathLike) -> Path:
    """The checks made before LibRaw opens a file: it exists, is readable, not empty, a RAW extension."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise MissingInputError(f"{path}: not a file; give a RAW file, not a folder")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
    if path.stat().st_size == 0:
        raise EmptyInputError(f"{path}: the file is empty (0 bytes); copy it again from the camera or phone")
    if path.suffix.lower() not in RAW_EXTENSIONS:
        raise UnsupportedFormatError(f"{path}: '{path.suffix or '(no extension)'}' is not a RAW format; "
                                     f"give a camera RAW file ({', '.join(RAW_EXTENSIONS[:8])}, ...)")
    return path


def _tiff_tags(path: Path) -> dict[str, Any]:
    """DNG tags, or only Make/Model for other TIFF-based RAWs, or {} when tifffile cannot parse it.

    Refuses what tifffile shows is no camera RAW although LibRaw would decode it: a ``.dng``
    without a DNGVersion tag, and a TIFF without a Make tag (a plain greyscale TIFF renamed
    ``.dng`` or ``.nef`` decodes as a Bayer mosaic). A DNG with damaged tags is refused too.
    """
    try:
        return read_dng_tags(path)
    except CorruptInputError:
        raise
    except InputError:
        pass
    try:
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            found = {name: str(tags[code].value).strip("\x00 ") for name, code in (("Make", 271), ("Model", 272))
                     if code in tags}
    except Exception as exc:  # noqa: BLE001 - tifffile raises assorted types on what is not a sound TIFF
        if path.suffix.lower() == ".dng":  # a DNG is a TIFF
            raise CorruptInputError(f"{path}: the file is truncated or damaged (its TIFF structure cannot be read: "
                                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); copy it "
                                    "again from the camera or phone") from None
        return {}  # not TIFF-based (CR3, RAF, RW2, ...)
    if path.suffix.lower() == ".dng":
        raise UnsupportedFormatError(f"{path}: named .dng but it is a plain TIFF without a DNGVersion tag, not a "
                                     "DNG; give the camera's RAW file")
    if not found.get("Make"):
        raise UnsupportedFormatError(f"{path}: a TIFF image without camera metadata (no Make tag), not a camera "
                                     "RAW file; give the camera's RAW file")
    return found


def _unsupported(path: Path, tags: dict[str, Any]) -> InputError:
    """Explain LibRaw's generic 'unsupported' for a DNG when its tags tell why."""
    if "ImageWidth" in tags and "ImageLength" in tags:
        height, width = tags["ImageLength"], tags["ImageWidth"]
        if "ActiveArea" in tags and len(tags["ActiveArea"]) == 4:
            top, left, bottom, right = tags["ActiveArea"]
            height, width = bottom - top, right - left
        if min(height, width) < MIN_SIDE:
            return ImageTooSmallError(f"{path}: the image is only {width}x{height} pixels; RAW images need at "
                                      f"least {MIN_SIDE}x{MIN_SIDE}")
    return UnsupportedFormatError(f"{path}: LibRaw cannot decode this file (not a RAW image, or a camera this "
                                  f"LibRaw {_LIBRAW_VERSION} does not know); convert it to DNG")


def _non_bayer_reason(raw: rawpy.RawPy, tags: dict[str, Any]) -> str | None:
    """Why a decoded file is not a 2×2 Bayer mosaic, or None when it is one."""
    if raw.raw_type != rawpy.RawType.Flat or raw.raw_pattern is None:
        if tags.get("PhotometricInterpretation") == PHOTOMETRIC_LINEAR_RAW:
            return "it is a linear (already demosaiced) DNG, such as Apple ProRAW"
        return "its raw data has several colour channels per pixel (a Foveon sensor or a linear DNG)"
    if raw.num_colors == 1 or raw.raw_pattern.shape == (1, 1):
        return "it comes from a monochrome sensor (no colour filter array)"
    if raw.raw_pattern.shape == (6, 6):
        return "its sensor has a 6x6 X-Trans colour filter array"
    if raw.raw_pattern.shape != (2, 2):
        side = raw.raw_pattern.shape[0]
        return f"its colour filter array repeats every {side}x{side} pixels, not 2x2"
    return None


def _bayer_phase(path: Path, raw: rawpy.RawPy, tags: dict[str, Any]) -> tuple[str, np.ndarray]:
    """The visible area's Bayer pattern name and LibRaw colour indices of its top-left 2×2 tile.

    Taken from the visible area's origin, not the full raw's: sensor margins can be odd.
    """
    reason = _non_bayer_reason(raw, tags)
    if reason is None:
        top, left = raw.sizes.top_margin, raw.sizes.left_margin
        codes = np.array([[raw.raw_color(top + y, left + x) for x in (0, 1)] for y in (0, 1)])
        try:
            return pattern_from_codes(codes, raw.color_desc.decode("ascii")), codes
        except CFAError as exc:
            reason = str(exc)
    raise NotBayerError(f"{path}: not a Bayer RAW image: {reason}; only 2x2 Bayer sensors "
                        "(RGGB, BGGR, GRBG, GBRG) are supported")


def _check_dng_agrees(path: Path, raw: rawpy.RawPy, tags: dict[str, Any], black_levels: np.ndarray,
                      white: float) -> None:
    """Refuse a DNG whose levels or pixels as LibRaw decoded them differ from what its tags and data say.

    LibRaw parses the tag directory on its own and falls back to defaults (black 0, other bytes
    as pixels) where it is damaged; tifffile reads the same tags strictly. Where both readings
    should agree exactly and do not, the file is damaged.
    """
    def refuse(what: str) -> CorruptInputError:
        return CorruptInputError(f"{path}: the file is truncated or damaged ({what}); copy it again from the camera "
                                 "or phone")

    plain_levels = not any(t in tags for t in ("LinearizationTable", "BlackLevelDeltaH", "BlackLevelDeltaV"))
    if plain_levels and "WhiteLevel" in tags and tags["WhiteLevel"] and float(tags["WhiteLevel"][0]) != white:
        raise refuse(f"WhiteLevel tag says {tags['WhiteLevel'][0]}, LibRaw decoded {white:g}")
    repeat = tags.get("BlackLevelRepeatDim", (1, 1))
    if plain_levels and "BlackLevel" in tags and repeat in ((1, 1), (2, 2)):
        expected = sorted(np.resize(np.asarray(tags["BlackLevel"], dtype=np.float64), 4))
        if not np.allclose(sorted(black_levels.ravel()), expected, atol=1.0):
            raise refuse(f"BlackLevel tag says {[round(v, 2) for v in expected]}, LibRaw decoded "
                         f"{sorted(black_levels.ravel().tolist())}")
    stored = stored_raw_pixels(path)
    if stored is not None and (stored.shape != raw.raw_image.shape or not np.array_equal(stored, raw.raw_image)):
        raise refuse("its pixel data does not match its layout tags")


def _noise_profile(path: Path, tags: dict[str, Any]) -> NoiseProfile | None:
    if "NoiseProfile" not in tags:
        return None
    try:
        return NoiseProfile.from_dng_pairs(tags["NoiseProfile"], tags.get("CFAPlaneColor"), source="metadata")
    except NoiseProfileError as exc:
        warnings.warn(f"{path}: ignoring its NoiseProfile tag ({exc}); the noise will be estimated or taken "
                      "from --noise", stacklevel=3)
        return None


def _positive_or_none(value: float) -> float | None:
    return float(value) if value and value > 0 else None


def read_raw(path: str | os.PathLike) -> RawImage:
    """Read a Bayer RAW file into a :class:`RawImage`; raise an :class:`InputError` for anything else."""
    path = check_input_file(path)
    tags = _tiff_tags(path)
    try:
        with rawpy.imread(str(path)) as raw:
            pattern, codes = _bayer_phase(path, raw, tags)
            black_levels = np.asarray(raw.black_level_per_channel, dtype=np.float64)[codes]
            white = float(raw.white_level)
            if not white > black_levels.max():
                raise CorruptInputError(f"{path}: its white level ({white:g}) is not above its black level "
                                        f"({black_levels.max():g}); the file's level tags are damaged")
            if "DNGVersion" in tags:
                _check_dng_agrees(path, raw, tags, black_levels, white)
            wb = [float(v) for v in raw.camera_whitebalance]
            cam_xyz = np.asarray(raw.rgb_xyz_matrix[:3], dtype=np.float64)
            other = raw.other
            flip = int(raw.sizes.flip)
            raw_shape = (int(raw.sizes.raw_height), int(raw.sizes.raw_width))
            mosaic = _normalize(raw.raw_image_visible, black_levels, white)
    except rawpy.LibRawFileUnsupportedError:
        raise _unsupported(path, tags) from None
    except _LIBRAW_OUT_OF_MEMORY as exc:
        raise InputError(f"{path}: too large for LibRaw to decode here ({type(exc).__name__}); free memory or "
                         "use a machine with more") from None
    except rawpy.LibRawError as exc:
        raise CorruptInputError(f"{path}: the file is truncated or damaged ({type(exc).__name__}: "
                                f"{_libraw_message(exc)}); copy it again from the camera or phone") from None

    camera_wb = (wb[0] / wb[1], 1.0, wb[2] / wb[1]) if wb[1] > 0 and wb[0] > 0 and wb[2] > 0 else None
    neutral = tags.get("AsShotNeutral")
    if neutral is not None and len(neutral) == 3:
        as_shot_neutral: tuple[float, float, float] | None = (neutral[0], neutral[1], neutral[2])
    else:
        as_shot_neutral = (1.0 / camera_wb[0], 1.0, 1.0 / camera_wb[2]) if camera_wb else None
    color_matrix = cam_xyz if np.any(cam_xyz) else daylight_color_matrix(tags)
    return RawImage(
        path=path, mosaic=mosaic, pattern=pattern, black_levels=black_levels, white_level=white,
        camera_wb=camera_wb, as_shot_neutral=as_shot_neutral, color_matrix=color_matrix,
        iso=_positive_or_none(other.iso_speed) or _positive_or_none(tags.get("ISOSpeedRatings", 0)),
        exposure_time=_positive_or_none(other.shutter_speed) or _positive_or_none(tags.get("ExposureTime", 0)),
        make=tags.get("Make", ""), model=tags.get("Model", "") or tags.get("UniqueCameraModel", ""),
        noise_profile=_noise_profile(path, tags), is_dng="DNGVersion" in tags, flip=flip, raw_shape=raw_shape)


def _libraw_message(exc: Exception) -> str:
    msg = exc.args[0] if exc.args else ""
    return (msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)) or "no details"
