"""Deployment bundles, runtime side: load a bundle folder or ``.zip``, verify it, pick a specialist.

A bundle is a folder holding ``manifest.json`` and the model files it lists::

    {"schema": "rawdenoise-bundle", "schema_version": 1, "sdk_version": "…",
     "io": {inputs, outputs, layout, normalization, cfa, stride, tile, overlap},
     "selection": {"rule": "mean_a_boundaries", "rule_version": 1, "noise_level": "…", "boundaries": [...]},
     "specialists": [{"name", "a_range", "core_range", "files": {format: path}, "quality": {…}}, …],
     "files": {path: {"sha256", "bytes"}, …}}

Nothing is trusted before it is checked: the schema and its version, the selector (K-1 ascending
boundaries that match the specialists' core ranges), and the size and SHA-256 of every listed
file. A ``.zip`` is unpacked into a content-addressed cache after refusing members that would
land outside it (absolute paths, ``..``, symlinks). Every refusal is a one-line
:class:`BundleError` naming the bundle. The writer lives in ``export/bundle.py``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .backends import BACKENDS
from .noise import NoiseProfile
from .selector import SelectionError, read_selection, select_for_profile, selection_block

SCHEMA = "rawdenoise-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class BundleError(ValueError):
    """A bundle that is malformed, tampered with, incomplete or unsafe to unpack."""


def sdk_version() -> str:
    """This SDK's version: installed package metadata, else the source tree's pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rawdenoise")
    except PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def safe_relative_path(name: str) -> bool:
    """True for a plain relative POSIX path that stays inside its folder (no ``..``, no root, no drive)."""
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return bool(parts) and ".." not in parts and ":" not in parts[0]


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
class Bundle:
    """A verified bundle: ``path`` is the folder the files are read from, ``source`` what was opened."""

    path: Path
    source: Path
    manifest: dict[str, Any]
    specialists: tuple[Specialist, ...]
    boundaries: tuple[float, ...]

    @property
    def io(self) -> dict[str, Any]:
        return self.manifest["io"]

    @property
    def stride(self) -> int:
        return int(self.io["stride"])

    def select(self, profile: NoiseProfile) -> Specialist:
        """The specialist for ``profile`` under the manifest's rule (see ``denoise/selector.py``)."""
        return self.specialists[select_for_profile(profile, self.boundaries)]

    def file(self, relative: str) -> Path:
        return self.path / relative

    def runner_for(self, profile: NoiseProfile, backend: str = "onnx", device: str = "auto",
                   threads: int | None = None) -> tuple[Any, Specialist]:
        """A runner for the specialist ``profile`` selects, and that specialist."""
        spec = self.select(profile)
        return self.runner(spec, backend, device, threads), spec

    def runner(self, spec: Specialist, backend: str = "onnx", device: str = "auto", threads: int | None = None) -> Any:
        """A runner (``denoise.backends``) for one specialist in one of its formats.

        ``backend`` is one of :data:`denoise.backends.BACKENDS` that the bundle holds: ``torch`` or an
        ONNX Runtime format (``onnx`` = fp32, ``fp16``, ``int8``, ``ort``, ``int8_ort``).
        """
        from .backends import OnnxRunner, TorchRunner

        if backend not in BACKENDS:
            raise BundleError(f"{self.source}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend not in spec.files:
            raise BundleError(f"{self.source}: specialist {spec.name!r} has no {backend!r} model "
                              f"(formats present: {', '.join(sorted(spec.files))}); re-export with that format")
        path = self.file(spec.files[backend])
        if backend == "torch":
            from .models import load_checkpoint

            return TorchRunner(load_checkpoint(path), device, name=f"{spec.name}/torch")
        return OnnxRunner(str(path), stride=self.stride, threads=threads, providers=_onnx_providers(device),
                          name=f"{spec.name}/{backend}")

    def describe(self) -> dict[str, Any]:
        """Summary for ``denoise info --json``: where it is, what it holds, which formats and ranges."""
        formats = sorted({fmt for s in self.specialists for fmt in s.files})
        return {"path": str(self.source), "folder": str(self.path), "schema_version": self.manifest["schema_version"],
                "sdk_version": self.manifest.get("sdk_version", ""), "stride": self.stride,
                "tile": self.io.get("tile"), "overlap": self.io.get("overlap"),
                "selection": selection_block(self.boundaries),
                "formats": formats,
                "specialists": [{"name": s.name, "a_range": list(s.a_range), "core_range": list(s.core_range),
                                 "formats": sorted(s.files), "quality": s.quality} for s in self.specialists]}


def _onnx_providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise BundleError(f"device {device!r} is not available to ONNX Runtime (providers: {', '.join(available)}); "
                      "use --device cpu or the torch backend")


# ----------------------------------------------------------------------------------- loading


def default_bundle_path() -> Path:
    """The bundle shipped inside the package (``denoise/weights/bundle`` or ``bundle.zip``)."""
    weights = Path(__file__).resolve().parent / "weights"
    for candidate in (weights / "bundle", weights / "bundle.zip"):
        if candidate.exists():
            return candidate
    raise BundleError(f"{weights}: no default bundle is installed; pass a bundle path "
                      "(build one with 'denoise export RUN_DIR -o BUNDLE')")


def default_cache_dir() -> Path:
    """Where zipped bundles are unpacked: ``$RAWDENOISE_CACHE/bundles``, else ``~/.cache/rawdenoise/bundles``."""
    base = os.environ.get("RAWDENOISE_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "rawdenoise") / "bundles"


def load_bundle(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Bundle:
    """Open a bundle folder or ``.zip`` (unpacked into ``cache_dir``) and verify all of it."""
    source = Path(path)
    if source.is_dir():
        return _verified(source, source)
    if not source.is_file():
        raise BundleError(f"{source}: no such bundle (expected a folder with {MANIFEST} or a .zip of one)")
    if not zipfile.is_zipfile(source):
        raise BundleError(f"{source}: not a bundle (expected a folder with {MANIFEST} or a .zip of one)")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = _unpack(source, cache)
    try:
        return _verified(root, source)
    except BundleError:  # the cached copy may have been altered since it was unpacked: unpack afresh once
        return _verified(_unpack(source, cache, refresh=True), source)


def _verified(root: Path, source: Path) -> Bundle:
    manifest = _read_manifest(root, source)
    specialists, boundaries = _check_manifest(manifest, source)
    _verify_files(root, manifest["files"], source)
    return Bundle(path=root, source=source, manifest=manifest, specialists=specialists, boundaries=boundaries)


def _unpack(zip_path: Path, cache_root: Path, refresh: bool = False) -> Path:
    """Unpack ``zip_path`` once into ``cache_root/<name>-<sha256 prefix>``; return the bundle folder."""
    target = cache_root / f"{zip_path.stem}-{sha256_file(zip_path)[:16]}"
    if refresh:
        shutil.rmtree(target, ignore_errors=True)
    if not target.is_dir():
        try:
            cache_root.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache_root))
        except OSError as err:
            raise BundleError(f"{zip_path}: cannot unpack into {cache_root} ({err.strerror}); "
                              "set RAWDENOISE_CACHE to a writable folder") from None
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in archive.infolist():
                    _extract_member(archive, member, work, zip_path)
            try:
                os.replace(work, target)
            except OSError:
                if not target.is_dir():  # another process did not just unpack the same archive
                    raise
        except zipfile.BadZipFile as err:
            raise BundleError(f"{zip_path}: damaged zip archive ({err}); re-download or re-export the bundle") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if (target / MANIFEST).is_file():
        return target
    inner = [p for p in target.iterdir() if (p / MANIFEST).is_file()]
    if len(inner) == 1:  # a zip of the bundle folder itself rather than of its contents
        return inner[0]
    raise BundleError(f"{zip_path}: no {MANIFEST} at the top of the archive (or in a single top folder)")


def _extract_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, root: Path, zip_path: Path) -> None:
    name = member.filename
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BundleError(f"{zip_path}: refusing symlink member {name!r}; a bundle holds plain files only")
    if not safe_relative_path(name.rstrip("/")):
        raise BundleError(f"{zip_path}: refusing member {name!r} that would unpack outside the bundle folder")
    dest = (root / name).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise BundleError(f"{zip_path}: refusing member {name!r} that would unpack outside the bundle folder")
    if member.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open(member) as src, open(dest, "xb") as dst:
            shutil.copyfileobj(src, dst)
    except FileExistsError:
        raise BundleError(f"{zip_path}: member {name!r} appears twice in the archive; refusing it") from None


