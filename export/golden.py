"""Golden vectors: the Python SDK's answers that the Android core must reproduce exactly.

The Java core in ``android_demo/core`` re-implements the bundle contract (selector, noise-profile
mapping, Bayer padding and packing, tile plan, blend weights, tiled blending, DNG reading). These
files pin that contract from the Python side; the Java tests read them and must agree exactly on
integers and levels, and within 1e-6 on other floats. ``tests/test_golden_vectors.py`` regenerates
them and fails when the committed copies under ``android_demo/core/src/test/resources/golden/``
drift from what this module writes.

Regenerate after an intended change with ``python -m export.golden`` (writes the committed folder;
give another folder as the argument to write elsewhere).
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tifffile

from denoise.atomic import atomic_output
from denoise.bundle import MANIFEST, BundleError, load_bundle, safe_relative_path
from denoise.manifest import ort_runtime_compatible
from denoise.cfa import BAYER_PATTERNS, pack_rggb, plane_of_pixel, to_rggb
from denoise.noise import LOG_B_INTERCEPT, LOG_B_SLOPE, NoiseProfile, NoiseProfileError, log_linear_b
from denoise import noise_estimate
from denoise.selector import noise_level, select_for_profile, selection_block
from denoise.pipeline import Model, denoise_raw
from denoise.raw import read_raw
from denoise.tiling import TilingError, axis_weights, blend_weights, denoise_planes, plan_axis, plan_tiles

COMMITTED_DIR = Path(__file__).resolve().parent.parent / "android_demo" / "core" / "src" / "test" / "resources" / "golden"


def write_golden_vectors(out_dir: str | Path) -> list[Path]:
    """Write every vector file and DNG fixture into ``out_dir`` (created); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_selector_vectors(boundaries, out / name) for name, boundaries in SELECTOR_BOUNDARIES.items()]
    for name, payload in (("noise_profiles.json", noise_profile_vectors()),
                          ("noise_estimate.json", noise_estimate_vectors()),
                          ("packing.json", packing_vectors()),
                          ("tiling.json", tiling_vectors()),
                          ("tiled_denoise.json", tiled_denoise_vectors())):
        written.append(_write_json(out / name, payload))
    bundle_files, manifest_cases = bundle_vectors(out)
    written += bundle_files
    written.append(_write_json(out / "manifests.json", manifest_cases))
    dng_cases = []
    for fixture in _dng_fixtures():
        path = out / fixture["file"]
        _write_dng(path, fixture)
        written.append(path)
        dng_cases.append(_dng_expectation(fixture, path))
    written.append(_write_json(out / "dng.json", {"files": dng_cases}))
    return written


# ----------------------------------------------------------------------------- selector

# Boundary sets for the selector vectors (written by ``denoise.bundle.write_selector_vectors``):
# one split, and the 3- and 4-boundary splits of log-spaced specialist ranges.
SELECTOR_BOUNDARIES = {"selector_1.json": [0.001], "selector_3.json": [0.0005, 0.002, 0.006],
                       "selector_4.json": [1e-4, 3.3e-4, 1.1e-3, 3.7e-3]}


# ----------------------------------------------------------------------------- noise profiles

def camera2_profile(values: Sequence[float], pattern: str) -> NoiseProfile:
    """Reference mapping of Camera2 ``SENSOR_NOISE_PROFILE`` (one (S, O) pair per CFA channel, the
    2×2 tile read row by row) to planes R, G1, G2, B: each pair goes to the plane its pixel packs into."""
    if len(values) != 8:
        raise NoiseProfileError(f"camera noise profile needs 4 (S, O) pairs, got {len(values)} values")
    planes = plane_of_pixel(pattern).ravel()
    a = [0.0] * 4
    b = [0.0] * 4
    for i, plane in enumerate(planes):
        a[plane] = float(values[2 * i])
        b[plane] = float(values[2 * i + 1])
    return NoiseProfile(tuple(a), tuple(b), "metadata")  # type: ignore[arg-type]


