"""DNG tags with tifffile: read the few the SDK needs, write minimal Bayer DNGs, swap a DNG's pixels.

LibRaw decodes DNGs but hides several tags (NoiseProfile, the ColorMatrix of unknown cameras),
so they are read here from IFD0 and the raw IFD — which real cameras often put in a SubIFD behind
a preview. Written DNGs carry exactly what LibRaw needs to open and render a Bayer image:
PhotometricInterpretation CFA, the CFA pattern, black/white levels, a colour matrix and the white
balance, plus the NoiseProfile when the noise is known.
"""
from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import tifffile

from .atomic import atomic_output
from .cfa import BAYER_PATTERNS
from .errors import CorruptInputError, InputError
from .noise import NoiseProfile

# (code, TIFF data type, count, value) — the tuples tifffile's ``extratags`` take.
ExtraTag = tuple[int, int, int, Any]

PHOTOMETRIC = 262
PHOTOMETRIC_CFA = 32803
PHOTOMETRIC_LINEAR_RAW = 34892
EXIF_IFD = 34665
DNG_VERSION = 50706
NOISE_PROFILE = 51041

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL, _DOUBLE = 1, 2, 3, 4, 5, 10, 12
_RAW_IFD_KINDS = (PHOTOMETRIC_CFA, PHOTOMETRIC_LINEAR_RAW)
_CFA_CODE = {"R": 0, "G": 1, "B": 2}
_ILLUMINANT_D65 = 21

# DNG tags the SDK reads, by name; values are converted to plain Python numbers, strings,
# tuples or (rows, 3) matrices. Camera-wide tags live in IFD0, image tags in the raw IFD;
# either is looked up in the other as a fallback, since writers disagree.
_READ_TAGS: dict[str, tuple[int, str]] = {
    "DNGVersion": (DNG_VERSION, "ints"),
    "Make": (271, "text"),
    "Model": (272, "text"),
    "UniqueCameraModel": (50708, "text"),
    "Orientation": (274, "int"),
    "ColorMatrix1": (50721, "matrix"),
    "ColorMatrix2": (50722, "matrix"),
    "CalibrationIlluminant1": (50778, "int"),
    "CalibrationIlluminant2": (50779, "int"),
    "AsShotNeutral": (50728, "floats"),
    "BaselineExposure": (50730, "float"),
    "ExposureTime": (33434, "float"),
    "ISOSpeedRatings": (34855, "int"),
    "PhotometricInterpretation": (262, "int"),
    "SamplesPerPixel": (277, "int"),
    "ImageWidth": (256, "int"),
    "ImageLength": (257, "int"),
    "CFARepeatPatternDim": (33421, "ints"),
    "CFAPattern": (33422, "ints"),
    "CFAPlaneColor": (50710, "ints"),
    "BlackLevelRepeatDim": (50713, "ints"),
    "BlackLevel": (50714, "floats"),
    "WhiteLevel": (50717, "ints"),
    "LinearizationTable": (50712, "ints"),
    "BlackLevelDeltaH": (50715, "floats"),
    "BlackLevelDeltaV": (50716, "floats"),
    "ActiveArea": (50829, "ints"),
}
_RAW_LEVEL = {"PhotometricInterpretation", "SamplesPerPixel", "ImageWidth", "ImageLength", "CFARepeatPatternDim",
              "CFAPattern", "CFAPlaneColor", "BlackLevelRepeatDim", "BlackLevel", "WhiteLevel", "ActiveArea",
              "LinearizationTable", "BlackLevelDeltaH", "BlackLevelDeltaV"}
# EXIF values worth keeping when a DNG is rewritten without its EXIF IFD (tifffile cannot write
# one). TIFF/EP allows them in IFD0, where tifffile, exiftool and read_dng_tags find them; LibRaw
# reads only ExposureTime there, so read_raw takes the ISO from these tags.
_EXIF_TO_IFD0 = {"ExposureTime": (33434, _RATIONAL), "FNumber": (33437, _RATIONAL),
                 "ISOSpeedRatings": (34855, _SHORT), "DateTimeOriginal": (36867, _ASCII),
                 "FocalLength": (37386, _RATIONAL)}

