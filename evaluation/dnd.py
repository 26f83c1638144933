"""Darmstadt Noise Dataset (DND) raw track: read the benchmark's files, write a submission.

Input (MATLAB v7.3 = HDF5, read with h5py; every array comes back transposed):
``info.mat`` holds the struct array ``info`` whose fields are rows of object references —
``boundingboxes`` (20×4, rows ``[r1, c1, r2, c2]``, 1-based and inclusive), ``nlf`` (struct with
scalars ``a``, ``b``: Var = a·x + b) and ``camera`` (struct whose 2×2 ``pattern`` holds CFA codes
1=R, 2=G, 3=B); ``images_raw/%04d.mat`` holds the full noisy mosaic ``Inoisy`` in [0, 1].

Output: one ``%04d_%02d.mat`` per crop with ``Idenoised_crop`` (float32, crop size, the crop's
original CFA layout, clipped to [0, 1]), then ``bundled/%04d.mat`` per image with ``Idenoised``
(a 1×20 cell), ``israw`` = true and ``eval_version`` = "1.0" — the folder to upload.

Each crop is brought to RGGB (its own phase: the image pattern shifted by the crop's offset),
packed, denoised jointly with the image's (a, b), and restored exactly. A run is restartable:
crops already written are kept, and ``dnd_run.json`` records the method so a restart with another
method is refused instead of mixing two methods in one submission.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from denoise.atomic import atomic_output
from denoise.cfa import pack_rggb, pattern_from_codes, to_rggb, unpack_rggb
from denoise.noise import NoiseProfile
from .methods import Method
from .results import read_json, write_json

CROPS_PER_IMAGE = 20
EVAL_VERSION = "1.0"
RUN_FILE = "dnd_run.json"


class DNDError(ValueError):
    """A DND folder that does not have the benchmark's layout, or an output folder from another run."""


@dataclass(frozen=True)
class DndImage:
    """What the submission needs of one benchmark image (``number`` is 1-based, as in the file names)."""

    number: int
    boxes: np.ndarray        # (20, 4) int: 0-based [row0, col0, row1, col1), end exclusive
    a: float
    b: float
    pattern_codes: np.ndarray  # (2, 2) CFA codes at the image's top-left, 0=R 1=G 2=B

    def crop_pattern(self, k: int) -> str:
        """Bayer pattern name at crop ``k``'s top-left (the image pattern shifted by the crop offset)."""
        r0, c0 = int(self.boxes[k, 0]), int(self.boxes[k, 1])
        codes = np.roll(self.pattern_codes, shift=(-(r0 % 2), -(c0 % 2)), axis=(0, 1))
        return pattern_from_codes(codes, "RGB")

    @property
    def profile(self) -> NoiseProfile:
        return NoiseProfile.uniform(self.a, self.b, source="dnd")


def _open_h5(path: Path):
    import h5py

    if not path.is_file():
        raise DNDError(f"{path}: missing; point --data at the DND folder holding info.mat and images_raw/")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DNDError(f"{path}: not a MATLAB v7.3 (HDF5) file ({err}); re-download the DND data") from None


def _scalar(node) -> float:
    return float(np.asarray(node).reshape(-1)[0])


def read_dnd_info(data_dir: str | os.PathLike) -> list[DndImage]:
    """Bounding boxes, noise level and CFA pattern of every image listed in ``info.mat``."""
    path = Path(data_dir) / "info.mat"
    with _open_h5(path) as f:
        try:
            info = f["info"]
            box_refs, nlf_refs, cam_refs = (np.asarray(info[k]).reshape(-1) for k in ("boundingboxes", "nlf", "camera"))
            images = []
            for i, (box_ref, nlf_ref, cam_ref) in enumerate(zip(box_refs, nlf_refs, cam_refs)):
                boxes = np.asarray(f[box_ref]).T                                  # (20, 4) 1-based inclusive
                nlf, camera = f[nlf_ref], f[cam_ref]
                codes = np.asarray(camera["pattern"]).T.astype(int) - 1          # MATLAB 1=R 2=G 3=B
                if boxes.shape != (CROPS_PER_IMAGE, 4):
                    raise DNDError(f"{path}: image {i + 1} has bounding boxes of shape {boxes.shape}, "
                                   f"expected ({CROPS_PER_IMAGE}, 4)")
                zero_based = boxes.astype(np.int64) - np.array([1, 1, 0, 0])
                images.append(DndImage(i + 1, zero_based, _scalar(nlf["a"]), _scalar(nlf["b"]), codes))
        except KeyError as err:
            raise DNDError(f"{path}: missing DND field {err}; this is not the DND info.mat") from None
    return images