def noise_profile_vectors() -> dict:
    """DNG NoiseProfile tags (with CFAPlaneColor) and Camera2 pairs → a, b per plane and the level."""
    dng_inputs: list[tuple[list[float], list[int] | None]] = [
        ([2.1e-4, 3.5e-6], None),
        ([3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6, 4.0e-4, 2.5e-6], [0, 1, 2]),
        ([3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6, 4.0e-4, 2.5e-6], None),
        ([4.0e-4, 2.5e-6, 3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6], [2, 0, 1]),
        ([3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6, 2.3e-4, 1.6e-6, 4.0e-4, 2.5e-6], [0, 1, 1, 2]),
        ([3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6, 2.3e-4, 1.6e-6, 4.0e-4, 2.5e-6], [0, 1, 2]),
        ([2.2e-4, 1.5e-6, 3.1e-4, 2.0e-6, 4.0e-4, 2.5e-6, 2.3e-4, 1.6e-6], [1, 0, 2, 1]),
        ([0.0, 1e-5], None),
        ([1e-3, 0.0], None),
        ([1.0, 2.0, 3.0], None),
        ([1e-4, 1e-6, 2e-4, 2e-6], None),
        ([1e-4, 1e-6, 2e-4, 2e-6, 3e-4, 3e-6], [0, 0, 2]),
        ([-1e-4, 1e-6], None),
        ([0.0, 0.0], None),
    ]
    dng_cases = []
    for values, colors in dng_inputs:
        case: dict[str, Any] = {"values": values, "plane_colors": colors}
        try:
            profile = NoiseProfile.from_dng_pairs(values, colors)
            case.update(a=list(profile.a), b=list(profile.b), level=noise_level(profile))
        except NoiseProfileError:
            case["error"] = True
        dng_cases.append(case)
    camera_pairs = [3.0e-4, 2.0e-6, 2.0e-4, 1.0e-6, 2.5e-4, 1.5e-6, 4.5e-4, 3.0e-6]
    camera_cases = []
    for pattern in BAYER_PATTERNS:
        profile = camera2_profile(camera_pairs, pattern)
        camera_cases.append({"values": camera_pairs, "pattern": pattern, "a": list(profile.a),
                             "b": list(profile.b), "level": noise_level(profile),
                             "vector": [float(v) for v in profile.as_vector()]})
    return {"dng": dng_cases, "camera2": camera_cases}


# ----------------------------------------------------------------------------- blind noise estimate

def _estimate_mosaics() -> list[tuple[str, np.ndarray, str]]:
    """(name, mosaic, pattern): shading, texture, a narrow signal range, an odd size and phase, and
    mosaics the estimator must refuse. Noise is Poisson–Gaussian with b on the DND line."""
    rng = np.random.default_rng(15)
    yy, xx = np.mgrid[0:192, 0:192] / 192.0
    shading = 0.03 + 0.7 * xx * (0.4 + 0.6 * yy)
    shading[40:90, 100:170] = 0.55                                      # a bright patch with edges
    texture = shading * (1 + 0.4 * (rng.uniform(size=(48, 48)) > 0.5).repeat(4, 0).repeat(4, 1))
    narrow = 0.3 + 0.02 * xx

    def noisy(clean: np.ndarray, a: Sequence[float]) -> np.ndarray:
        planes = pack_rggb(clean.astype(np.float32)).astype(np.float64)
        av = np.asarray(a, dtype=np.float64)[:, None, None]
        out = rng.poisson(np.maximum(planes, 0) / av) * av + rng.normal(size=planes.shape) * np.sqrt(log_linear_b(av))
        mosaic = np.empty(clean.shape, dtype=np.float32)
        mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 0::2], mosaic[1::2, 1::2] = out
        return mosaic

    per_plane = noisy(shading, (2e-3, 1e-3, 1.2e-3, 3e-3))
    gradient = np.tile(np.linspace(0.1, 0.6, 192, dtype=np.float32), (192, 1))
    bad = per_plane[:130, :130].copy()
    bad[7, 9] = np.nan
    return [("shading, per-plane noise", per_plane, "RGGB"),
            ("texture at low noise", noisy(texture, (1e-4,) * 4), "RGGB"),
            ("narrow signal range", noisy(narrow, (5e-3,) * 4), "RGGB"),
            ("GBRG phase, odd size", per_plane[1:176, 2:183], "GBRG"),
            ("too small", per_plane[:126, :190], "RGGB"),
            ("not finite", bad, "RGGB"),
            ("constant (clipped)", np.full((160, 160), 0.3, np.float32), "BGGR"),
            ("noiseless", gradient, "GRBG")]


def noise_estimate_vectors() -> dict:
    """Mosaics (little-endian float32, base64) and the Python estimate of each: (a, b) per plane and
    the ``detail`` text (block counts, planes whose b follows the DND line, confidence), or the
    start of the refusal."""
    import base64

    cases = []
    for name, mosaic, pattern in _estimate_mosaics():
        case: dict[str, Any] = {"name": name, "pattern": pattern, "height": mosaic.shape[0], "width": mosaic.shape[1],
                                "mosaic_f32le": base64.b64encode(mosaic.astype("<f4").tobytes()).decode("ascii")}
        try:
            est = noise_estimate.estimate_noise(mosaic, pattern)
            case.update(a=list(est.a), b=list(est.b), detail=est.detail)
        except noise_estimate.NoiseEstimateError as e:
            case["error"] = str(e).split(";")[0]
        cases.append(case)
    constants = {"f_coarse": float(noise_estimate._F_COARSE), "f_detail": float(noise_estimate._F_DETAIL),
                 "corr_limit": float(noise_estimate._CORR_LIMIT), "log_b_slope": LOG_B_SLOPE,
                 "log_b_intercept": LOG_B_INTERCEPT,
                 "quantile_rel_std_1": float(noise_estimate._quantile_rel_std(np.array([1.0]))[0]),
                 "expected_quantile": {str(n): noise_estimate._expected_quantile(n) for n in (8, 9, 16, 23, 100, 667)}}
    return {"constants": constants, "cases": cases}