# Tags not carried over when a DNG gets new pixels: the image layout (rewritten uncompressed by
# tifffile), pointers to IFDs that are not copied, tags tifffile writes itself, the
# LinearizationTable (LibRaw has already applied it to the values we write back) and the
# digests/ID that describe the old pixel data.
_NOT_CARRIED = frozenset({
    254, 256, 257, 258, 259, 262, 273, 277, 278, 279, 282, 283, 284, 296, 317, 322, 323, 324,
    325, 330, 338, 339, 347, 513, 514, 530, 532, 34665, 34853, 40965,
    50712,          # LinearizationTable
    50781,          # RawDataUniqueID
    50858, 51111,   # RawImageDigest, NewRawImageDigest
    NOISE_PROFILE,  # replaced by the residual noise of the new pixels
})


def _ifds(page: tifffile.TiffPage) -> Iterator[tifffile.TiffPage]:
    """``page`` then its SubIFDs, depth first."""
    yield page
    for sub in page.pages or ():
        if isinstance(sub, tifffile.TiffPage):
            yield from _ifds(sub)


def _raw_ifd(ifd0: tifffile.TiffPage) -> tifffile.TiffPage:
    """The main raw image: the first full-resolution (NewSubFileType 0) CFA or LinearRaw IFD."""
    candidates = [p for p in _ifds(ifd0) if p.subfiletype == 0]
    for page in candidates:
        if PHOTOMETRIC in page.tags and _convert(page.tags[PHOTOMETRIC], "int") in _RAW_IFD_KINDS:
            return page
    return candidates[0] if candidates else ifd0


# Sides beyond this are a corrupt tag, not a sensor (the largest sensors are about 20 000 pixels wide).
MAX_SIDE = 65535


