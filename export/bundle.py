"""Write a deployment bundle: every requested format of every specialist, checked, listed and hashed.

Inputs are a training run directory (``specialists.json`` of a specialists run, else ``best.pt`` of
a single generalist) or checkpoint files whose ``meta`` holds ``a_range`` (and ``core_range`` when
there are several). For each specialist the float torch checkpoint is the reference:

* ``onnx``  fp32 ONNX, parity-checked against torch through the tiled runtime path (refused beyond
  1e-4); ``int8``, ``fp16`` and ``ort`` are derived from it, so it is always included with them;
* ``int8``  static QDQ INT8 calibrated on noisy crops of the specialist's own training range, the
  convs that cost the most kept float until it loses at most ``int8_max_drop_db`` of denoising PSNR
  per noise level (measured on the calibration crops; the chosen convs are listed in the manifest);
* ``fp16``  fp16 conv body; ``ort`` ORT-format fp32 (and ``int8_ort`` when int8 is also asked);
* ``coreml`` ``.mlpackage`` with enumerated tile sizes; ``pte`` ExecuTorch (optional dependency).

Lossy formats get their PSNR / max abs difference against the float model, and the denoising PSNR
they lose next to it (worst noise-level group), on held-out crops recorded in the manifest. The
bundle is built in a temporary folder beside the target, verified with
:func:`denoise.bundle.load_bundle`, then renamed into place; ``--zip`` adds ``BUNDLE.zip``.
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import onnxruntime

from denoise.backends import OnnxRunner, TorchRunner
from denoise.bundle import BundleError, load_bundle, sha256_file, sdk_version
from denoise.manifest import MANIFEST, SCHEMA, SCHEMA_VERSION
from denoise.models import CheckpointError, count_params, load_checkpoint, save_checkpoint
from denoise.selector import NOISE_LEVEL_DEFINITION, SelectionError, boundaries_of, selection_block
from denoise.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

from . import ExportError
from .atomic import move_into_place, remove, temp_path_beside, write_json
from .calibration import CALIBRATION_SEED, QUALITY_SEED, noisy_crops
from .coreml import DEFAULT_TILES, export_coreml
from .mobile import ORT_OPTIMIZATION_LEVEL, ORT_RUNTIME_VERSION, PteRunner, convert_to_ort, export_pte
from .onnx import DEFAULT_OPSET, export_onnx
from .quantize import INT8_MAX_DROP_DB, PERCENTILE, convert_fp16, quantize_int8
from .verify import NOISE_GROUPS, check_parity, quality

FORMATS = ("onnx", "int8", "fp16", "ort", "coreml", "pte")
DEFAULT_FORMATS = ("onnx", "int8", "fp16", "ort", "coreml")
_DERIVED_FROM_ONNX = ("int8", "fp16", "ort")
INT8_WARN_DB = 40.0  # below this PSNR against the float output, INT8 visibly changes the result
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class SpecialistSource:
    """One checkpoint to export and the noise range it serves (training range, selector core range)."""

    name: str
    checkpoint: Path
    a_range: tuple[float, float]
    core_range: tuple[float, float]
    validation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportOptions:
    formats: tuple[str, ...] = DEFAULT_FORMATS
    int8_target: str = "x86"
    int8_layout: str = "qdq"
    keep_float: tuple[str, ...] = ("first", "last")
    int8_calibration: str = "percentile"
    int8_max_drop_db: float | None = INT8_MAX_DROP_DB  # None: quantize every conv but keep_float, whatever it costs
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    coreml_tiles: tuple[tuple[int, int], ...] = DEFAULT_TILES
    coreml_int8: bool = False
    calibration_crops: int = 32
    quality_crops: int = 8
    crop_size: int = 128  # packed planes (a 256×256 Bayer crop)
    opset: int = DEFAULT_OPSET
    ort_runtime: str = ORT_RUNTIME_VERSION  # the onnxruntime version the .ort files are written by and for
    ort_python: str | None = None  # a Python with exactly that onnxruntime (see export.mobile.ort_python)

    def resolved_formats(self) -> tuple[str, ...]:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ExportError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        wanted = set(self.formats)
        if wanted & set(_DERIVED_FROM_ONNX):
            wanted.add("onnx")
        return tuple(f for f in FORMATS if f in wanted)


# ------------------------------------------------------------------------------------ inputs


def _range(value: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ExportError(f"{what} must be [low, high], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ExportError(f"{what} must satisfy 0 < low <= high, got {[lo, hi]}")
    return lo, hi


def _meta(checkpoint: Path) -> dict[str, Any]:
    try:
        return dict(getattr(load_checkpoint(checkpoint), "meta", {}) or {})
    except CheckpointError as err:
        raise ExportError(str(err)) from None


def _from_specialists_json(run_dir: Path) -> tuple[list[SpecialistSource], list[float] | None]:
    path = run_dir / "specialists.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["specialists"] if isinstance(data, dict) else data
        sources = []
        for e in entries:
            validation = {k: e[k] for k in ("val_psnr", "generalist_val_psnr") if k in e}
            sources.append(SpecialistSource(str(e["name"]), run_dir / e["checkpoint"],
                                            _range(e["a_range"], f"{path}: a_range of {e['name']}"),
                                            _range(e["core_range"], f"{path}: core_range of {e['name']}"), validation))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ExportError(f"{path}: cannot read the specialists list ({type(err).__name__}: {err}); "
                          "expected {{specialists: [{{name, checkpoint, a_range, core_range}}], boundaries}}") from None
    boundaries = data.get("boundaries") if isinstance(data, dict) else None
    return sources, None if boundaries is None else [float(b) for b in boundaries]


def sources_from_inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[SpecialistSource], list[float]]:
    """The specialists to export, ordered by noise range, and the selector boundaries between them."""
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ExportError("nothing to export: give a training run directory or checkpoint files")
    explicit: list[float] | None = None
    if len(paths) == 1 and paths[0].is_dir():
        run_dir = paths[0]
        if (run_dir / "specialists.json").is_file():
            sources, explicit = _from_specialists_json(run_dir)
        elif (run_dir / "best.pt").is_file():
            paths = [run_dir / "best.pt"]
            sources = []
        else:
            raise ExportError(f"{run_dir}: no specialists.json or best.pt; pass a finished training run directory "
                              "or checkpoint files")
    else:
        sources = []
    if not sources:
        for p in paths:
            if p.is_dir():
                raise ExportError(f"{p}: pass one run directory on its own, or checkpoint files")
            meta = _meta(p)
            if "a_range" not in meta:
                raise ExportError(f"{p}: checkpoint meta has no a_range (the noise range it was trained on); "
                                  "export its training run directory instead")
            a_range = _range(meta["a_range"], f"{p}: a_range")
            if "core_range" not in meta and len(paths) > 1:
                raise ExportError(f"{p}: checkpoint meta has no core_range; several checkpoints need one each to "
                                  "define the selector (export the specialists run directory instead)")
            core = _range(meta.get("core_range", a_range), f"{p}: core_range")
            name = p.parent.name if p.stem in ("best", "latest") else p.stem
            sources.append(SpecialistSource(name, p, a_range, core))
    sources.sort(key=lambda s: s.core_range[0])
    names = [s.name for s in sources]
    bad = [n for n in names if not _NAME.match(n)]
    if bad or len(set(names)) != len(names):
        raise ExportError(f"specialist names must be unique file-name-safe words, got {names}")
    try:
        derived = boundaries_of([s.core_range for s in sources])
    except SelectionError as err:
        raise ExportError(f"specialists {names}: {err}") from None
    if explicit is not None and not (len(explicit) == len(derived) and all(
            math.isclose(a, b, rel_tol=1e-9) for a, b in zip(explicit, derived))):
        raise ExportError(f"boundaries {explicit} do not match the specialists' core ranges (expected {derived})")
    return sources, explicit if explicit is not None else derived


# ------------------------------------------------------------------------------------ writing


def _io_section(stride: int, options: ExportOptions, formats: Sequence[str]) -> dict[str, Any]:
    io: dict[str, Any] = {
        "inputs": [{"name": "noisy", "dtype": "float32", "shape": ["N", 4, "H", "W"],
                    "layout": "NCHW packed planes R, G1, G2, B"},
                   {"name": "noise", "dtype": "float32", "shape": ["N", 8],
                    "layout": "[a_R, a_G1, a_G2, a_B, b_R, b_G1, b_G2, b_B]"}],
        "outputs": [{"name": "denoised", "dtype": "float32", "shape": ["N", 4, "H", "W"], "layout": "as noisy"}],
        "normalization": "(raw - black level of the pixel's CFA channel) / (white - black); values below 0 are "
                         "kept, never clipped",
        "noise_model": "Var[x] = a*x + b per plane, on the normalized scale",
        "cfa": "canonical RGGB; other phases padded by one row/col",
        "stride": stride, "tile": options.tile, "overlap": options.overlap,
        "padding": "reflect to a multiple of stride, crop after",
    }
    if "coreml" in formats:
        io["coreml_tiles"] = [list(t) for t in options.coreml_tiles]
    return io


def _file_listing(root: Path) -> dict[str, dict[str, Any]]:
    listing = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST:
            listing[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return listing


def _check_tiling(options: ExportOptions, formats: Sequence[str], stride: int) -> None:
    """Refuse tile settings the model cannot run before any slow conversion starts."""
    if options.tile % stride or options.overlap % stride or not 0 <= options.overlap < options.tile:
        raise ExportError(f"tile {options.tile} and overlap {options.overlap} must be multiples of the model "
                          f"stride {stride} with overlap < tile")
    if "coreml" in formats and any(h % stride or w % stride or h <= 0 or w <= 0 for h, w in options.coreml_tiles):
        raise ExportError(f"Core ML tiles {[list(t) for t in options.coreml_tiles]} must be positive multiples "
                          f"of the model stride {stride}")


def _within_budget(name: str, fmt: str, drop_db: float, options: ExportOptions) -> None:
    """An INT8 model over the budget is refused, not shipped with a warning: the manifest's budget holds."""
    if options.int8_max_drop_db is not None and drop_db > options.int8_max_drop_db:
        raise ExportError(f"{name}: {fmt} loses {drop_db} dB of denoising PSNR on the quality crops, over the "
                          f"{options.int8_max_drop_db} dB budget (--int8-max-drop); raise the budget, or leave int8 "
                          "out of --formats")