# ----------------------------------------------------------------------------- packing

def packing_vectors() -> dict:
    """Small mosaics in every Bayer phase and parity → padded RGGB mosaic, pads and packed planes."""
    rng = np.random.default_rng(20240611)
    cases = []
    for h, w in ((5, 7), (6, 8), (3, 3), (4, 5), (7, 6)):
        for pattern in BAYER_PATTERNS:
            mosaic = rng.normal(0.3, 0.2, size=(h, w)).astype(np.float32)
            rggb, canon = to_rggb(mosaic, pattern)
            cases.append({"pattern": pattern, "height": h, "width": w, "mosaic": _floats(mosaic),
                          "top": canon.top, "left": canon.left, "bottom": canon.bottom, "right": canon.right,
                          "rggb_height": int(rggb.shape[0]), "rggb_width": int(rggb.shape[1]),
                          "rggb": _floats(rggb), "planes": _floats(pack_rggb(rggb)),
                          "plane_of_pixel": [int(v) for v in plane_of_pixel(pattern).ravel()]})
    return {"cases": cases}


# ----------------------------------------------------------------------------- tiling

def tiling_vectors() -> dict:
    """Tile plans, axis weights and a few whole blend windows for several image sizes."""
    configs = [  # (h, w, tile, overlap, stride) in packed-plane pixels
        (300, 200, 128, 16, 8),
        (5, 7, 128, 16, 8),
        (37, 45, 16, 8, 4),
        (64, 64, 64, 0, 1),
        (130, 97, 32, 12, 4),
        (50, 33, 16, 2, 2),
        (1512, 2016, 256, 32, 8),
        (2, 3, 8, 0, 8),
    ]
    cases = []
    for h, w, tile, overlap, stride in configs:
        tiles = plan_tiles(h, w, tile, overlap, stride)
        rows = plan_axis(h, tile, overlap, stride)
        cols = plan_axis(w, tile, overlap, stride)
        case: dict[str, Any] = {
            "h": h, "w": w, "tile": tile, "overlap": overlap, "stride": stride,
            "tiles": [[t.y0, t.y1, t.cy0, t.cy1, t.x0, t.x1, t.cx0, t.cx1] for t in tiles],
            "row_weights": [_floats(axis_weights(s, overlap)) for s in rows],
            "col_weights": [_floats(axis_weights(s, overlap)) for s in cols],
            "blend_weight_sums": [float(blend_weights(t, overlap).astype(np.float64).sum()) for t in tiles],
        }
        if len(tiles) <= 12 and tiles[0].y1 * tiles[0].x1 <= 1024:
            case["blend_weights"] = [_floats(blend_weights(t, overlap)) for t in tiles]
        cases.append(case)
    invalid = []
    for tile, overlap, stride in ((12, 4, 8), (16, 6, 4), (16, 16, 4), (16, -4, 4), (16, 4, 0)):
        try:
            plan_tiles(10, 10, tile, overlap, stride)
        except TilingError:
            invalid.append({"tile": tile, "overlap": overlap, "stride": stride})
        else:
            raise AssertionError(f"tiling accepted invalid parameters {(tile, overlap, stride)}")
    return {"cases": cases, "invalid": invalid}


class _TopLeftShift:
    """A deterministic stand-in model whose output depends on the window it is given:
    every plane plus that plane's top-left value (exact in float32 in any language)."""

    def __init__(self, stride: int):
        self.stride = stride

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return planes + planes[:, :, :1, :1]


def tiled_denoise_vectors() -> dict:
    """Full ``denoise_planes`` runs with :class:`_TopLeftShift`, so blending and cropping are pinned."""
    rng = np.random.default_rng(7)
    cases = []
    for h, w, tile, overlap, stride, batch in ((21, 27, 16, 8, 4, 3), (9, 5, 8, 4, 2, 1), (16, 24, 16, 0, 8, 2)):
        planes = rng.normal(0.25, 0.1, size=(4, h, w)).astype(np.float32)
        noise = NoiseProfile.uniform(2e-3, 1e-5, "synthetic").as_vector()
        out = denoise_planes(_TopLeftShift(stride), planes, noise, tile=tile, overlap=overlap, batch=batch)
        cases.append({"h": h, "w": w, "tile": tile, "overlap": overlap, "stride": stride, "batch": batch,
                      "model": "add_top_left", "planes": _floats(planes), "noise": _floats(noise),
                      "output": _floats(out)})
    return {"cases": cases}


