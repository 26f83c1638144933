"""The bundle manifest schema (``manifest.json``, schema v1): what a valid manifest holds, in one place.

The Android core (``BundleManifest.java``) applies the same rules, and the golden "manifests" cases
(``android_demo/core/src/test/resources/golden/manifests.json``) pin that both refuse the same
manifests. Every refusal is one line that names the bundle and says what to do. Checking the files
the manifest lists (size, SHA-256) and unpacking archives is :mod:`denoise.bundle`'s job.

Rules, beyond the JSON types each field must have:

* ``io``: ``stride`` ≥ 1; ``tile`` (optional) a multiple of the stride; ``overlap`` (optional) a
  multiple of the stride below the tile; ``coreml_tiles`` positive multiples of the stride; the models'
  inputs and outputs, when listed, have the contract's names (``noisy``, ``noise`` → ``denoised``) and
  dtype (float32).
* ``selection``: read by :func:`denoise.selector.read_selection` (the rule this SDK implements, K−1
  strictly ascending positive boundaries that separate the K specialists' core ranges).
* ``specialists``: unique names, ``0 < low <= high`` ranges, files of known formats that the
  listing holds, and ``quality`` entries only for formats the specialist has.
* ``export``: an INT8 budget (``int8.max_drop_db``) every INT8 quality entry is within, and — when
  any specialist has an ORT-format file — the ONNX Runtime version and optimization level those
  files were written for (``ort.runtime_version``, ``ort.optimization_level``).
* ``files``: safe relative paths, each with a 64-digit lowercase hex SHA-256 and a byte count.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable

from .selector import SelectionError, read_selection

SCHEMA = "rawdenoise-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
FORMATS = ("torch", "onnx", "int8", "fp16", "ort", "int8_ort", "coreml", "pte")
ORT_FORMATS = ("ort", "int8_ort")
INT8_FORMATS = ("int8", "int8_ort")
ORT_OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
INPUT_NAMES = ("noisy", "noise")
OUTPUT_NAME = "denoised"
MAX_INT = 2**31 - 1  # sizes are Java ints on the phone
MAX_BYTES = 2**63 - 1  # file sizes are Java longs
_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BundleError(ValueError):
    """A bundle that is malformed, tampered with, incomplete or unsafe to unpack."""


Fail = Callable[[str], BundleError]  # builds the "<bundle>: manifest.json <what>; re-export the bundle" error


@dataclass(frozen=True)
class Specialist:
    """One model of the bundle and the noise range it serves."""

    index: int
    name: str
    a_range: tuple[float, float]
    core_range: tuple[float, float]
    files: dict[str, str] = field(compare=False)
    quality: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CheckedManifest:
    """What the runtime reads from a manifest that passed :func:`check_manifest`."""

    specialists: tuple[Specialist, ...]
    boundaries: tuple[float, ...]


def safe_relative_path(name: str) -> bool:
    """True for a plain relative POSIX path that stays inside its folder (no ``..``, no root, no drive)."""
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return bool(parts) and ".." not in parts and ":" not in parts[0]


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"1.20.0"`` → (1, 20, 0); None for anything but three plain dot-separated numbers."""
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def ort_runtime_compatible(made_for: str, runtime: str) -> bool:
    """Whether ONNX Runtime ``runtime`` loads ORT-format files written by ``made_for``: the same major
    version, not older (a runtime reads its own and older ORT files, not newer ones)."""
    made, have = parse_version(made_for), parse_version(runtime)
    return made is not None and have is not None and made[0] == have[0] and have[:2] >= made[:2]


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and math.isfinite(value)


def _pair(value: Any) -> tuple[float, float] | None:
    if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
        return None
    lo, hi = float(value[0]), float(value[1])
    return (lo, hi) if 0 < lo <= hi else None


def _whole(value: Any, expected: int) -> bool:
    """An integer ``expected``, written as an integer or a float (``1`` or ``1.0``)."""
    return (type(value) is int or type(value) is float) and value == expected