def _export_specialist(src: SpecialistSource, index: int, work: Path, formats: Sequence[str],
                       options: ExportOptions, log: Callable[[str], None]) -> tuple[dict[str, Any], int]:
    """Write every format of one specialist into ``work``; return its manifest entry and stride."""
    try:
        model = load_checkpoint(src.checkpoint)
    except CheckpointError as err:
        raise ExportError(str(err)) from None
    _check_tiling(options, formats, int(model.stride))
    meta = {**getattr(model, "meta", {}), "a_range": list(src.a_range), "core_range": list(src.core_range)}
    name = src.name
    files: dict[str, str] = {"torch": f"{name}.pt"}
    save_checkpoint(model, work / files["torch"], meta)
    reference = TorchRunner(model, "cpu", name=f"{name}/torch")
    stride = reference.stride
    entry: dict[str, Any] = {"name": name, "a_range": list(src.a_range), "core_range": list(src.core_range),
                             "model": {"arch": model.arch, "config": model.config, "params": count_params(model)},
                             "files": files, "quality": {}, "parity": {}}
    if src.validation:
        entry["validation"] = src.validation
    held_out = noisy_crops(src.a_range, options.quality_crops, options.crop_size, seed=QUALITY_SEED + 1000 * index)

    def exact(fmt: str, runner: Any) -> None:
        results = check_parity(reference, runner, f"{name}.{fmt}", src.a_range)
        entry["parity"][fmt] = [{"size": list(r.size), "max_abs": r.max_abs} for r in results]
        entry["quality"][fmt] = quality(reference, runner, held_out).to_json()

    if "onnx" in formats:
        log(f"{name}: ONNX")
        files["onnx"] = f"{name}.onnx"
        export_onnx(model, work / files["onnx"], opset=options.opset)
        exact("onnx", OnnxRunner(str(work / files["onnx"])))
    if "int8" in formats:
        log(f"{name}: INT8 ({options.int8_target}), calibrating on {options.calibration_crops} crops")
        files["int8"] = f"{name}.int8.onnx"
        crops = noisy_crops(src.a_range, options.calibration_crops, options.crop_size,
                            seed=CALIBRATION_SEED + 1000 * index)
        q = quantize_int8(work / files["onnx"], work / files["int8"], crops, options.int8_target, options.keep_float,
                          options.int8_calibration, options.int8_max_drop_db, gate=held_out, layout=options.int8_layout)
        entry["int8"] = {"target": options.int8_target, "float_convs": list(q.float_nodes)}
        if q.mixed is not None:
            entry["int8"]["mixed_precision"] = q.mixed.to_json()
            log(f"{name}: INT8 keeps {len(q.mixed.kept)} more conv(s) float: {q.mixed.drop_before_db:.2f} -> "
                f"{q.mixed.drop_db:.2f} dB PSNR drop ({q.mixed.measured_on})")
        entry["quality"]["int8"] = quality(reference, OnnxRunner(str(q.path)), held_out).to_json()
        psnr, drop = entry["quality"]["int8"]["psnr_db"], entry["quality"]["int8"]["psnr_drop_db"]
        if psnr is not None and psnr < INT8_WARN_DB:
            log(f"{name}: warning: INT8 agrees with the float model to only {psnr} dB over a {list(src.a_range)}; "
                "one set of 8-bit ranges cannot cover a wide noise range: export noise-range specialists for INT8")
        _within_budget(name, "int8", drop, options)
    if "fp16" in formats:
        log(f"{name}: fp16")
        files["fp16"] = f"{name}.fp16.onnx"
        convert_fp16(work / files["onnx"], work / files["fp16"])
        entry["quality"]["fp16"] = quality(reference, OnnxRunner(str(work / files["fp16"])), held_out).to_json()
    if "ort" in formats:
        log(f"{name}: ORT format")
        files["ort"] = f"{name}.ort"
        convert_to_ort(work / files["onnx"], work / files["ort"], runtime_version=options.ort_runtime,
                       python=options.ort_python)
        exact("ort", OnnxRunner(str(work / files["ort"]), stride=stride))
        if "int8" in formats:
            files["int8_ort"] = f"{name}.int8.ort"
            convert_to_ort(work / files["int8"], work / files["int8_ort"], runtime_version=options.ort_runtime,
                           python=options.ort_python)
            entry["quality"]["int8_ort"] = quality(
                reference, OnnxRunner(str(work / files["int8_ort"]), stride=stride), held_out).to_json()
            _within_budget(name, "int8_ort", entry["quality"]["int8_ort"]["psnr_drop_db"], options)
    if "coreml" in formats:
        log(f"{name}: Core ML")
        files["coreml"] = f"{name}.mlpackage"
        export_coreml(model, work / files["coreml"], options.coreml_tiles, options.coreml_int8,
                      metadata={"rawdenoise.specialist": name, "rawdenoise.a_range": list(src.a_range),
                                "rawdenoise.core_range": list(src.core_range),
                                "rawdenoise.noise_level": NOISE_LEVEL_DEFINITION},
                      version=sdk_version())
        entry["unmeasured"] = ["coreml"]  # Core ML prediction needs macOS
    if "pte" in formats:
        log(f"{name}: ExecuTorch")
        files["pte"] = f"{name}.pte"
        export_pte(model, work / files["pte"])
        exact("pte", PteRunner(work / files["pte"], stride))
    return entry, stride


