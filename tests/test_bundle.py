"""Bundles: export → zip → load → run equals torch; the manifest contract; every refusal."""
from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from export_helpers import tiny_checkpoint, tiny_model

from denoise.backends import TorchRunner
from denoise.bundle import BundleError, load_bundle, sha256_file
from denoise.models import load_checkpoint, save_checkpoint
from denoise.noise import NoiseProfile
from denoise.tiling import denoise_planes
from export import ExportError
from export.bundle import ExportOptions, sources_from_inputs, write_bundle
from export.calibration import noisy_crops

BOUNDARY = 2e-3
FAST = dict(calibration_crops=2, quality_crops=1, crop_size=32, tile=64, overlap=16)


def _specialists_run(root: Path) -> Path:
    """A run directory shaped like training/specialists.py writes it."""
    run = root / "run"
    cores = [(1e-4, BOUNDARY), (BOUNDARY, 2e-2)]
    trains = [(1e-4, 2.6e-3), (1.5e-3, 2e-2)]
    entries = []
    for k, (core, train) in enumerate(zip(cores, trains)):
        (run / f"s{k}").mkdir(parents=True)
        tiny_checkpoint(run / f"s{k}" / "best.pt", seed=10 + k, a_range=train, core_range=core)
        entries.append({"name": f"s{k}", "checkpoint": f"s{k}/best.pt", "a_range": list(train),
                        "core_range": list(core), "val_psnr": 40.0 + k, "generalist_val_psnr": 39.5 + k})
    (run / "specialists.json").write_text(json.dumps(
        {"generalist": "g.pt", "rule": "mean_a_boundaries", "boundaries": [BOUNDARY], "specialists": entries}))
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    run = _specialists_run(root)
    sources, boundaries = sources_from_inputs([run])
    write_bundle(sources, boundaries, root / "phone", ExportOptions(formats=("onnx",), **FAST), make_zip=True)
    return run, root / "phone", root / "phone.zip"


@pytest.fixture
def copy_of(built, tmp_path):
    def make() -> Path:
        return Path(shutil.copytree(built[1], tmp_path / "copy"))
    return make


def _one_line_naming(err: BundleError, path: Path) -> str:
    message = str(err)
    assert "\n" not in message and str(path) in message
    return message


def test_round_trip_zip_load_run_equals_torch(built, tmp_path):
    run, _, zipped = built
    bundle = load_bundle(zipped, cache_dir=tmp_path / "cache")
    crop = noisy_crops((1e-3, 1e-3), 1, 61, seed=5)[0]
    planes = np.ascontiguousarray(crop.noisy[:, :61, :45])  # odd sizes: padded and cropped by the runtime
    for k, a in enumerate((5e-4, 8e-3)):
        profile = NoiseProfile.uniform(a, 1e-6, "metadata")
        runner, spec = bundle.runner_for(profile, backend="onnx", device="cpu")
        assert spec.name == f"s{k}" and spec.index == k
        direct = TorchRunner(load_checkpoint(run / f"s{k}" / "best.pt"), "cpu")
        ref = denoise_planes(direct, planes, profile.as_vector(), tile=32, overlap=8)
        out = denoise_planes(runner, planes, profile.as_vector(), tile=32, overlap=8)
        print(f"bundle {spec.name} (onnx, from zip) vs direct torch: max abs {np.abs(out - ref).max():.3g}")
        assert np.abs(out - ref).max() <= 1e-4
        torch_runner, _ = bundle.runner_for(profile, backend="torch", device="cpu")
        assert np.abs(denoise_planes(torch_runner, planes, profile.as_vector(), tile=32, overlap=8) - ref).max() <= 1e-6
    with pytest.raises(BundleError, match="has no 'int8' model"):
        bundle.runner_for(NoiseProfile.uniform(1e-3, 1e-6), backend="int8")