# ----------------------------------------------------------------------------- bundle manifests

BUNDLE_DIR = "bundle"
_BUNDLE_PAYLOADS = {  # stand-in model files: only their sizes and digests matter to a manifest
    "models/low.onnx": b"low-noise specialist, fp32\n" * 3,
    "models/low_int8.onnx": b"low-noise specialist, int8\n",
    "models/mid.onnx": b"mid-noise specialist, fp32\n" * 2,
    "models/high.onnx": b"high-noise specialist, fp32\n",
    "models/high.mlpackage/Manifest.json": b"{}\n",
    "models/high.mlpackage/Data/model.mlmodel": b"core ml stand-in\n",
}


def _base_manifest() -> dict:
    """A three-specialist manifest in the schema ``denoise.bundle`` reads, listing the stand-in files."""
    files = {rel: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
             for rel, data in _BUNDLE_PAYLOADS.items()}
    return {
        "schema": "rawdenoise-bundle", "schema_version": 1, "sdk_version": "golden",
        "io": {"inputs": [{"name": "noisy", "dtype": "float32", "shape": ["N", 4, "H", "W"]},
                          {"name": "noise", "dtype": "float32", "shape": ["N", 8]}],
               "outputs": [{"name": "denoised", "dtype": "float32", "shape": ["N", 4, "H", "W"]}],
               "cfa": "canonical RGGB", "stride": 8, "tile": 256, "overlap": 32},
        "selection": {"rule": "mean_a_boundaries", "rule_version": 1, "boundaries": [0.0005, 0.002]},
        "specialists": [
            {"name": "low", "a_range": [1e-4, 6e-4], "core_range": [1e-4, 0.0005],
             "files": {"onnx": "models/low.onnx", "int8": "models/low_int8.onnx"}},
            {"name": "mid", "a_range": [4e-4, 2.5e-3], "core_range": [0.0005, 0.002],
             "files": {"onnx": "models/mid.onnx"}},
            {"name": "high", "a_range": [1.6e-3, 0.012], "core_range": [0.002, 0.012],
             "files": {"onnx": "models/high.onnx", "coreml": "models/high.mlpackage"}},
        ],
        "files": files,
    }


def _manifest_variants() -> list[tuple[str, dict]]:
    """The base manifest and mutations of it that a loader must accept or refuse."""
    def edit(change: Callable[[dict], Any]) -> dict:
        m = copy.deepcopy(_base_manifest())
        change(m)
        return m

    def spec(i: int, key: str, value: Any) -> Callable[[dict], Any]:
        return lambda m: m["specialists"][i].__setitem__(key, value)

    first = "models/low.onnx"
    return [
        ("valid", _base_manifest()),
        ("valid without tile and overlap", edit(lambda m: [m["io"].pop("tile"), m["io"].pop("overlap")])),
        ("valid schema_version as 1.0", edit(lambda m: m.__setitem__("schema_version", 1.0))),
        ("wrong schema", edit(lambda m: m.__setitem__("schema", "other-bundle"))),
        ("newer schema version", edit(lambda m: m.__setitem__("schema_version", 2))),
        ("newer rule version", edit(lambda m: m["selection"].__setitem__("rule_version", 2))),
        ("unknown rule", edit(lambda m: m["selection"].__setitem__("rule", "median_a"))),
        ("stride zero", edit(lambda m: m["io"].__setitem__("stride", 0))),
        ("stride not an integer", edit(lambda m: m["io"].__setitem__("stride", 8.0))),
        ("no io", edit(lambda m: m.pop("io"))),
        ("no selection", edit(lambda m: m.pop("selection"))),
        ("boundaries descending", edit(lambda m: m["selection"].__setitem__("boundaries", [0.002, 0.0005]))),
        ("boundary negative", edit(lambda m: m["selection"].__setitem__("boundaries", [-0.0005, 0.002]))),
        ("too few boundaries", edit(lambda m: m["selection"].__setitem__("boundaries", [0.0005]))),
        ("boundary off the core ranges", edit(lambda m: m["selection"].__setitem__("boundaries", [0.0005, 0.0021]))),
        ("boundary within 1e-9 of the core range", edit(lambda m: m["selection"].__setitem__(
            "boundaries", [0.0005, 0.002 * (1 + 1e-12)]))),
        ("no specialists", edit(lambda m: m.__setitem__("specialists", []))),
        ("specialist without name", edit(spec(1, "name", ""))),
        ("duplicate names", edit(spec(2, "name", "low"))),
        ("a_range starting at zero", edit(spec(0, "a_range", [0.0, 6e-4]))),
        ("core_range reversed", edit(spec(0, "core_range", [0.0005, 1e-4]))),
        ("specialist without files", edit(spec(1, "files", {}))),
        ("specialist file not listed", edit(spec(1, "files", {"onnx": "models/other.onnx"}))),
        ("no files listing", edit(lambda m: m.__setitem__("files", {}))),
        ("unsafe parent path", edit(lambda m: m["files"].__setitem__("../evil.onnx", m["files"][first]))),
        ("absolute path", edit(lambda m: m["files"].__setitem__("/etc/evil", m["files"][first]))),
        ("drive path", edit(lambda m: m["files"].__setitem__("C:/evil.onnx", m["files"][first]))),
        ("backslash path", edit(lambda m: m["files"].__setitem__("models\\low.onnx", m["files"][first]))),
        ("manifest listed as a file", edit(lambda m: m["files"].__setitem__("manifest.json", m["files"][first]))),
        ("digest mismatch", edit(lambda m: m["files"][first].__setitem__(
            "sha256", ("0" if m["files"][first]["sha256"][0] != "0" else "1") + m["files"][first]["sha256"][1:]))),
        ("size mismatch", edit(lambda m: m["files"][first].__setitem__("bytes", m["files"][first]["bytes"] + 1))),
        ("missing file", edit(lambda m: m["files"].__setitem__("models/gone.onnx", {"sha256": "0" * 64, "bytes": 1}))),
        ("file entry without digest", edit(lambda m: m["files"][first].pop("sha256"))),
        ("file entry with fractional size", edit(lambda m: m["files"][first].__setitem__(
            "bytes", float(m["files"][first]["bytes"])))),
        ("file entry with negative size", edit(lambda m: m["files"][first].__setitem__("bytes", -1))),
        ("file digest in upper case", edit(lambda m: m["files"][first].__setitem__(
            "sha256", m["files"][first]["sha256"].upper()))),
        *_io_variants(edit),
        *_field_variants(edit, spec),
    ]