def check_manifest(manifest: Any, source: object) -> CheckedManifest:
    """Check a parsed ``manifest.json`` against the schema; ``source`` names the bundle in errors."""

    def fail(what: str) -> BundleError:
        return BundleError(f"{source}: {MANIFEST} {what}; re-export the bundle")

    if not isinstance(manifest, dict):
        raise BundleError(f"{source}: {MANIFEST} must hold a JSON object")
    if manifest.get("schema") != SCHEMA:
        raise BundleError(f"{source}: {MANIFEST} schema is {manifest.get('schema')!r}, not {SCHEMA!r}; "
                          "not a rawdenoise bundle")
    if not _whole(manifest.get("schema_version"), SCHEMA_VERSION):
        raise BundleError(f"{source}: bundle schema version {manifest.get('schema_version')!r} is not supported "
                          f"(this SDK reads version {SCHEMA_VERSION}); update rawdenoise or re-export the bundle")
    if "sdk_version" in manifest and not isinstance(manifest["sdk_version"], str):
        raise fail("sdk_version must be a string")
    _check_io(manifest.get("io"), source, fail)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise fail("has no 'files' listing")
    _check_listing(listed, source)
    entries = manifest.get("specialists")
    if not isinstance(entries, list) or not entries:
        raise fail("lists no specialists")
    specialists = tuple(_check_specialist(i, entry, listed, fail) for i, entry in enumerate(entries))
    if len({s.name for s in specialists}) != len(specialists):
        raise fail("has duplicate specialist names")
    selection = manifest.get("selection")
    if isinstance(selection, dict) and not isinstance(selection.get("noise_level", ""), str):
        raise fail("selection.noise_level must be a string")
    try:
        boundaries = read_selection(selection, [s.core_range for s in specialists])
    except SelectionError as err:
        raise BundleError(f"{source}: {MANIFEST} {err}") from None
    _check_export(manifest.get("export"), specialists, source, fail)
    return CheckedManifest(specialists, boundaries)


def _check_io(io: Any, source: object, fail: Fail) -> None:
    if not isinstance(io, dict) or not _is_int(io.get("stride")) or not 1 <= io["stride"] <= MAX_INT:
        raise fail("has no valid io.stride")
    stride = io["stride"]
    tile = io.get("tile")
    if "tile" in io and not (_is_int(tile) and stride <= tile <= MAX_INT and tile % stride == 0):
        raise fail(f"io.tile must be a positive integer multiple of the stride {stride}, got {tile!r}")
    if "overlap" in io:
        overlap = io["overlap"]
        below = tile if _is_int(tile) else None
        if not (_is_int(overlap) and 0 <= overlap <= MAX_INT and overlap % stride == 0
                and (below is None or overlap < below)):
            raise fail(f"io.overlap must be a non-negative integer multiple of the stride {stride} below the tile, "
                       f"got {overlap!r}")
    if "coreml_tiles" in io:
        tiles = io["coreml_tiles"]
        if not (isinstance(tiles, list) and tiles and all(
                isinstance(t, list) and len(t) == 2 and all(_is_int(v) and 0 < v <= MAX_INT and v % stride == 0
                                                            for v in t) for t in tiles)):
            raise fail(f"io.coreml_tiles must be a list of [height, width] multiples of the stride {stride}")
    for key in ("normalization", "noise_model", "cfa", "padding"):
        if key in io and not isinstance(io[key], str):
            raise fail(f"io.{key} must be a string")
    inputs, outputs = _names(io.get("inputs"), fail), _names(io.get("outputs"), fail)
    if inputs is not None and not set(INPUT_NAMES) <= inputs:
        raise BundleError(f"{source}: bundle models take inputs {sorted(inputs)}, but the runtime feeds "
                          f"{' and '.join(repr(n) for n in INPUT_NAMES)}; re-export the bundle with this SDK")
    if outputs is not None and OUTPUT_NAME not in outputs:
        raise BundleError(f"{source}: bundle models return {sorted(outputs)}, but the runtime reads "
                          f"{OUTPUT_NAME!r}; re-export the bundle with this SDK")


def _names(described: Any, fail: Fail) -> set[str] | None:
    if described is None:
        return None
    if not (isinstance(described, list)
            and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in described)):
        raise fail('io inputs/outputs must be lists of {"name": …}')
    for item in described:
        if item.get("dtype", "float32") != "float32":
            raise fail(f"io {item['name']!r} has dtype {item.get('dtype')!r}; the runtime feeds and reads float32")
    return {item["name"] for item in described}