def _structure_regions(tif: tifffile.TiffFile, ifd0: tifffile.TiffPage) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` of the header, every IFD and every tag value stored outside its IFD."""
    fmt = tif.tiff
    regions = [(0, 8 if fmt.version == 42 else 16)]
    for page in _ifds(ifd0):
        regions.append((page.offset, page.offset + fmt.tagnosize + fmt.tagsize * len(page.tags) + fmt.offsetsize))
        for tag in page.tags.values():
            if tag.valuebytecount > fmt.tagoffsetthreshold:
                regions.append((tag.valueoffset, tag.valueoffset + tag.valuebytecount))
    return regions


def _check_directory(tif: tifffile.TiffFile, page: tifffile.TiffPage) -> None:
    """Raise ValueError when ``page``'s tag directory is not in ascending tag order (as TIFF requires)
    or tifffile had to skip entries of it (bad type, count or offset).

    LibRaw skips such entries silently: a skipped BlackLevel means black 0, a renamed
    BitsPerSample other pixel values.
    """
    fmt = tif.tiff
    fh = tif.filehandle
    fh.seek(page.offset)
    entries = struct.unpack(fmt.tagnoformat, fh.read(fmt.tagnosize))[0]
    directory = fh.read(entries * fmt.tagsize)
    codes = [struct.unpack_from(fmt.byteorder + "H", directory, i * fmt.tagsize)[0] for i in range(entries)]
    if any(c1 >= c2 for c1, c2 in zip(codes, codes[1:])):
        raise ValueError("the raw image's tag directory is out of order")
    if entries != len(page.tags):
        raise ValueError(f"{entries - len(page.tags)} of the raw image's {entries} tag entries cannot be read")


def _check_raw_ifd(raw: tifffile.TiffPage, file_size: int, structure: Sequence[tuple[int, int]] = ()) -> None:
    """Raise ValueError when the raw IFD's layout tags contradict each other or the file.

    LibRaw trusts these tags; a damaged one makes it decode other bytes as pixels, or a
    different layout, without complaint.
    """
    for code, name in ((256, "ImageWidth"), (257, "ImageLength"), (258, "BitsPerSample")):
        if code not in raw.tags:
            raise ValueError(f"the raw image has no {name} tag")
    width, height = _convert(raw.tags[256], "int"), _convert(raw.tags[257], "int")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"the raw image's size {width}x{height} is impossible")
    bits = _convert(raw.tags[258], "ints")
    if not bits or not all(1 <= b <= 32 for b in bits):
        raise ValueError(f"the raw image's BitsPerSample {bits} is impossible")
    if 50829 in raw.tags:
        area = _convert(raw.tags[50829], "ints")
        if len(area) != 4 or not (0 <= area[0] < area[2] <= height and 0 <= area[1] < area[3] <= width):
            raise ValueError(f"ActiveArea {area} does not lie inside the {width}x{height} raw image")
    if 33421 in raw.tags and 33422 in raw.tags:
        dims, pattern = _convert(raw.tags[33421], "ints"), _convert(raw.tags[33422], "ints")
        if len(dims) != 2 or dims[0] * dims[1] != len(pattern):
            raise ValueError(f"CFARepeatPatternDim {dims} does not match the {len(pattern)} values of CFAPattern")
    if 50714 in raw.tags:
        dims = _convert(raw.tags[50713], "ints") if 50713 in raw.tags else (1, 1)
        count = len(_convert(raw.tags[50714], "floats"))
        if len(dims) != 2 or count not in (dims[0] * dims[1], dims[0] * dims[1] * raw.samplesperpixel):
            raise ValueError(f"BlackLevel has {count} values for a {dims} BlackLevelRepeatDim")
    offsets, counts = raw.dataoffsets, raw.databytecounts
    if not offsets or len(offsets) != len(counts):
        raise ValueError("the raw image has no valid strip or tile offsets")
    if any(o + c > file_size for o, c in zip(offsets, counts)):
        raise ValueError("the raw image's pixel data runs past the end of the file")
    if any(o < end and start < o + c for o, c in zip(offsets, counts) for start, end in structure):
        raise ValueError("the raw image's pixel data overlaps the file's tags")
    if raw.compression == 1 and not raw.is_tiled:
        needed = width * height * raw.samplesperpixel * max(bits) // 8
        if sum(counts) < needed:
            raise ValueError(f"the raw image holds {sum(counts)} bytes of pixels, but {width}x{height} at "
                             f"{max(bits)} bits needs {needed}")


def _exif(ifd0: tifffile.TiffPage) -> dict[str, Any]:
    """The EXIF IFD as tifffile decodes it (name → value), empty when there is none."""
    tag = ifd0.tags.get(EXIF_IFD)
    return tag.value if tag is not None and isinstance(tag.value, dict) else {}


def _ratios(values: Sequence[int]) -> list[float]:
    return [n / d if d else 0.0 for n, d in zip(values[0::2], values[1::2])]


def _convert(tag: tifffile.TiffTag, kind: str) -> Any:
    value = tag.value
    if kind == "text":
        return (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip("\x00 ")
    if isinstance(value, bytes):
        nums: list[float] = list(value)
    elif isinstance(value, (tuple, list, np.ndarray)):
        nums = [float(v) for v in np.ravel(value)]
    else:
        nums = [float(value)]
    if tag.dtype in (_RATIONAL, _SRATIONAL):
        nums = _ratios(nums)
    if kind in ("int", "float") and len(nums) != 1:
        raise ValueError(f"tag {tag.name} has {len(nums)} values where one is expected")
    if not nums and kind != "text":
        raise ValueError(f"tag {tag.name} has no value")
    if kind == "int":
        return int(nums[0])
    if kind == "ints":
        return tuple(int(v) for v in nums)
    if kind == "float":
        return nums[0]
    if kind == "floats":
        return tuple(nums)
    if len(nums) % 3 or not np.isfinite(nums).all():
        raise ValueError(f"tag {tag.name} has {len(nums)} values, not a matrix of 3 columns")
    return np.asarray(nums, dtype=np.float64).reshape(-1, 3)  # matrix


def read_dng_tags(path: str | os.PathLike) -> dict[str, Any]:
    """The DNG tags the SDK uses, by DNG name, plus ``NoiseProfile`` and ``NoiseProfileIFD``.

    Only tags present in the file are returned. ``NoiseProfile`` is searched in IFD0, then in
    the raw IFD, then in any SubIFD; ``NoiseProfileIFD`` says where it was found ('IFD0',
    'SubIFD'). Raises :class:`InputError` for a file that is not a TIFF-based DNG.
    """
    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            ifd0 = tif.pages[0]
            if DNG_VERSION in ifd0.tags:
                try:
                    raw = _raw_ifd(ifd0)
                    _check_raw_ifd(raw, path.stat().st_size, _structure_regions(tif, ifd0))
                    _check_directory(tif, raw)
                    return _dng_tags(ifd0)
                except (ValueError, TypeError, IndexError, OverflowError) as exc:
                    raise CorruptInputError(f"{path}: the file is truncated or damaged ({exc}); copy it again "
                                            "from the camera or phone") from None
    except CorruptInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises assorted types (TypeError, KeyError, ...) on damaged files
        raise InputError(f"{path}: not a readable TIFF/DNG ({exc}); give an intact DNG file") from None
    raise InputError(f"{path}: not a DNG file (no DNGVersion tag); give a DNG or another RAW file")


def _dng_tags(ifd0: tifffile.TiffPage) -> dict[str, Any]:
    raw = _raw_ifd(ifd0)
    out: dict[str, Any] = {}
    for name, (code, kind) in _READ_TAGS.items():
        first, second = (raw, ifd0) if name in _RAW_LEVEL else (ifd0, raw)
        tag = first.tags.get(code)
        if tag is None:
            tag = second.tags.get(code)
        if tag is not None:
            out[name] = _convert(tag, kind)
    exif = _exif(ifd0)
    if "ExposureTime" not in out and "ExposureTime" in exif:
        num, den = np.ravel(exif["ExposureTime"])[:2]
        out["ExposureTime"] = float(num) / float(den) if den else 0.0
    if "ISOSpeedRatings" not in out and "ISOSpeedRatings" in exif:
        out["ISOSpeedRatings"] = int(np.ravel(exif["ISOSpeedRatings"])[0])
    for page in [ifd0, raw, *_ifds(ifd0)]:
        if NOISE_PROFILE in page.tags:
            out["NoiseProfile"] = _convert(page.tags[NOISE_PROFILE], "floats")
            out["NoiseProfileIFD"] = "IFD0" if page is ifd0 else "SubIFD"
            break
    return out


def stored_raw_pixels(path: str | os.PathLike) -> np.ndarray | None:
    """The DNG's raw pixels as stored (a read-only memory map), or None when they cannot be mapped.

    Only uncompressed 16-bit data in one contiguous block without a LinearizationTable is mapped:
    then LibRaw must decode exactly these values, and comparing them catches damaged layout tags
    (offsets, types, sizes) that make LibRaw decode other bytes without complaint.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            raw = _raw_ifd(tif.pages[0])
            if (raw.compression != 1 or raw.dtype != np.uint16 or raw.samplesperpixel != 1 or 50712 in raw.tags
                    or not raw.is_memmappable):
                return None
            offset, shape = raw.dataoffsets[0], raw.shape[:2]
            order = tif.byteorder
        return np.memmap(path, dtype=np.dtype(np.uint16).newbyteorder(order), mode="r", offset=offset, shape=shape)
    except Exception:  # noqa: BLE001 - a file tifffile cannot map is checked by LibRaw alone
        return None


def daylight_color_matrix(tags: dict[str, Any]) -> np.ndarray | None:
    """The XYZ→camera ColorMatrix for D65 if the DNG has one, else whichever it has (3×3)."""
    present = [n for n in (2, 1) if f"ColorMatrix{n}" in tags]
    for n in present:
        if tags.get(f"CalibrationIlluminant{n}") == _ILLUMINANT_D65:
            return tags[f"ColorMatrix{n}"][:3]
    return tags[f"ColorMatrix{present[-1]}"][:3] if present else None


def noise_profile_tag(profile: NoiseProfile, plane_colors: Sequence[int] = (0, 1, 2)) -> ExtraTag:
    """NoiseProfile (S, O) pairs in CFAPlaneColor order; one pair when all planes agree.

    Both greens share the G plane of a Bayer DNG, so G gets their mean.
    """
    per_color = {0: (profile.a[0], profile.b[0]),
                 1: ((profile.a[1] + profile.a[2]) / 2, (profile.b[1] + profile.b[2]) / 2),
                 2: (profile.a[3], profile.b[3])}
    pairs = [per_color[int(c)] for c in plane_colors]
    if all(p == pairs[0] for p in pairs):
        pairs = pairs[:1]
    values = tuple(float(v) for pair in pairs for v in pair)
    return (NOISE_PROFILE, _DOUBLE, len(values), values)


def _rationals(values: Sequence[float], signed: bool, denominator: int) -> tuple[int, ...]:
    out: list[int] = []
    for v in values:
        frac = Fraction(float(v)).limit_denominator(denominator)
        if not signed and frac < 0:
            raise ValueError(f"unsigned rational tag value must be >= 0, got {v}")
        out += [frac.numerator, frac.denominator]
    return tuple(out)


def _black_level_tags(black_level: float | Sequence[float] | np.ndarray) -> list[ExtraTag]:
    levels = [float(v) for v in np.ravel(black_level)]
    if len(levels) not in (1, 4):
        raise ValueError(f"black_level needs 1 value or 4 (the 2x2 tile, row by row), got {len(levels)}")
    if len(levels) == 4 and len(set(levels)) == 1:
        levels = levels[:1]
    repeat: list[ExtraTag] = [(50713, _SHORT, 2, (2, 2))] if len(levels) == 4 else []
    if all(v.is_integer() and v >= 0 for v in levels):
        return repeat + [(50714, _LONG, len(levels), tuple(int(v) for v in levels))]
    return repeat + [(50714, _RATIONAL, len(levels), _rationals(levels, False, 1000))]


def write_bayer_dng(path: str | os.PathLike, mosaic: np.ndarray, pattern: str,
                    black_level: float | Sequence[float] | np.ndarray, white_level: int,
                    color_matrix: np.ndarray, as_shot_neutral: Sequence[float],
                    noise_profile: NoiseProfile | None = None, make: str = "rawdenoise",
                    model: str = "synthetic", extra_tags: Sequence[ExtraTag] = (),
                    preview: np.ndarray | None = None) -> Path:
    """Write a minimal LibRaw-readable Bayer DNG atomically; return its path.

    ``mosaic`` is the (H, W) uint16 raw in DN, ``pattern`` its top-left 2×2 layout,
    ``black_level`` one value or the 2×2 tile in that phase, ``color_matrix`` the XYZ→camera
    ColorMatrix1 (D65), ``as_shot_neutral`` the camera response to white (R, G, B).
    ``extra_tags`` go to IFD0 and replace standard tags of the same code. With ``preview``
    ((h, w, 3) uint8) IFD0 holds that preview and the raw goes to SubIFD0, as in camera DNGs.
    """
    mosaic = np.asarray(mosaic)
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError(f"a Bayer DNG needs a 2-D uint16 mosaic, got {mosaic.dtype} {mosaic.shape}")
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}; expected one of {BAYER_PATTERNS}")
    matrix = np.asarray(color_matrix, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
        raise ValueError(f"color_matrix must be a finite 3x3 XYZ->camera matrix, got shape {matrix.shape}")
    neutral = [float(v) for v in as_shot_neutral]
    if len(neutral) != 3 or min(neutral) <= 0:
        raise ValueError(f"as_shot_neutral needs 3 positive values (R, G, B), got {neutral}")
    if not 0 < int(white_level) <= 65535:
        raise ValueError(f"white_level must be in 1..65535, got {white_level}")

    camera: dict[int, ExtraTag] = {t[0]: t for t in [
        (50706, _BYTE, 4, bytes((1, 4, 0, 0))),                       # DNGVersion
        (50707, _BYTE, 4, bytes((1, 1, 0, 0))),                       # DNGBackwardVersion
        (271, _ASCII, 0, make.encode()), (272, _ASCII, 0, model.encode()),
        (50708, _ASCII, 0, f"{make} {model}".encode()),               # UniqueCameraModel
        (50721, _SRATIONAL, 9, _rationals(matrix.ravel(), True, 10000)),   # ColorMatrix1
        (50778, _SHORT, 1, _ILLUMINANT_D65),                          # CalibrationIlluminant1
        (50728, _RATIONAL, 3, _rationals(neutral, False, 1_000_000)),  # AsShotNeutral
    ]}
    camera.update({t[0]: t for t in extra_tags})
    image: list[ExtraTag] = [
        (33421, _SHORT, 2, (2, 2)),                                   # CFARepeatPatternDim
        (33422, _BYTE, 4, bytes(_CFA_CODE[c] for c in pattern)),      # CFAPattern
        *_black_level_tags(black_level),
        (50717, _LONG, 1, int(white_level)),                          # WhiteLevel
    ]
    if noise_profile is not None:
        image.append(noise_profile_tag(noise_profile))
    image = [t for t in image if t[0] not in camera]
    common = dict(metadata=None, software=False)
    with atomic_output(path) as tmp:
        with tifffile.TiffWriter(tmp) as tif:
            if preview is None:
                tif.write(mosaic, photometric=PHOTOMETRIC_CFA, extratags=[*camera.values(), *image], **common)
            else:
                tif.write(np.asarray(preview, dtype=np.uint8), photometric="rgb", subfiletype=1, subifds=1,
                          extratags=list(camera.values()), **common)
                tif.write(mosaic, photometric=PHOTOMETRIC_CFA, extratags=image, **common)
    return Path(path)


def _carried(tag: tifffile.TiffTag) -> ExtraTag | None:
    """``tag`` as an extratag tuple tifffile can write again, or None when it cannot be copied."""
    value = tag.value
    if isinstance(value, dict) or tag.dtype in (13, 18):  # sub-IFDs and IFD pointers
        return None
    if tag.dtype == _ASCII:
        return (tag.code, _ASCII, 0, value.encode("utf-8") if isinstance(value, str) else value)
    if isinstance(value, bytes):
        return (tag.code, tag.dtype, len(value), value)
    values = tuple(np.ravel(value).tolist()) if isinstance(value, (tuple, list, np.ndarray)) else (value,)
    return (tag.code, tag.dtype, tag.count, tuple(int(v) if isinstance(v, int) else v for v in values))


def replace_dng_pixels(source: str | os.PathLike, dest: str | os.PathLike, raw_data: np.ndarray,
                       noise_profile: NoiseProfile | None = None) -> Path:
    """Write ``dest``: the DNG ``source`` with new uint16 raw pixels, its metadata carried over.

    ``raw_data`` covers the whole raw IFD (margins included), in the values LibRaw decoded. The
    tags of IFD0 and of the raw IFD are merged into one uncompressed raw IFD0 (a preview IFD is
    dropped: it would show the old pixels); NoiseProfile becomes ``noise_profile`` or is removed;
    ISO and exposure move from the EXIF IFD to IFD0.
    """
    source = Path(source)
    raw_data = np.asarray(raw_data)
    with tifffile.TiffFile(source) as tif:
        ifd0 = tif.pages[0]
        raw = _raw_ifd(ifd0)
        if raw_data.dtype != np.uint16 or raw_data.shape != raw.shape[:2] or raw.samplesperpixel != 1:
            raise ValueError(f"{source}: new pixels {raw_data.dtype} {raw_data.shape} do not fit its raw IFD "
                             f"({raw.shape}, {raw.samplesperpixel} sample(s) per pixel)")
        tags: dict[int, ExtraTag] = {}
        for page in (ifd0, raw):
            for tag in page.tags.values():
                entry = None if tag.code in _NOT_CARRIED else _carried(tag)
                if entry is not None:
                    tags[tag.code] = entry
        exif = _exif(ifd0)
        for name, (code, dtype) in _EXIF_TO_IFD0.items():
            if name in exif and code not in tags:
                tags[code] = _carried_exif(code, dtype, exif[name])
        plane_colors = tuple(raw.tags[50710].value) if 50710 in raw.tags else (0, 1, 2)
    if noise_profile is not None:
        tags[NOISE_PROFILE] = noise_profile_tag(noise_profile, plane_colors)
    with atomic_output(dest) as tmp:
        tifffile.imwrite(tmp, raw_data, photometric=PHOTOMETRIC_CFA, extratags=list(tags.values()),
                         metadata=None, software=False)
    return Path(dest)


def _carried_exif(code: int, dtype: int, value: Any) -> ExtraTag:
    if dtype == _ASCII:
        return (code, _ASCII, 0, str(value).encode("utf-8"))
    values = tuple(int(v) for v in np.ravel(value))
    return (code, dtype, len(values) // 2 if dtype == _RATIONAL else len(values), values)