def _io_variants(edit: Callable[[Callable[[dict], Any]], dict]) -> list[tuple[str, dict]]:
    """Types and ranges of every ``io`` field (the base has stride 8, tile 256, overlap 32)."""
    def io(key: str, value: Any) -> dict:
        return edit(lambda m: m["io"].__setitem__(key, value))

    return [
        ("stride true", io("stride", True)), ("stride beyond a Java int", io("stride", 2**31)),
        ("tile a string", io("tile", "abc")), ("tile negative", io("tile", -5)), ("tile fractional", io("tile", 256.5)),
        ("tile true", io("tile", True)), ("tile as 256.0", io("tile", 256.0)), ("tile zero", io("tile", 0)),
        ("tile null", io("tile", None)), ("tile not a multiple of the stride", io("tile", 100)),
        ("tile beyond a Java int", io("tile", 2**32)),
        ("overlap negative", io("overlap", -8)), ("overlap as 32.0", io("overlap", 32.0)),
        ("overlap a string", io("overlap", "32")), ("overlap equal to the tile", io("overlap", 256)),
        ("overlap not a multiple of the stride", io("overlap", 12)),
        ("valid overlap zero", io("overlap", 0)),
        ("valid overlap without tile", edit(lambda m: m["io"].pop("tile"))),
        ("valid Core ML tiles", io("coreml_tiles", [[256, 256], [128, 64]])),
        ("Core ML tile off the stride", io("coreml_tiles", [[250, 256]])),
        ("Core ML tiles empty", io("coreml_tiles", [])), ("Core ML tile of one side", io("coreml_tiles", [[256]])),
        ("cfa not a string", io("cfa", 3)), ("normalization not a string", io("normalization", ["x"])),
        ("inputs renamed", edit(lambda m: m["io"]["inputs"][1].__setitem__("name", "sigma"))),
        ("output renamed", edit(lambda m: m["io"]["outputs"][0].__setitem__("name", "output_0"))),
        ("inputs not a list", io("inputs", {"name": "noisy"})),
        ("input of dtype float16", edit(lambda m: m["io"]["inputs"][0].__setitem__("dtype", "float16"))),
        ("output dtype null", edit(lambda m: m["io"]["outputs"][0].__setitem__("dtype", None))),
    ]