def _check_listing(listed: dict[str, Any], source: object) -> None:
    for rel, info in listed.items():
        if not safe_relative_path(rel) or rel == MANIFEST:
            raise BundleError(f"{source}: {MANIFEST} lists an unsafe file path {rel!r}; refusing the bundle")
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str) and _SHA256.fullmatch(info["sha256"])
                and _is_int(info.get("bytes")) and 0 <= info["bytes"] <= MAX_BYTES):
            raise BundleError(f"{source}: {MANIFEST} entry for {rel!r} needs 'sha256' (64 lowercase hex digits) and "
                              "'bytes' (a non-negative integer); re-export the bundle")


def _check_specialist(i: int, entry: Any, listed: dict[str, Any], fail: Fail) -> Specialist:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise fail(f"specialist #{i} has no name")
    name = entry["name"]
    a_range, core_range = _pair(entry.get("a_range")), _pair(entry.get("core_range"))
    if a_range is None or core_range is None:
        raise fail(f"specialist {name!r} needs a_range and core_range as [low, high] with 0 < low <= high")
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        raise fail(f"specialist {name!r} lists no files")
    for fmt, rel in files.items():
        if fmt not in FORMATS:
            raise fail(f"specialist {name!r} has a file of unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
        if not isinstance(rel, str) or not (rel in listed or any(p.startswith(rel.rstrip("/") + "/") for p in listed)):
            raise fail(f"specialist {name!r} format {fmt!r} points to {rel!r}, which is not in 'files'")
    quality = {} if entry.get("quality") is None else entry["quality"]
    if not isinstance(quality, dict):
        raise fail(f"specialist {name!r} quality must be an object of formats")
    for fmt, q in quality.items():
        if fmt not in files:
            raise fail(f"specialist {name!r} has quality for {fmt!r}, a format it has no file for")
        if not (isinstance(q, dict) and (q.get("psnr_db") is None or _is_number(q.get("psnr_db")))
                and _is_number(q.get("max_abs")) and q["max_abs"] >= 0 and _is_number(q.get("psnr_drop_db"))):
            raise fail(f"specialist {name!r} quality of {fmt!r} needs psnr_db (a number or null), max_abs (>= 0) "
                       "and psnr_drop_db (numbers)")
    return Specialist(i, name, a_range, core_range, dict(files), dict(quality))


def _check_export(export: Any, specialists: tuple[Specialist, ...], source: object, fail: Fail) -> None:
    export = {} if export is None else export
    if not isinstance(export, dict):
        raise fail("export must be an object")
    if "formats" in export and not (isinstance(export["formats"], list)
                                    and all(isinstance(f, str) and f in FORMATS for f in export["formats"])):
        raise fail(f"export.formats must be a list of formats from {', '.join(FORMATS)}")
    int8 = export.get("int8", {})
    if not isinstance(int8, dict):
        raise fail("export.int8 must be an object")
    budget = int8.get("max_drop_db")
    if budget is not None and not (_is_number(budget) and budget >= 0):
        raise fail(f"export.int8.max_drop_db must be a PSNR budget in dB >= 0 or null, got {budget!r}")
    if budget is not None:
        for s in specialists:
            for fmt in INT8_FORMATS:
                drop = s.quality.get(fmt, {}).get("psnr_drop_db")
                if drop is not None and drop > budget:
                    raise fail(f"says specialist {s.name!r} {fmt} loses {drop} dB, over its INT8 budget of {budget} dB")
    ort = export.get("ort")
    with_ort = [s.name for s in specialists if any(fmt in s.files for fmt in ORT_FORMATS)]
    if ort is None:
        if with_ort:
            raise BundleError(f"{source}: {MANIFEST} does not say which ONNX Runtime version the ORT files of "
                              f"{with_ort[0]!r} were written for (export.ort.runtime_version); re-export the bundle")
        return
    if not isinstance(ort, dict) or parse_version(ort.get("runtime_version")) is None:
        raise fail(f"export.ort.runtime_version must be a version like '1.20.0', got "
                   f"{(ort.get('runtime_version') if isinstance(ort, dict) else ort)!r}")
    if ort.get("optimization_level") not in ORT_OPTIMIZATION_LEVELS:
        raise fail(f"export.ort.optimization_level must be one of {', '.join(ORT_OPTIMIZATION_LEVELS)}, got "
                   f"{ort.get('optimization_level')!r}")
