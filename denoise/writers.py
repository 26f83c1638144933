"""Write a denoised mosaic: a DNG that keeps the input's metadata, an sRGB rendering, or the array.

Renderings go through LibRaw's own pipeline (the original file re-opened, its raw pixels swapped
for the denoised ones), so a denoised image is developed exactly like the noisy one would be.
Every output is written beside its final path and renamed into place, and never onto the input.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rawpy
import tifffile
from PIL import Image

from .atomic import atomic_output
from .dng import ExtraTag, replace_dng_pixels, write_bayer_dng
from .errors import OutputError
from .noise import NoiseProfile
from .raw import RawImage

FORMATS = ("dng", "tiff", "png", "jpg", "npy")
_SUFFIX = {"dng": ".dng", "tiff": ".tif", "png": ".png", "jpg": ".jpg", "npy": ".npy"}
_BIT_DEPTHS = {"tiff": (16, 8), "png": (8, 16), "jpg": (8,)}   # first = default
JPEG_QUALITY = 95
# XYZ(D65) → linear sRGB: the colour matrix of a camera whose RGB is sRGB, used for a new DNG
# when LibRaw knows no matrix for the camera (DNG requires one).
XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])
# LibRaw's flip code → TIFF Orientation.
_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


# -o NAME with one of these extensions (one input) names the output file and its format.
FORMAT_OF_SUFFIX = {".dng": "dng", ".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpg", ".jpeg": "jpg",
                    ".npy": "npy"}


@dataclass(frozen=True)
class PlannedOutput:
    """Where one input of a batch is written, in which format, and why the name is unusual (``note``)."""

    input: Path
    output: Path
    fmt: str
    note: str = ""


def plan_outputs(inputs: Sequence[str | os.PathLike], output: str | os.PathLike,
                 fmt: str | None = None) -> list[PlannedOutput]:
    """Decide every output name of a batch before any work, so no output hits an input or another output.

    One input and ``output`` ending in a known image extension (``.dng``, ``.tif``, ``.png``,
    ``.jpg``, ``.npy``) and not an existing folder: that file, its format from the extension.
    Otherwise ``output`` is a folder of ``<stem>_denoised<ext>`` files (``fmt``, default dng);
    a name already taken in this batch — by an input (``a_denoised.dng`` given as an input), by
    an earlier input's output (``x.dng`` in two folders, ``shot.dng`` and ``shot.DNG``) — gets
    the first free ``-2``, ``-3``, … suffix in input order, and the ``note`` says so. Names
    are compared case-insensitively, as on the file systems of phones, macOS and Windows.
    """
    sources = [Path(p) for p in inputs]
    out = Path(output)
    suffix = out.suffix.lower()
    if suffix in FORMAT_OF_SUFFIX and not out.is_dir():
        if len(sources) != 1:
            raise OutputError(f"{out}: names one {suffix} file, but {len(sources)} inputs were given; give an "
                              "output folder for several files")
        if fmt is not None and fmt != FORMAT_OF_SUFFIX[suffix]:
            raise OutputError(f"{out}: the extension {out.suffix} says {FORMAT_OF_SUFFIX[suffix]}, but the format "
                              f"asked for is {fmt}; make them agree or drop --format")
        if _name_key(out) == _name_key(sources[0]):
            raise OutputError(f"{out}: this is the input file; refusing to overwrite it, choose another output name")
        return [PlannedOutput(sources[0], out, FORMAT_OF_SUFFIX[suffix])]
    fmt = fmt or "dng"
    taken = {_name_key(p): f"the input {p}" for p in sources}
    plan = []
    for src in sources:
        first = output_path_for(src, out, fmt)
        target, n = first, 1
        while _name_key(target) in taken:
            n += 1
            target = first.with_name(f"{first.stem}-{n}{first.suffix}")
        note = "" if target == first else (f"{first.name} is {taken[_name_key(first)]}; writing {target.name} "
                                           "instead")
        taken[_name_key(target)] = f"the output of {src}"
        plan.append(PlannedOutput(src, target, fmt, note))
    return plan


def _name_key(path: Path) -> str:
    """The same key for two spellings of one file: symlinks, ``..`` and letter case resolved."""
    return str(path.resolve()).casefold()


def output_path_for(input_path: str | os.PathLike, out_dir: str | os.PathLike | None, fmt: str) -> Path:
    """``<out_dir>/<input stem>_denoised<ext>``; beside the input when ``out_dir`` is None."""
    _check_format(fmt)
    src = Path(input_path)
    folder = Path(out_dir) if out_dir is not None else src.parent
    return folder / f"{src.stem}_denoised{_SUFFIX[fmt]}"


def check_output_path(input_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Refuse an output that is the input (symlinks and hard links resolved) or cannot be written.

    Creates the output folder when missing and probes it with a temporary file, so a run fails
    before any denoising work rather than at the end.
    """
    src, out = Path(input_path), Path(out_path)
    if out.resolve() == src.resolve() or (out.exists() and src.exists() and os.path.samefile(out, src)):
        raise OutputError(f"{out}: this is the input file; refusing to overwrite it, choose another output "
                          "name or folder")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; give an output file name")
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write in this folder ({exc.strerror}); choose a writable output "
                          "folder") from None
    return out