def write_bundle(sources: Sequence[SpecialistSource], boundaries: Sequence[float], out: str | os.PathLike,
                 options: ExportOptions = ExportOptions(), make_zip: bool = False,
                 log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Export every specialist into the bundle folder ``out`` (and ``out.zip``); returns the manifest."""
    out = Path(out)
    formats = options.resolved_formats()
    if out.exists() and not (out.is_dir() and ((out / MANIFEST).is_file() or not any(out.iterdir()))):
        raise ExportError(f"{out}: exists and is not a bundle; choose another output path")
    for src in sources:
        if out.resolve() in src.checkpoint.resolve().parents:
            raise ExportError(f"{out}: holds the input {src.checkpoint}; choose an output outside the inputs")
    if len(boundaries) != len(sources) - 1:
        raise ExportError(f"{len(sources)} specialists need {len(sources) - 1} boundaries, got {len(boundaries)}")
    work = temp_path_beside(out, ".building")
    work.mkdir()
    try:
        exported = [_export_specialist(src, i, work, formats, options, log) for i, src in enumerate(sources)]
        entries = [entry for entry, _ in exported]
        strides = sorted({stride for _, stride in exported})
        if len(strides) != 1:
            raise ExportError(f"specialists have different strides {strides}; a bundle needs one tiling")
        manifest = {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "sdk_version": sdk_version(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "io": _io_section(strides[0], options, formats),
            "selection": selection_block(boundaries),
            "export": {"formats": list(formats), "opset": options.opset,
                       "int8": {"target": options.int8_target, "layout": options.int8_layout,
                                "quantized": "convs only (per-channel weights)",
                                "keep_float": list(options.keep_float), "calibration": options.int8_calibration,
                                **({"percentile": PERCENTILE} if options.int8_calibration == "percentile" else {}),
                                "max_drop_db": options.int8_max_drop_db,
                                "mixed_precision": "convs ranked by the PSNR lost when each alone is INT8; the most "
                                                   "sensitive kept float until the drop next to the float model is "
                                                   "within max_drop_db in each of "
                                                   f"{NOISE_GROUPS} noise-level groups of the calibration crops and "
                                                   "of the quality crops; an export over it fails"},
                       "calibration": {"crops": options.calibration_crops, "size": options.crop_size,
                                       "seed": CALIBRATION_SEED, "seed_per_specialist": "seed + 1000 * index",
                                       "noise": "a log-uniform over the specialist's a_range"},
                       "quality_set": {"crops": options.quality_crops, "size": options.crop_size, "seed": QUALITY_SEED,
                                       "seed_per_specialist": "seed + 1000 * index",
                                       "compared_with": "float torch model output (PSNR peak 1)",
                                       "psnr_drop_db": "denoising PSNR against the clean planes (clipped to [0, 1]) "
                                                       "lost next to the float model: worst mean over "
                                                       f"{NOISE_GROUPS} groups of crops ordered by noise level"},
                       "measured_on": f"{platform.machine()} onnxruntime {onnxruntime.__version__}"},
            "specialists": entries,
        }
        if "ort" in formats:
            manifest["export"]["ort"] = {
                "runtime_version": options.ort_runtime, "optimization_level": ORT_OPTIMIZATION_LEVEL,
                "optimization_style": "runtime", "target_platform": "arm",
                "note": "written by onnxruntime runtime_version; load them with that version or a newer one of the "
                        "same major at optimization_level, which replays the saved runtime optimizations (QDQ "
                        "fusion); the graph stays portable to the XNNPACK / NNAPI / Core ML execution providers"}
        manifest["files"] = _file_listing(work)
        write_json(work / MANIFEST, manifest)
        load_bundle(work)  # the bundle must pass the same checks the runtime applies
        move_into_place(work, out)
    except BundleError as err:
        raise ExportError(f"{out}: the written bundle failed verification: {err}") from None
    finally:
        remove(work)
    if make_zip:
        zip_bundle(out, out.with_name(out.name + ".zip"))
    return manifest


def zip_bundle(folder: Path, zip_path: Path) -> Path:
    """Zip a bundle folder's contents (manifest first, fixed timestamps, so equal bundles zip equally)."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    names = [MANIFEST] + [name for name in files if name != MANIFEST]
    tmp = temp_path_beside(zip_path)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (folder / name).read_bytes())
        os.replace(tmp, zip_path)
    finally:
        remove(tmp)
    return zip_path