def test_manifest_states_the_contract_and_lists_every_file(built):
    _, folder, _ = built
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["schema"], manifest["schema_version"]) == ("rawdenoise-bundle", 1)
    assert manifest["sdk_version"]
    io = manifest["io"]
    assert [i["name"] for i in io["inputs"]] == ["noisy", "noise"] and io["outputs"][0]["name"] == "denoised"
    assert {i["dtype"] for i in io["inputs"]} == {"float32"}
    assert io["cfa"] == "canonical RGGB; other phases padded by one row/col"
    assert (io["stride"], io["tile"], io["overlap"]) == (2, 64, 16)
    assert "black" in io["normalization"]
    sel = manifest["selection"]
    assert (sel["rule"], sel["rule_version"], sel["boundaries"]) == ("mean_a_boundaries", 1, [BOUNDARY])
    assert "a_R" in sel["noise_level"]
    s0, s1 = manifest["specialists"]
    assert (s0["core_range"], s1["core_range"]) == ([1e-4, BOUNDARY], [BOUNDARY, 2e-2])
    assert s0["a_range"] == [1e-4, 2.6e-3] and s0["validation"]["val_psnr"] == 40.0
    assert s0["files"] == {"torch": "s0.pt", "onnx": "s0.onnx"}
    assert s0["quality"]["onnx"]["max_abs"] <= 1e-4 and len(s0["parity"]["onnx"]) == 3
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == [p for p in on_disk if p != "manifest.json"]
    for rel, info in manifest["files"].items():
        assert info == {"sha256": sha256_file(folder / rel), "bytes": (folder / rel).stat().st_size}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_describe_for_info_json(built):
    info = load_bundle(built[1]).describe()
    assert info["selection"]["boundaries"] == [BOUNDARY] and info["stride"] == 2
    assert [s["name"] for s in info["specialists"]] == ["s0", "s1"]
    assert info["formats"] == ["onnx", "torch"]
    json.dumps(info)


def test_corrupt_manifest_json_is_refused(copy_of):
    folder = copy_of()
    (folder / "manifest.json").write_text('{"schema": "rawdenoise-bundle", ')
    with pytest.raises(BundleError) as err:
        load_bundle(folder)
    assert "not valid JSON" in _one_line_naming(err.value, folder)


def test_unknown_schema_version_is_refused(copy_of):
    folder = copy_of()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as err:
        load_bundle(folder)
    assert "schema version 2 is not supported" in _one_line_naming(err.value, folder)