def _read_manifest(root: Path, source: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{source}: no {MANIFEST}; not a rawdenoise bundle")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{source}: {MANIFEST} is not UTF-8 text; re-export the bundle") from None
    except json.JSONDecodeError as err:
        raise BundleError(f"{source}: {MANIFEST} is not valid JSON (line {err.lineno}: {err.msg}); "
                          "re-export the bundle") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{source}: {MANIFEST} must hold a JSON object")
    if manifest.get("schema") != SCHEMA:
        raise BundleError(f"{source}: {MANIFEST} schema is {manifest.get('schema')!r}, not {SCHEMA!r}; "
                          "not a rawdenoise bundle")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(f"{source}: bundle schema version {manifest.get('schema_version')!r} is not supported "
                          f"(this SDK reads version {SCHEMA_VERSION}); update rawdenoise or re-export the bundle")
    return manifest


def _pair(value: Any) -> tuple[float, float] | None:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        return None
    lo, hi = float(value[0]), float(value[1])
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi else None


def _check_manifest(manifest: dict[str, Any], source: Path) -> tuple[tuple[Specialist, ...], tuple[float, ...]]:
    def fail(what: str) -> BundleError:
        return BundleError(f"{source}: {MANIFEST} {what}; re-export the bundle")

    io = manifest.get("io")
    if not isinstance(io, dict) or type(io.get("stride")) is not int or io["stride"] < 1:
        raise fail("has no valid io.stride")
    entries = manifest.get("specialists")
    if not isinstance(entries, list) or not entries:
        raise fail("lists no specialists")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise fail("has no 'files' listing")
    specialists = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise fail(f"specialist #{i} has no name")
        a_range, core_range = _pair(entry.get("a_range")), _pair(entry.get("core_range"))
        if a_range is None or core_range is None:
            raise fail(f"specialist {entry['name']!r} needs a_range and core_range as [low, high] with 0 < low <= high")
        files = entry.get("files")
        if not isinstance(files, dict) or not files:
            raise fail(f"specialist {entry['name']!r} lists no files")
        for fmt, rel in files.items():
            if not isinstance(rel, str) or not (rel in listed or any(p.startswith(rel.rstrip("/") + "/") for p in listed)):
                raise fail(f"specialist {entry['name']!r} format {fmt!r} points to {rel!r}, which is not in 'files'")
        specialists.append(Specialist(i, entry["name"], a_range, core_range, dict(files), dict(entry.get("quality") or {})))
    if len({s.name for s in specialists}) != len(specialists):
        raise fail("has duplicate specialist names")
    try:
        boundaries = read_selection(manifest.get("selection"), [s.core_range for s in specialists])
    except SelectionError as err:
        raise BundleError(f"{source}: {MANIFEST} {err}") from None
    return tuple(specialists), boundaries


def _verify_files(root: Path, listed: dict[str, Any], source: Path) -> None:
    for rel, info in listed.items():
        if not safe_relative_path(rel) or rel == MANIFEST:
            raise BundleError(f"{source}: {MANIFEST} lists an unsafe file path {rel!r}; refusing the bundle")
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str) and type(info.get("bytes")) is int):
            raise BundleError(f"{source}: {MANIFEST} entry for {rel!r} needs 'sha256' and 'bytes'; re-export the bundle")
        path = root / rel
        if path.is_symlink() or not path.is_file():
            raise BundleError(f"{source}: missing file {rel!r} listed in {MANIFEST}; the bundle is incomplete, "
                              "re-copy or re-export it")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise BundleError(f"{source}: file {rel!r} has {size} bytes but {MANIFEST} says {info['bytes']} "
                              "(modified or truncated); re-copy or re-export the bundle")
        if sha256_file(path) != info["sha256"]:
            raise BundleError(f"{source}: file {rel!r} fails its SHA-256 check (modified or corrupted); "
                              "re-copy or re-export the bundle")