def _field_variants(edit: Callable[[Callable[[dict], Any]], dict],
                    spec: Callable[[int, str, Any], Callable[[dict], Any]]) -> list[tuple[str, dict]]:
    """The other fields: versions, selection, formats, quality, the INT8 budget, the ORT runtime."""
    measured = {"onnx": {"psnr_db": None, "max_abs": 0.0, "psnr_drop_db": 0.0},
                "int8": {"psnr_db": 61.5, "max_abs": 0.02, "psnr_drop_db": 0.12}}
    ort = {"runtime_version": "1.20.0", "optimization_level": "all"}

    def with_quality(budget: Any, quality: dict = measured) -> Callable[[dict], Any]:
        def change(m: dict) -> None:
            m["specialists"][0]["quality"] = copy.deepcopy(quality)
            m["export"] = {"formats": ["onnx", "int8"], "int8": {"max_drop_db": budget}}
        return change

    def with_ort(block: Any) -> Callable[[dict], Any]:
        def change(m: dict) -> None:
            m["specialists"][1]["files"]["ort"] = "models/mid.onnx"  # any listed file: only the contract matters
            if block is not None:
                m["export"] = {"ort": block}
        return change

    return [
        ("schema_version true", edit(lambda m: m.__setitem__("schema_version", True))),
        ("rule_version true", edit(lambda m: m["selection"].__setitem__("rule_version", True))),
        ("sdk_version not a string", edit(lambda m: m.__setitem__("sdk_version", 1))),
        ("noise_level not a string", edit(lambda m: m["selection"].__setitem__("noise_level", 0.5))),
        ("a_range with true", edit(spec(0, "a_range", [True, 6e-4]))),
        ("NaN in an unread field", edit(lambda m: m.__setitem__("validation", float("nan")))),
        ("file of an unknown format", edit(spec(1, "files", {"onnx": "models/mid.onnx", "tflite": "models/mid.onnx"}))),
        ("valid quality within the INT8 budget", edit(with_quality(0.15))),
        ("valid quality without an INT8 budget", edit(with_quality(None))),
        ("INT8 over the budget", edit(with_quality(0.1))),
        ("INT8 budget negative", edit(with_quality(-0.1))),
        ("INT8 budget a string", edit(with_quality("0.15"))),
        ("quality of a format without a file", edit(with_quality(0.15, {**measured, "fp16": measured["onnx"]}))),
        ("quality drop a string", edit(with_quality(0.15, {"int8": {**measured["int8"], "psnr_drop_db": "0.1"}}))),
        ("quality max_abs negative", edit(with_quality(0.15, {"int8": {**measured["int8"], "max_abs": -1.0}}))),
        ("quality not an object", edit(spec(0, "quality", ["int8"]))),
        ("valid quality null", edit(spec(0, "quality", None))),
        ("export formats unknown", edit(lambda m: m.__setitem__("export", {"formats": ["onnx", "tflite"]}))),
        ("export not an object", edit(lambda m: m.__setitem__("export", "onnx"))),
        ("valid ORT file with its runtime", edit(with_ort(ort))),
        ("ORT file without its runtime", edit(with_ort(None))),
        ("ORT runtime of two numbers", edit(with_ort({**ort, "runtime_version": "1.20"}))),
        ("ORT runtime with a prefix", edit(with_ort({**ort, "runtime_version": "v1.20.0"}))),
        ("ORT runtime a number", edit(with_ort({**ort, "runtime_version": 1.2}))),
        ("ORT runtime with a trailing newline", edit(with_ort({**ort, "runtime_version": "1.20.0\n"}))),
        ("ORT optimization level unknown", edit(with_ort({**ort, "optimization_level": "max"}))),
        ("ORT optimization level missing", edit(with_ort({"runtime_version": "1.20.0"}))),
    ]


def ort_runtime_vectors() -> list[dict]:
    """Which app runtimes load ORT files written by which version (:func:`denoise.manifest.ort_runtime_compatible`)."""
    pairs = [("1.20.0", "1.20.0"), ("1.20.0", "1.20.1"), ("1.20.1", "1.20.0"), ("1.20.0", "1.22.0"),
             ("1.32.0", "1.20.0"), ("1.20.0", "2.0.0"), ("2.1.0", "2.0.9"), ("1.20", "1.20.0"), ("1.20.0", "abc")]
    return [{"made_for": made, "runtime": runtime, "compatible": ort_runtime_compatible(made, runtime)}
            for made, runtime in pairs]