def test_tampered_file_fails_its_checksum(copy_of):
    folder = copy_of()
    data = bytearray((folder / "s1.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit changed
    (folder / "s1.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError) as err:
        load_bundle(folder)
    assert "'s1.onnx' fails its SHA-256 check" in _one_line_naming(err.value, folder)


def test_missing_file_is_refused(copy_of):
    folder = copy_of()
    (folder / "s0.pt").unlink()
    with pytest.raises(BundleError) as err:
        load_bundle(folder)
    assert "missing file 's0.pt'" in _one_line_naming(err.value, folder)


def test_inconsistent_selector_is_refused(copy_of):
    folder = copy_of()
    manifest = json.loads((folder / "manifest.json").read_text())
    for boundaries, expected in (([], "2 specialists but 0 boundaries"), ([3e-3], "does not separate"),
                                 ([1e-3, 5e-4], "not strictly ascending")):
        manifest["selection"]["boundaries"] = boundaries
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match=expected):
            load_bundle(folder)


def _zip_with(path: Path, folder: Path, extra: zipfile.ZipInfo, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                archive.write(f, f.relative_to(folder).as_posix())
        archive.writestr(extra, payload)
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/rawdenoise-evil.txt", "s0/../../evil.txt"])
def test_zip_slip_members_are_refused(built, tmp_path, member):
    bad = _zip_with(tmp_path / "bad.zip", built[1], zipfile.ZipInfo(member), b"pwned")
    with pytest.raises(BundleError) as err:
        load_bundle(bad, cache_dir=tmp_path / "cache" / "inner")
    assert "would unpack outside" in _one_line_naming(err.value, bad)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not Path("/tmp/rawdenoise-evil.txt").exists()
    assert not any((tmp_path / "cache" / "inner").glob("bad-*"))  # nothing half-unpacked stays cached


def test_symlink_member_is_refused(built, tmp_path):
    link = zipfile.ZipInfo("escape")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = _zip_with(tmp_path / "link.zip", built[1], link, b"/etc/passwd")
    with pytest.raises(BundleError) as err:
        load_bundle(bad, cache_dir=tmp_path / "cache")
    assert "symlink" in _one_line_naming(err.value, bad)


def test_generalist_run_dir_is_one_specialist_without_boundaries(tmp_path):
    run = tmp_path / "gen"
    run.mkdir()
    tiny_checkpoint(run / "best.pt", seed=3, a_range=(1e-4, 2e-2))
    sources, boundaries = sources_from_inputs([run])
    assert boundaries == [] and len(sources) == 1 and sources[0].core_range == (1e-4, 2e-2)
    manifest = write_bundle(sources, boundaries, tmp_path / "b", ExportOptions(formats=(), **FAST))
    assert manifest["selection"]["boundaries"] == [] and list(manifest["files"]) == ["gen.pt"]
    bundle = load_bundle(tmp_path / "b")
    for a in (1e-6, 1e-3, 1.0):
        assert bundle.select(NoiseProfile.uniform(a, 1e-6)).name == "gen"
    # Writing again replaces the bundle in place, leaving no temporaries beside it.
    write_bundle(sources, boundaries, tmp_path / "b", ExportOptions(formats=(), **FAST))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "gen"]


def test_bad_export_inputs_are_refused(tmp_path):
    plain = tmp_path / "plain.pt"
    save_checkpoint(tiny_model(), plain)  # no a_range in meta
    with pytest.raises(ExportError, match="no a_range"):
        sources_from_inputs([plain])
    a = tiny_checkpoint(tmp_path / "a.pt", 1, (1e-4, 1e-3), core_range=(1e-4, 1e-3))
    b = tiny_checkpoint(tmp_path / "b.pt", 2, (2e-3, 2e-2), core_range=(2e-3, 2e-2))
    with pytest.raises(ExportError, match="do not meet"):
        sources_from_inputs([a, b])
    with pytest.raises(ExportError, match="no specialists.json or best.pt"):
        sources_from_inputs([tmp_path])
    sources, boundaries = sources_from_inputs([a])
    (tmp_path / "taken").write_text("precious")
    with pytest.raises(ExportError, match="exists and is not a bundle"):
        write_bundle(sources, boundaries, tmp_path / "taken", ExportOptions(formats=()))
    assert (tmp_path / "taken").read_text() == "precious"
    with pytest.raises(ExportError, match="unknown format"):
        write_bundle(sources, boundaries, tmp_path / "new", ExportOptions(formats=("tflite",)))
    assert os.path.exists(a) and not (tmp_path / "new").exists()


def test_export_command_writes_a_loadable_bundle(tmp_path, capsys):
    import argparse

    from export.cli import add_export_command

    parser = argparse.ArgumentParser(prog="denoise")
    add_export_command(parser.add_subparsers(dest="command"))
    assert "example:" in parser._subparsers._group_actions[0].choices["export"].format_help()
    tiny_checkpoint(tmp_path / "g.pt", seed=4, a_range=(1e-4, 2e-2))
    args = parser.parse_args(["export", str(tmp_path / "g.pt"), "-o", str(tmp_path / "out"), "--formats", "",
                              "--zip", "--tile", "64", "--overlap", "16"])
    assert args.func(args) == 0
    assert "1 specialist(s)" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "out.zip", cache_dir=tmp_path / "cache")
    assert [s.name for s in bundle.specialists] == ["g"] and bundle.io["tile"] == 64


def test_zip_cache_is_checked_and_refreshed(built, tmp_path):
    _, folder, zipped = built
    first = load_bundle(zipped, cache_dir=tmp_path / "cache")
    (first.path / "s0.pt").write_bytes(b"altered in the cache")
    again = load_bundle(zipped, cache_dir=tmp_path / "cache")  # verified, found altered, unpacked afresh
    assert sha256_file(again.path / "s0.pt") == sha256_file(folder / "s0.pt")
    bad = tmp_path / "tampered.zip"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:-1] + bytes([data[-1] ^ 1]) if info.filename == "s1.onnx" else data)
    with pytest.raises(BundleError) as err:
        load_bundle(bad, cache_dir=tmp_path / "cache")
    assert "'s1.onnx' fails its SHA-256 check" in _one_line_naming(err.value, bad)
