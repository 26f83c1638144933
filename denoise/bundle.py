"""Deployment bundles, runtime side: load a bundle folder or ``.zip``, verify it, pick a specialist.

A bundle is a folder holding ``manifest.json`` and the model files it lists::

    {"schema": "rawdenoise-bundle", "schema_version": 1, "sdk_version": "…",
     "io": {inputs, outputs, layout, normalization, cfa, stride, tile, overlap},
     "selection": {"rule": "mean_a_boundaries", "rule_version": 1, "noise_level": "…", "boundaries": [...]},
     "specialists": [{"name", "a_range", "core_range", "files": {format: path}, "quality": {…}}, …],
     "files": {path: {"sha256", "bytes"}, …}}

Nothing is trusted before it is checked: the schema and its version, the selector (K-1 ascending
boundaries that match the specialists' core ranges), and the size and SHA-256 of every listed
file. A ``.zip`` is unpacked into a content-addressed cache: only the members its manifest lists,
after checking their sizes and refusing encrypted archives and members that would land outside
the cache (absolute paths, ``..``, symlinks); a refused archive leaves nothing there. Every refusal is a one-line
:class:`BundleError` naming the bundle. The writer lives in ``export/bundle.py``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import process_running
from .backends import BACKENDS
from .noise import NoiseProfile
from .manifest import (MANIFEST, ORT_FORMATS, BundleError, Specialist, check_manifest, ort_runtime_compatible,
                       safe_relative_path)
from .selector import select_for_profile, selection_block


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
        if backend in ORT_FORMATS:
            import onnxruntime

            made_for = self.manifest["export"]["ort"]["runtime_version"]  # required by check_manifest
            if not ort_runtime_compatible(made_for, onnxruntime.__version__):
                raise BundleError(f"{self.source}: its ORT files were written for onnxruntime {made_for}, which "
                                  f"onnxruntime {onnxruntime.__version__} cannot load; use --backend onnx or "
                                  f"install onnxruntime {made_for}")
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
    """Open a bundle folder or ``.zip`` (unpacked into ``cache_dir``) and verify all of it.

    A zip that fails verification does not stay in the cache.
    """
    source = Path(path)
    if source.is_dir():
        return _verified(source, source)
    if not source.is_file():
        raise BundleError(f"{source}: no such bundle (expected a folder with {MANIFEST} or a .zip of one)")
    if not zipfile.is_zipfile(source):
        raise BundleError(f"{source}: not a bundle (expected a folder with {MANIFEST} or a .zip of one)")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"{source.stem}-{sha256_file(source)[:16]}"
    cached = target.is_dir()
    try:
        return _verified(_unpack(source, target), source)
    except BundleError:
        shutil.rmtree(target, ignore_errors=True)
        if not cached:
            raise
    try:  # the cached copy may have been altered since it was unpacked: unpack afresh once
        return _verified(_unpack(source, target), source)
    except BundleError:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _verified(root: Path, source: Path) -> Bundle:
    manifest = _read_manifest(root, source)
    checked = check_manifest(manifest, source)
    _verify_files(root, manifest["files"], source)
    return Bundle(path=root, source=source, manifest=manifest, specialists=checked.specialists,
                  boundaries=checked.boundaries)


# Caps on what a zipped bundle may unpack to: a shipped bundle is a few MB, the largest
# multi-format bundles a few hundred.
MAX_UNPACKED_BYTES = 4 << 30
MAX_MANIFEST_BYTES = 16 << 20
_UNPACK_PREFIX = ".unpack-"


def _unpack(zip_path: Path, target: Path) -> Path:
    """Unpack ``zip_path`` into the cache folder ``target`` unless it is there; return the bundle folder.

    Only the manifest and the files it lists are unpacked, after the manifest passed its schema
    check and every listed member was found with the size the manifest gives, within
    MAX_UNPACKED_BYTES in all and the free space of the cache. The work happens in a temporary
    folder renamed into place, removed on any failure; those of killed runs are removed first.
    """
    if not target.is_dir():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove_dead_unpacks(target.parent)
            work = Path(tempfile.mkdtemp(prefix=f"{_UNPACK_PREFIX}{os.getpid()}-", dir=target.parent))
        except OSError as err:
            raise BundleError(f"{zip_path}: cannot unpack into {target.parent} ({err.strerror}); "
                              "set RAWDENOISE_CACHE to a writable folder") from None
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in _members_to_unpack(archive, zip_path, target.parent):
                    _extract_member(archive, member, work, zip_path)
            try:
                os.replace(work, target)
            except OSError:
                if not target.is_dir():  # another process did not just unpack the same archive
                    raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise BundleError(f"{zip_path}: damaged or unsupported zip archive ({err}); re-download or re-export "
                              "the bundle") from None
        except OSError as err:
            raise BundleError(f"{zip_path}: cannot unpack into {target.parent} ({err.strerror or err}); free space "
                              "or set RAWDENOISE_CACHE to another folder") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if (target / MANIFEST).is_file():
        return target
    inner = [p for p in target.iterdir() if (p / MANIFEST).is_file()]
    if len(inner) == 1:  # a zip of the bundle folder itself rather than of its contents
        return inner[0]
    raise BundleError(f"{zip_path}: no {MANIFEST} at the top of the archive (or in a single top folder)")


def _members_to_unpack(archive: zipfile.ZipFile, zip_path: Path, cache: Path) -> list[zipfile.ZipInfo]:
    """The manifest member and the members it lists, checked before a byte is written."""
    members = archive.infolist()
    if any(m.flag_bits & 0x1 for m in members):
        raise BundleError(f"{zip_path}: the archive is encrypted; bundles are plain zip files, re-export it with "
                          "'denoise export ... --zip'")
    for member in members:  # a hostile name anywhere is reason enough to distrust the whole archive
        _check_member_name(member, zip_path)
    by_name = {m.filename: m for m in members}
    tops = {m.filename.split("/", 1)[0] + "/" for m in members if m.filename.endswith("/" + MANIFEST)
            and m.filename.count("/") == 1}
    prefix = "" if MANIFEST in by_name else (tops.pop() if len(tops) == 1 else None)
    if prefix is None:
        raise BundleError(f"{zip_path}: no {MANIFEST} at the top of the archive (or in a single top folder)")
    manifest_member = by_name[prefix + MANIFEST]
    if manifest_member.file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{zip_path}: its {MANIFEST} claims {manifest_member.file_size} bytes; refusing it")
    try:
        manifest = json.loads(archive.read(manifest_member).decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BundleError(f"{zip_path}: {MANIFEST} is not UTF-8 text; re-export the bundle") from None
    except json.JSONDecodeError as err:
        raise BundleError(f"{zip_path}: {MANIFEST} is not valid JSON (line {err.lineno}: {err.msg}); "
                          "re-export the bundle") from None
    check_manifest(manifest, zip_path)
    chosen, total = [manifest_member], manifest_member.file_size
    for rel, info in manifest["files"].items():
        member = by_name.get(prefix + rel)
        if member is None or member.is_dir():
            raise BundleError(f"{zip_path}: file {rel!r} listed in {MANIFEST} is not in the archive; the bundle is "
                              "incomplete, re-download or re-export it")
        if member.file_size != info["bytes"]:
            raise BundleError(f"{zip_path}: member {rel!r} has {member.file_size} bytes but {MANIFEST} says "
                              f"{info['bytes']}; re-download or re-export the bundle")
        chosen.append(member)
        total += member.file_size
    if total > MAX_UNPACKED_BYTES:
        raise BundleError(f"{zip_path}: would unpack {total} bytes, more than the {MAX_UNPACKED_BYTES} a bundle may "
                          "hold; refusing it")
    free = shutil.disk_usage(cache).free
    if total > free:
        raise BundleError(f"{zip_path}: needs {total} bytes in {cache} but only {free} are free; free space or set "
                          "RAWDENOISE_CACHE to another folder")
    return chosen


def _remove_dead_unpacks(cache: Path) -> None:
    """Delete unpack folders left in ``cache`` by processes that were killed mid-unpack."""
    for folder in cache.glob(f"{_UNPACK_PREFIX}*"):
        pid = folder.name[len(_UNPACK_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not process_running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _check_member_name(member: zipfile.ZipInfo, zip_path: Path) -> None:
    name = member.filename
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleError(f"{zip_path}: refusing symlink member {name!r}; a bundle holds plain files only")
    if not safe_relative_path(name.rstrip("/")):
        raise BundleError(f"{zip_path}: refusing member {name!r} that would unpack outside the bundle folder")


def _extract_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, root: Path, zip_path: Path) -> None:
    name = member.filename
    _check_member_name(member, zip_path)
    dest = (root / name).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise BundleError(f"{zip_path}: refusing member {name!r} that would unpack outside the bundle folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with archive.open(member) as src, open(dest, "xb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                written += len(chunk)
                if written > member.file_size:
                    raise BundleError(f"{zip_path}: member {name!r} unpacks to more than the {member.file_size} "
                                      "bytes it declares; refusing it")
                dst.write(chunk)
    except FileExistsError:
        raise BundleError(f"{zip_path}: member {name!r} appears twice in the archive; refusing it") from None


def _read_manifest(root: Path, source: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{source}: no {MANIFEST}; not a rawdenoise bundle")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BundleError(f"{source}: {MANIFEST} is not UTF-8 text; re-export the bundle") from None
    except json.JSONDecodeError as err:
        raise BundleError(f"{source}: {MANIFEST} is not valid JSON (line {err.lineno}: {err.msg}); "
                          "re-export the bundle") from None
    return manifest


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: refuse them as the Android core's strict reader does."""
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def _verify_files(root: Path, listed: dict[str, Any], source: Path) -> None:
    for rel, info in listed.items():  # paths and entries were checked by check_manifest
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