def read_noisy(data_dir: str | os.PathLike, number: int) -> np.ndarray:
    """The full noisy mosaic of image ``number`` (1-based) as float32, in MATLAB's row/column order."""
    path = Path(data_dir) / "images_raw" / f"{number:04d}.mat"
    with _open_h5(path) as f:
        if "Inoisy" not in f:
            raise DNDError(f"{path}: no 'Inoisy' array; this is not a DND raw image file")
        return np.asarray(f["Inoisy"], dtype=np.float32).T


def denoise_crop(method: Method, crop: np.ndarray, pattern: str, profile: NoiseProfile) -> np.ndarray:
    """Denoise one crop of any Bayer phase and size; returns float32 in the crop's layout, in [0, 1]."""
    rggb, canonical = to_rggb(crop, pattern)
    planes = method(np.ascontiguousarray(pack_rggb(rggb)), profile)
    return np.clip(canonical.to_original(unpack_rggb(planes)), 0.0, 1.0).astype(np.float32)


def _savemat(path: Path, variables: dict) -> None:
    from scipy.io import savemat

    with atomic_output(path) as tmp:
        savemat(str(tmp), variables, appendmat=False)


def _claim_out_dir(out_dir: Path, method: Method) -> None:
    """Record the method in ``out_dir``; refuse a folder that holds another method's crops."""
    run_file = out_dir / RUN_FILE
    if run_file.exists():
        previous = read_json(run_file).get("method")
        if previous != method.name:
            raise DNDError(f"{out_dir}: holds crops denoised with {previous!r}, not {method.name!r}; "
                           "use a new --out folder or the same method to resume")
        return
    write_json(run_file, {"kind": "dnd-run", "method": method.name})


def crop_path(out_dir: Path, number: int, k: int) -> Path:
    return out_dir / f"{number:04d}_{k + 1:02d}.mat"


def iter_pending(images: list[DndImage], out_dir: Path) -> Iterator[tuple[DndImage, list[int]]]:
    """Images with crops still to write, and which crops (0-based)."""
    for image in images:
        todo = [k for k in range(CROPS_PER_IMAGE) if not crop_path(out_dir, image.number, k).exists()]
        if todo:
            yield image, todo


def bundle_submission(out_dir: str | os.PathLike, numbers: list[int]) -> Path:
    """Write ``bundled/%04d.mat`` for every image from its 20 crop files; returns the folder."""
    from scipy.io import loadmat

    out_dir = Path(out_dir)
    bundled = out_dir / "bundled"
    bundled.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        crops = np.empty(CROPS_PER_IMAGE, dtype=object)   # filled one by one: a (20,) cell, never a 3-D array
        for k in range(CROPS_PER_IMAGE):
            path = crop_path(out_dir, number, k)
            if not path.exists():
                raise DNDError(f"{path}: crop missing; run 'denoise eval dnd' again to finish the submission")
            crops[k] = loadmat(str(path))["Idenoised_crop"]
        _savemat(bundled / f"{number:04d}.mat", {"Idenoised": crops, "israw": True, "eval_version": EVAL_VERSION})
    return bundled


def run_dnd(data_dir: str | os.PathLike, out_dir: str | os.PathLike, method: Method, progress: bool = True) -> Path:
    """Denoise every DND crop with ``method`` and bundle the submission; returns ``out_dir/bundled``."""
    from tqdm import tqdm

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    images = read_dnd_info(data_dir)
    if not images:
        raise DNDError(f"{data_dir / 'info.mat'}: lists no images")
    out_dir.mkdir(parents=True, exist_ok=True)
    _claim_out_dir(out_dir, method)
    pending = list(iter_pending(images, out_dir))
    bar = tqdm(total=sum(len(todo) for _, todo in pending), desc=f"DND {method.name}", unit="crop",
               disable=not progress)
    for image, todo in pending:
        noisy = read_noisy(data_dir, image.number)
        for k in todo:
            r0, c0, r1, c1 = (int(v) for v in image.boxes[k])
            if not (0 <= r0 < r1 <= noisy.shape[0] and 0 <= c0 < c1 <= noisy.shape[1]):
                raise DNDError(f"{data_dir / 'info.mat'}: box {k + 1} of image {image.number} lies outside its "
                               f"{noisy.shape[0]}x{noisy.shape[1]} mosaic")
            out = denoise_crop(method, noisy[r0:r1, c0:c1], image.crop_pattern(k), image.profile)
            _savemat(crop_path(out_dir, image.number, k), {"Idenoised_crop": out})
            bar.update()
    bar.close()
    return bundle_submission(out_dir, [image.number for image in images])