def bundle_vectors(out_dir: Path) -> tuple[list[Path], dict]:
    """A stand-in bundle folder plus manifest variants, each judged by :func:`denoise.bundle.load_bundle`,
    and the specialist the valid bundle selects for the selector-vector profiles."""
    root = out_dir / BUNDLE_DIR
    written = []
    for rel, data in _BUNDLE_PAYLOADS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
        written.append(path)
    cases = []
    with tempfile.TemporaryDirectory() as work:
        for name, manifest in _manifest_variants():
            trial = Path(work, f"case{len(cases)}")
            shutil.copytree(root, trial)
            (trial / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            try:
                load_bundle(trial)
                valid = True
            except BundleError:
                valid = False
            cases.append({"name": name, "valid": valid, "manifest_text": json.dumps(manifest)})
    valid_manifest = _base_manifest()
    written.append(_write_json(root / MANIFEST, valid_manifest))
    bundle = load_bundle(root)
    selections = []
    for level in (1e-5, 0.0005, math.nextafter(0.0005, 0), 0.001, 0.002, math.nextafter(0.002, 1), 0.05):
        profile = NoiseProfile.uniform(level, 1e-6, "metadata")
        selections.append({"a": list(profile.a), "b": list(profile.b), "level": noise_level(profile),
                           "specialist": bundle.select(profile).name})
    paths = [{"path": p, "safe": safe_relative_path(p)}
             for p in ("a.onnx", "models/a.onnx", "./models//a.onnx", "models/", "m:odel/a", "models/c:d", "", "/abs",
                       "../up", "a/../../b", "a/..", "C:/x", "a\\b", "a\x00b", ".", "./", "..")]
    return written, {"cases": cases, "selections": selections, "paths": paths, "ort_runtimes": ort_runtime_vectors()}


# ----------------------------------------------------------------------------- DNG fixtures

def _dng_fixtures() -> list[dict]:
    """Two small Bayer DNGs in the layouts a reader meets: little-endian strips with an odd
    ActiveArea offset (the phase is relative to it), and big-endian 16×16 tiles."""
    rng = np.random.default_rng(51041)
    strips_full = rng.integers(0, 1024, size=(26, 30), dtype=np.uint16)
    tiles_full = rng.integers(0, 4096, size=(40, 50), dtype=np.uint16)
    return [
        {"file": "grbg_strips_le.dng", "byteorder": "<", "data": strips_full, "rowsperstrip": 10, "tile": None,
         "active_area": [2, 2, 25, 29], "cfa_pattern": [1, 0, 2, 1], "pattern": "GRBG",
         "black_dim": [2, 2], "black": [64, 65, 66, 63], "black_type": "I", "white": 1023,
         "noise_profile": [3.1e-4, 2.0e-6, 2.2e-4, 1.5e-6, 4.0e-4, 2.5e-6], "plane_colors": [0, 1, 2],
         "as_shot_neutral": [(1, 2), (1, 1), (2, 3)], "orientation": 6},
        {"file": "bggr_tiles_be.dng", "byteorder": ">", "data": tiles_full, "rowsperstrip": None, "tile": (16, 16),
         "active_area": None, "cfa_pattern": [2, 1, 1, 0], "pattern": "BGGR",
         "black_dim": [1, 1], "black": [256], "black_type": "2I", "white": 4095,
         "noise_profile": [5.0e-4, 4.0e-6], "plane_colors": None,
         "as_shot_neutral": None, "orientation": 1},
    ]


def _write_dng(path: Path, fx: dict) -> None:
    """Write one fixture with tifffile: a minimal Bayer DNG (CFA photometric, DNG tags) as LibRaw reads it."""
    black_values: list[Any] = fx["black"]
    if fx["black_type"] == "2I":  # RATIONAL: numerator, denominator pairs
        black_values = [v for b in fx["black"] for v in (b, 1)]
    tags: list[tuple] = [
        (33421, "H", 2, (2, 2), True),                       # CFARepeatPatternDim
        (33422, "B", 4, tuple(fx["cfa_pattern"]), True),     # CFAPattern
        (50706, "B", 4, (1, 4, 0, 0), True),                 # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),                 # DNGBackwardVersion
        (50708, "s", 0, "rawdenoise golden", True),          # UniqueCameraModel
        (50713, "H", 2, tuple(fx["black_dim"]), True),       # BlackLevelRepeatDim
        (50714, fx["black_type"], len(fx["black"]), tuple(black_values), True),  # BlackLevel
        (50717, "I", 1, fx["white"], True),                  # WhiteLevel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),                           # CalibrationIlluminant1 = D65
        (51041, "d", len(fx["noise_profile"]), tuple(fx["noise_profile"]), True),  # NoiseProfile
        (274, "H", 1, fx["orientation"], True),              # Orientation
    ]
    if fx["active_area"] is not None:
        tags.append((50829, "I", 4, tuple(fx["active_area"]), True))
    if fx["plane_colors"] is not None:
        tags.append((50710, "B", 3, tuple(fx["plane_colors"]), True))
    if fx["as_shot_neutral"] is not None:
        tags.append((50728, "2I", 3, tuple(v for pair in fx["as_shot_neutral"] for v in pair), True))
    kwargs: dict[str, Any] = {"photometric": 32803, "byteorder": fx["byteorder"], "extratags": tags,
                              "metadata": None, "software": False}
    if fx["tile"] is not None:
        kwargs["tile"] = fx["tile"]
    else:
        kwargs["rowsperstrip"] = fx["rowsperstrip"]
    with atomic_output(path) as tmp:
        tifffile.imwrite(tmp, fx["data"], **kwargs)


# The whole file path (denoise_raw + to_dn) with the stand-in model, small tiles so seams are crossed.
PIPELINE = {"stride": 4, "tile": 8, "overlap": 4, "batch": 4}


def _dng_expectation(fx: dict, path: Path) -> dict:
    """What a DNG reader must report for one fixture, as the SDK's own reader (:func:`read_raw`,
    LibRaw plus tifffile) sees it: phase, black tile, white, NoiseProfile, the active area's DN
    and normalized mosaics, and ``to_dn`` of an edited mosaic (rounding and clipping on the way back)."""
    raw = read_raw(path)
    if raw.noise_profile is None:
        raise AssertionError(f"{path}: fixture lost its NoiseProfile")
    edited = raw.mosaic * np.float32(1.25) - np.float32(0.02)  # pushes values past white and below 0 DN
    stand_in = Model(describe="add_top_left", runner_for=lambda profile: (_TopLeftShift(PIPELINE["stride"]), "stand-in"),
                     tile=PIPELINE["tile"], overlap=PIPELINE["overlap"])
    piped, _ = denoise_raw(raw, stand_in, raw.noise_profile, batch=PIPELINE["batch"])
    return {"file": fx["file"], "height": int(raw.mosaic.shape[0]), "width": int(raw.mosaic.shape[1]),
            "pattern": raw.pattern, "black": [float(v) for v in raw.black_levels.ravel()],
            "white": float(raw.white_level), "noise_profile_values": list(fx["noise_profile"]),
            "a": list(raw.noise_profile.a), "b": list(raw.noise_profile.b), "level": noise_level(raw.noise_profile),
            "as_shot_neutral": list(raw.as_shot_neutral) if fx["as_shot_neutral"] else None,
            "color_matrix_1": [float(v) for v in np.asarray(raw.color_matrix).ravel()],
            "orientation": fx["orientation"],
            "mosaic": [int(v) for v in raw.to_dn(raw.mosaic).ravel()],
            "normalized": _floats(raw.mosaic),
            "edited": _floats(edited), "edited_dn": [int(v) for v in raw.to_dn(edited).ravel()],
            "pipeline": {**PIPELINE, "model": "add_top_left", "denoised": _floats(piped),
                         "denoised_dn": [int(v) for v in raw.to_dn(piped).ravel()]}}


# ----------------------------------------------------------------------------- helpers

def _floats(array: np.ndarray) -> list[float]:
    """Flatten (row-major) to Python floats; float32 values convert exactly and print shortest."""
    return [float(v) for v in np.asarray(array).ravel()]


def _write_json(path: Path, payload: dict) -> Path:
    """One top-level key per line, each case of a list on its own line: stable, diffable, compact."""
    lines = ["{"]
    items = list(payload.items())
    for i, (key, value) in enumerate(items):
        sep = "," if i + 1 < len(items) else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n".join("  " + json.dumps(v, separators=(",", ":"), allow_nan=False) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n{body}\n  ]{sep}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}{sep}")
    lines.append("}")
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _vector_cases(boundaries: Sequence[float]) -> list[dict[str, Any]]:
    """Profiles whose levels sit on, one float step either side of, and far from every boundary."""
    b_read = (2e-6,) * 4
    lowest = boundaries[0] / 100 if boundaries else 1e-5
    highest = boundaries[-1] * 100 if boundaries else 1e-1
    cases: list[tuple[str, tuple[float, ...]]] = [("far below", (lowest,) * 4), ("far above", (highest,) * 4)]
    for i, b in enumerate(boundaries):
        below, above = math.nextafter(b, -math.inf), math.nextafter(b, math.inf)
        cases += [(f"boundary {i}: on", (b,) * 4), (f"boundary {i}: just below", (below,) * 4),
                  (f"boundary {i}: just above", (above,) * 4),
                  (f"boundary {i}: per-plane, mean on", (0.5 * b, 1.5 * b, b, b)),
                  (f"boundary {i}: per-plane, uneven", (0.9 * b, 1.3 * b, 0.7 * b, 1.1 * b)),
                  (f"boundary {i}: per-plane, one below", (below, b, b, b)),
                  (f"boundary {i}: per-plane, one above", (b, b, b, above)),
                  (f"boundary {i}: blue only", (0.0, 0.0, 0.0, 4 * b))]
    out = []
    for name, a in cases:
        profile = NoiseProfile(a, b_read, "metadata")  # type: ignore[arg-type]
        out.append({"name": name, "a": list(profile.a), "b": list(profile.b), "level": noise_level(profile),
                    "index": select_for_profile(profile, boundaries)})
    return out


def write_selector_vectors(boundaries: Sequence[float], path: str | Path) -> Path:
    """Write JSON golden vectors of the selector (profiles → level → specialist index) for other
    implementations (the Android/Java core) to reproduce exactly."""
    boundaries = [float(b) for b in boundaries]
    payload = {**selection_block(boundaries), "cases": _vector_cases(boundaries)}
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else COMMITTED_DIR
    for path in write_golden_vectors(target):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
