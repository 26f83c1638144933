"""Zipped bundles: only what the manifest lists is unpacked, sizes and a cap are checked before a
byte is written, and a refused or interrupted unpack leaves nothing in the cache."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from denoise import bundle as bundle_module
from denoise.bundle import BundleError, default_bundle_path, load_bundle


def _zip(path: Path, folder: Path, replace: dict[str, bytes] | None = None,
         extra: dict[str, bytes] | None = None) -> Path:
    """``folder`` zipped as a bundle, some members' contents replaced, extra members added."""
    replace = replace or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in sorted(folder.iterdir()):
            archive.writestr(f.name, replace.get(f.name, f.read_bytes()))
        for name, payload in (extra or {}).items():
            archive.writestr(name, payload)
    return path


@pytest.fixture(scope="module")
def shipped() -> Path:
    return default_bundle_path()


@pytest.fixture(scope="module")
def listed(shipped) -> dict[str, dict]:
    return json.loads((shipped / "manifest.json").read_text())["files"]


def _refused(zip_path: Path, cache: Path, match: str) -> None:
    with pytest.raises(BundleError, match=match) as info:
        load_bundle(zip_path, cache_dir=cache)
    message = str(info.value)
    assert "\n" not in message and str(zip_path) in message
    assert not cache.exists() or not any(cache.iterdir()), "a refused archive left files in the cache"


def test_only_the_members_the_manifest_lists_are_unpacked(shipped, listed, tmp_path):
    # 64 MiB of zeros compress to 64 KiB: a small archive that would fill the cache.
    archive = _zip(tmp_path / "b.zip", shipped, extra={"junk.bin": bytes(64 << 20), "docs/readme.txt": b"hello"})
    assert archive.stat().st_size < 16 << 20
    loaded = load_bundle(archive, cache_dir=tmp_path / "cache")
    unpacked = sorted(p.relative_to(loaded.path).as_posix() for p in loaded.path.rglob("*") if p.is_file())
    assert unpacked == sorted([*listed, "manifest.json"])


def test_a_member_whose_size_differs_from_the_manifest_is_refused_before_unpacking(shipped, listed, tmp_path):
    name = next(iter(listed))
    archive = _zip(tmp_path / "b.zip", shipped, replace={name: bytes(listed[name]["bytes"] + 1)})
    _refused(archive, tmp_path / "cache", f"member '{name}' has {listed[name]['bytes'] + 1} bytes")


def test_an_archive_over_the_cap_is_refused_before_unpacking(shipped, tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_module, "MAX_UNPACKED_BYTES", 1 << 20)
    _refused(_zip(tmp_path / "b.zip", shipped), tmp_path / "cache", "more than the 1048576 a bundle may hold")


def test_a_bundle_that_fails_verification_does_not_stay_cached(shipped, listed, tmp_path):
    name = next(iter(listed))
    damaged = bytearray((shipped / name).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # same size, other content
    _refused(_zip(tmp_path / "b.zip", shipped, replace={name: bytes(damaged)}), tmp_path / "cache", "SHA-256")


def test_an_encrypted_archive_is_refused_naming_the_bundle(shipped, tmp_path):
    archive = _zip(tmp_path / "b.zip", shipped)
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" bit of every member's flags, in its local header and its central record.
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flags_at] |= 0x1
            at = data.find(signature, at + 4)
    archive.write_bytes(bytes(data))
    _refused(archive, tmp_path / "cache", "encrypted")


def test_a_manifest_missing_from_the_archive_is_refused(shipped, tmp_path):
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("s0.onnx", (shipped / "s0.onnx").read_bytes())
    _refused(archive, tmp_path / "cache", "no manifest.json")


def test_unpack_folders_of_killed_runs_are_removed(shipped, tmp_path):
    cache = tmp_path / "cache"
    dead = cache / ".unpack-999999999-x1"  # beyond any process id: that run is gone
    alive = cache / f".unpack-{os.getpid()}-x2"
    for folder in (dead, alive):
        folder.mkdir(parents=True)
        (folder / "s0.onnx").write_bytes(b"half")
    load_bundle(_zip(tmp_path / "b.zip", shipped), cache_dir=cache)
    assert not dead.exists() and alive.exists()