def write_output(raw: RawImage, denoised_mosaic: np.ndarray, out_path: str | os.PathLike, fmt: str,
                 residual_profile: NoiseProfile | None = None, bit_depth: int | None = None) -> Path:
    """Write ``denoised_mosaic`` ((H, W), normalized, ``raw``'s phase and size) as ``fmt``.

    dng: raw pixels in DN (for DNG inputs every other tag is kept, NoiseProfile becomes
    ``residual_profile`` or is dropped); tiff/png/jpg: rendered by LibRaw with the camera white
    balance to sRGB (``bit_depth`` 16 by default for tiff, 8 for png and jpg; png may be 16);
    npy: the float32 normalized mosaic.
    """
    _check_format(fmt)
    depths = _BIT_DEPTHS.get(fmt, ())
    if bit_depth is not None and bit_depth not in depths:
        raise ValueError(f"{fmt} output has no {bit_depth}-bit option"
                         + (f"; choose one of {depths}" if depths else ""))
    bits = bit_depth or (depths[0] if depths else 0)
    mosaic = np.asarray(denoised_mosaic)
    if mosaic.shape != raw.mosaic.shape:
        raise ValueError(f"denoised mosaic {mosaic.shape} does not match {raw.path.name} ({raw.mosaic.shape})")
    out = check_output_path(raw.path, out_path)
    if fmt == "npy":
        with atomic_output(out) as tmp, tmp.open("wb") as fh:
            np.save(fh, mosaic.astype(np.float32))
        return out
    dn = raw.to_dn(mosaic)
    if fmt == "dng":
        return _write_dng(raw, dn, out, residual_profile)
    rgb = render_srgb(raw.path, dn, bits)
    with atomic_output(out) as tmp:
        if fmt == "tiff":
            tifffile.imwrite(tmp, rgb, photometric="rgb", metadata=None)
        elif fmt == "png" and bits == 16:
            tmp.write_bytes(png16_bytes(rgb))
        elif fmt == "png":
            Image.fromarray(rgb).save(tmp, format="PNG")
        else:
            Image.fromarray(rgb).save(tmp, format="JPEG", quality=JPEG_QUALITY)
    return out


def render_srgb(raw_path: str | os.PathLike, dn_mosaic: np.ndarray, bits: int) -> np.ndarray:
    """Develop ``dn_mosaic`` (uint16 DN of the visible area) with LibRaw as if it were ``raw_path``'s pixels.

    Camera white balance, sRGB output, LibRaw's default demosaic and brightness; (H', W', 3)
    uint8 or uint16, oriented as the camera says.
    """
    with rawpy.imread(str(raw_path)) as rp:
        visible = rp.raw_image_visible
        if visible.shape != dn_mosaic.shape:
            raise ValueError(f"{raw_path}: mosaic {dn_mosaic.shape} does not match its raw data {visible.shape}")
        visible[...] = dn_mosaic
        return rp.postprocess(use_camera_wb=True, output_bps=bits)


def _write_dng(raw: RawImage, dn: np.ndarray, out: Path, residual: NoiseProfile | None) -> Path:
    if raw.is_dng:
        full = dn if raw.raw_shape == dn.shape else _with_margins(raw.path, dn)
        try:
            return replace_dng_pixels(raw.path, out, full, residual)
        except ValueError as exc:
            raise OutputError(f"{out}: cannot put the denoised pixels back into {raw.path.name} ({exc}); "
                              "write tiff or npy instead") from None
    extra: list[ExtraTag] = [(274, 3, 1, _ORIENTATION.get(raw.flip, 1))]
    if raw.exposure_time:
        num, den = _unsigned_ratio(raw.exposure_time)
        extra.append((33434, 5, 1, (num, den)))
    if raw.iso:
        extra.append((34855, 3, 1, int(min(raw.iso, 65535))))
    matrix = raw.color_matrix if raw.color_matrix is not None else XYZ_TO_SRGB
    return write_bayer_dng(out, dn, raw.pattern, raw.black_levels, int(raw.white_level), matrix,
                           raw.as_shot_neutral or (1.0, 1.0, 1.0), noise_profile=residual,
                           make=raw.make or "unknown", model=raw.model or "unknown", extra_tags=extra)


def _with_margins(path: Path, dn: np.ndarray) -> np.ndarray:
    """The file's whole raw image as LibRaw decodes it, its visible area replaced by ``dn``."""
    with rawpy.imread(str(path)) as rp:
        full = rp.raw_image.copy()
        s = rp.sizes
    full[s.top_margin:s.top_margin + s.height, s.left_margin:s.left_margin + s.width] = dn
    return full


def _unsigned_ratio(value: float) -> tuple[int, int]:
    """A positive float as a TIFF RATIONAL (exposure times from 1/64000 s to hours)."""
    den = 1_000_000 if value < 1 else 1000
    return max(1, round(value * den)), den


def png16_bytes(rgb: np.ndarray) -> bytes:
    """Encode (H, W, 3) uint16 as a 16-bit RGB PNG (Pillow cannot write 48-bit RGB).

    PNG stores samples big-endian, each row prefixed by its filter type (0 = none); the chunks
    are length, type, data and the CRC-32 of type + data.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint16:
        raise ValueError(f"16-bit PNG needs (H, W, 3) uint16, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    rows = np.ascontiguousarray(rgb, dtype=">u2").reshape(h, w * 3).view(np.uint8)
    scanlines = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)   # 16-bit, truecolour, deflate, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines, 6))
            + chunk(b"IEND", b""))


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
