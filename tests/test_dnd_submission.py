"""A DND submission read from and written in the benchmark's exact layout.

The fake DND folder is written the way MATLAB v7.3 writes it: HDF5 behind a 512-byte MAT header,
every array stored transposed (column-major), the ``info`` struct array as rows of object
references into ``#refs#``, boxes 1-based and inclusive, and a GRBG camera whose 2×2 ``pattern``
is stored transposed (so reading it untransposed would wrongly give GBRG).
"""
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import loadmat, whosmat

from evaluation.dnd import DNDError, read_dnd_info, run_dnd
from evaluation.methods import Method, identity_method

CODES = {"R": 1, "G": 2, "B": 3}
# (pattern at the image's top-left, height, width, (a, b))
IMAGES = [("GRBG", 30, 38, (2e-3, 3e-6)), ("BGGR", 26, 28, (8e-3, 4e-5))]


def _boxes(h: int, w: int, seed: int) -> np.ndarray:
    """20 boxes (0-based, end exclusive) at even and odd offsets with even and odd sizes."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(20):
        bh, bw = 6 + k % 3, 8 + (k // 3) % 2
        r0, c0 = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        r0, c0 = r0 - r0 % 2 + (k % 2), c0 - c0 % 2 + (k // 2) % 2   # cycle through all four phases
        out.append((r0, c0, r0 + bh, c0 + bw))
    return np.array(out)


def _mat_class(obj, name: str) -> None:
    obj.attrs["MATLAB_class"] = np.bytes_(name)


def _matlab_array(group, name: str, array: np.ndarray):
    """Store a MATLAB double array the way v7.3 does: transposed."""
    ds = group.create_dataset(name, data=np.asarray(array, dtype=np.float64).T)
    _mat_class(ds, "double")
    return ds


def _v73_file(path: Path) -> h5py.File:
    return h5py.File(path, "w", userblock_size=512)


def _write_mat_header(path: Path) -> None:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(header)


def make_fake_dnd(root: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    (root / "images_raw").mkdir(parents=True)
    truth = []
    for i, (pattern, h, w, (a, b)) in enumerate(IMAGES):
        noisy = rng.uniform(0.0, 1.0, size=(h, w)).astype(np.float32)
        boxes = _boxes(h, w, seed=i)
        truth.append({"pattern": pattern, "noisy": noisy, "boxes": boxes, "a": a, "b": b})
        path = root / "images_raw" / f"{i + 1:04d}.mat"
        with _v73_file(path) as f:
            _matlab_array(f, "Inoisy", noisy)
        _write_mat_header(path)

    path = root / "info.mat"
    with _v73_file(path) as f:
        refs = f.create_group("#refs#")
        info = f.create_group("info")
        _mat_class(info, "struct")
        fields = {name: np.empty((1, len(IMAGES)), dtype=h5py.ref_dtype)   # a 50x1 struct array
                  for name in ("boundingboxes", "nlf", "camera", "sigma_raw")}
        for i, t in enumerate(truth):
            one_based = t["boxes"] + np.array([1, 1, 0, 0])                  # [r1 c1 r2 c2], inclusive
            fields["boundingboxes"][0, i] = _matlab_array(refs, f"bb{i}", one_based).ref
            nlf = refs.create_group(f"nlf{i}")
            _mat_class(nlf, "struct")
            _matlab_array(nlf, "a", [[t["a"]]])
            _matlab_array(nlf, "b", [[t["b"]]])
            fields["nlf"][0, i] = nlf.ref
            cam = refs.create_group(f"cam{i}")
            _mat_class(cam, "struct")
            p = t["pattern"]
            _matlab_array(cam, "pattern", [[CODES[p[0]], CODES[p[1]]], [CODES[p[2]], CODES[p[3]]]])
            _matlab_array(cam, "ColorMatrix2", np.eye(3))
            _matlab_array(cam, "AsShotNeutral", [[0.5], [1.0], [0.6]])
            fields["camera"][0, i] = cam.ref
            fields["sigma_raw"][0, i] = _matlab_array(refs, f"sr{i}", np.full((20, 4), 0.01)).ref
        for name, refs_row in fields.items():
            ds = info.create_dataset(name, data=refs_row)
            _mat_class(ds, "cell")
    _write_mat_header(path)
    return truth


def _colour_map(pattern: str, h: int, w: int) -> np.ndarray:
    """Per-pixel plane value the colour probe must produce: R 0.1, G on R rows 0.2, G on B rows 0.3, B 0.4."""
    tile = np.array(list(pattern)).reshape(2, 2)
    letters = np.tile(tile, (h // 2 + 1, w // 2 + 1))[:h, :w]
    red_row = (letters == "R").any(axis=1)
    out = np.where(letters == "R", 0.1, np.where(letters == "B", 0.4, 0.0))
    out[(letters == "G") & red_row[:, None]] = 0.2
    out[(letters == "G") & ~red_row[:, None]] = 0.3
    return out.astype(np.float32)


def colour_probe(seen: list) -> Method:
    def run(planes, profile):
        seen.append(profile)
        return np.broadcast_to(np.array([0.1, 0.2, 0.3, 0.4], np.float32)[:, None, None], planes.shape).copy()
    return Method("probe", run)


def test_reader_transposes_arrays_and_pattern(tmp_path):
    truth = make_fake_dnd(tmp_path / "dnd")
    images = read_dnd_info(tmp_path / "dnd")
    assert [im.number for im in images] == [1, 2]
    for im, t in zip(images, truth):
        np.testing.assert_array_equal(im.boxes, t["boxes"])
        assert (im.a, im.b) == (t["a"], t["b"])
        assert im.crop_pattern(0) == t["pattern"]  # box 0 sits at an even offset


def test_identity_submission_has_dnd_layout_and_reproduces_crops(tmp_path):
    truth = make_fake_dnd(tmp_path / "dnd")
    bundled = run_dnd(tmp_path / "dnd", tmp_path / "out", identity_method(), progress=False)
    assert sorted(p.name for p in bundled.iterdir()) == ["0001.mat", "0002.mat"]
    for i, t in enumerate(truth):
        for k, (r0, c0, r1, c1) in enumerate(t["boxes"]):
            crop_file = tmp_path / "out" / f"{i + 1:04d}_{k + 1:02d}.mat"
            assert [v[0] for v in whosmat(crop_file)] == ["Idenoised_crop"]
            crop = loadmat(crop_file)["Idenoised_crop"]
            assert crop.dtype == np.float32
            np.testing.assert_array_equal(crop, t["noisy"][r0:r1, c0:c1])
        bundle = bundled / f"{i + 1:04d}.mat"
        assert {name: cls for name, _shape, cls in whosmat(bundle)} == {
            "Idenoised": "cell", "israw": "logical", "eval_version": "char"}
        data = loadmat(bundle)
        assert data["Idenoised"].dtype == object and data["Idenoised"].shape == (1, 20)
        assert bool(data["israw"].item()) is True
        assert data["eval_version"].item() == "1.0"
        for k, (r0, c0, r1, c1) in enumerate(t["boxes"]):
            np.testing.assert_array_equal(data["Idenoised"][0, k], t["noisy"][r0:r1, c0:c1])
            assert data["Idenoised"][0, k].dtype == np.float32


def test_every_crop_phase_is_packed_with_the_true_cfa_colours(tmp_path):
    truth = make_fake_dnd(tmp_path / "dnd")
    seen: list = []
    run_dnd(tmp_path / "dnd", tmp_path / "out", colour_probe(seen), progress=False)
    assert len(seen) == 40
    assert all(p.source == "dnd" for p in seen)
    assert {(p.a[0], p.b[0]) for p in seen} == {(t["a"], t["b"]) for t in truth}
    phases = set()
    for i, t in enumerate(truth):
        h, w = t["noisy"].shape
        expected = _colour_map(t["pattern"], h, w)
        for k, (r0, c0, r1, c1) in enumerate(t["boxes"]):
            phases.add((r0 % 2, c0 % 2))
            crop = loadmat(tmp_path / "out" / f"{i + 1:04d}_{k + 1:02d}.mat")["Idenoised_crop"]
            np.testing.assert_array_equal(crop, expected[r0:r1, c0:c1], err_msg=f"image {i + 1} crop {k + 1}")
    assert phases == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_restart_only_denoises_missing_crops_and_refuses_another_method(tmp_path):
    make_fake_dnd(tmp_path / "dnd")
    out = tmp_path / "out"
    run_dnd(tmp_path / "dnd", out, identity_method(), progress=False)
    (out / "0001_07.mat").unlink()
    (out / "0002_20.mat").unlink()
    before = (out / "0001_01.mat").stat().st_mtime_ns
    calls = []
    counting = Method("noisy", lambda planes, profile: calls.append(1) or planes.copy())
    run_dnd(tmp_path / "dnd", out, counting, progress=False)
    assert len(calls) == 2
    assert (out / "0001_01.mat").stat().st_mtime_ns == before
    assert loadmat(out / "bundled" / "0002.mat")["Idenoised"].shape == (1, 20)
    with pytest.raises(DNDError, match="use a new --out folder"):
        run_dnd(tmp_path / "dnd", out, colour_probe([]), progress=False)


def test_missing_dnd_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DNDError, match="info.mat.*missing"):
        run_dnd(tmp_path / "nowhere", tmp_path / "out", identity_method(), progress=False)
