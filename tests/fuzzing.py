"""Seeded fuzzing of what reaches the runtime from outside: DNG tag directories and bundle manifests.

Each DNG case changes 1–4 bytes of a valid DNG's tag directory and the whole set goes through one
``denoise run`` batch; each manifest case changes one value of a valid bundle's manifest (another
type, an out-of-range number, a missing key) and loads it. A case is a *clean error* (one line
naming the file or bundle, a refusal the SDK meant), *accepted-equal* (the result equals the
uncorrupted one within a tolerance) or *accepted-different*. An accepted-different DNG must have
decoded to the very pixels of the original: its difference comes from a level the damaged file
now states, never from other bytes decoded as pixels. Anything else is a problem: an exception
that escaped, a surprise error, an input changed, a file of the batch not reported.

    python tests/fuzzing.py                 # 300 DNGs and 200 manifests, seed 0; prints the counts
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import shutil
import struct
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rawpy
import tifffile
from export_helpers import tiny_checkpoint
from rawfiles import bayer_dng, sha256

from denoise.bundle import BundleError, default_bundle_path, load_bundle
from denoise.cli import main
from denoise.noise import NoiseProfile

DNG_TOLERANCE_DN = 1        # outputs are deterministic: an unchanged reading gives the same DN
PLANES_TOLERANCE = 1e-6     # normalized units, for bundle outputs
# Errors the runtime wraps as a surprise (see denoise.pipeline.run_files); none may occur.
SURPRISE = "cannot be processed ("


@dataclass
class Counts:
    """What a fuzz run found; ``problems`` lists every case that broke a promise."""

    cases: int = 0
    clean_errors: int = 0
    accepted_equal: int = 0
    accepted_different: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self, what: str) -> str:
        return (f"{what}: {self.cases} cases, {self.clean_errors} clean errors, {self.accepted_equal} accepted-equal, "
                f"{self.accepted_different} accepted-different, {len(self.problems)} problems")


def _tag_directory(data: bytes) -> tuple[int, int]:
    """Byte range of IFD0's directory (entry count, entries, next-IFD offset) of a little-endian TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, ifd)[0]
    return ifd, ifd + 2 + 12 * entries + 4


def mutated_dngs(base: Path, folder: Path, cases: int, seed: int) -> list[Path]:
    """``cases`` copies of ``base`` with 1–4 random bytes of its tag directory set to random values."""
    rng = np.random.default_rng(seed)
    data = base.read_bytes()
    lo, hi = _tag_directory(data)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(cases):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            buf[int(rng.integers(lo, hi))] = int(rng.integers(0, 256))
        path = folder / f"case{i:04d}.dng"
        path.write_bytes(bytes(buf))
        paths.append(path)
    return paths


def _decoded_pixels(path: Path) -> np.ndarray:
    with rawpy.imread(str(path)) as raw:
        return raw.raw_image_visible.copy()


def fuzz_dngs(work: Path, cases: int = 300, seed: int = 0) -> Counts:
    """One ``denoise run`` batch over ``cases`` damaged DNGs, checked file by file (see the module doc)."""
    counts = Counts(cases=cases)
    (work / "base").mkdir(parents=True)
    model = tiny_checkpoint(work / "tiny.pt", seed=0, a_range=(1e-4, 2e-2))
    base = bayer_dng(work / "base" / "base.dng", (64, 64), noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata"))
    common = ["--model", str(model), "--device", "cpu", "--json", "-q"]
    if _run([str(base), "-o", str(work / "reference"), *common])[0] != 0:
        raise RuntimeError("the uncorrupted DNG does not denoise")
    reference = tifffile.imread(work / "reference" / "base_denoised.dng")
    reference_pixels = _decoded_pixels(base)
    inputs = mutated_dngs(base, work / "in", cases, seed)
    before = {p: sha256(p) for p in inputs}
    code, lines, stderr = _run([str(work / "in"), "-o", str(work / "out"), *common])
    if "Traceback" in stderr or code not in (0, 1):
        counts.problems.append(f"the batch ended with status {code}: {stderr.strip()[-300:]}")
    results = {Path(r["input"]): r for r in lines}
    for path in inputs:
        result = results.get(path)
        if sha256(path) != before[path]:
            counts.problems.append(f"{path.name}: the input was modified")
        if result is None:
            counts.problems.append(f"{path.name}: not reported (the batch stopped early)")
        elif result["error"]:
            error = result["error"]
            if "\n" in error or str(path) not in error or SURPRISE in error:
                counts.problems.append(f"{path.name}: unclear error: {error}")
            else:
                counts.clean_errors += 1
        else:
            out = tifffile.imread(result["output"])
            if out.shape == reference.shape and np.abs(out.astype(np.int64) - reference).max() <= DNG_TOLERANCE_DN:
                counts.accepted_equal += 1
                continue
            counts.accepted_different += 1
            pixels = _decoded_pixels(path)
            if pixels.shape != reference_pixels.shape or not np.array_equal(pixels, reference_pixels):
                counts.problems.append(f"{path.name}: accepted with other pixels than the original's")
    return counts


def _run(args: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    """``denoise run ARGS`` in this process: exit status, its JSON lines, its stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(["run", *args])
        except Exception as exc:  # noqa: BLE001 - an escaped exception is what the fuzz looks for
            code, err = -1, io.StringIO(f"Traceback: {type(exc).__name__}: {exc}")
    return code, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")], err.getvalue()


# Values a damaged or hand-edited manifest may hold where another was expected.
_REPLACEMENTS: list[Any] = [None, -1, 0, 1, 3, 2.5, -1e-3, 1e308, "", "xx", "big", [], [32], [1, 2, 3], {}, True]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a JSON tree (dict keys and list indices)."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found.append(prefix + (key,))
        found += _paths(child, prefix + (key,))
    return found


def mutated_manifest(manifest: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``manifest`` with one value replaced by a value of another kind, or one key removed."""
    out = copy.deepcopy(manifest)
    paths = _paths(out)
    path = paths[int(rng.integers(len(paths)))]
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(_REPLACEMENTS[int(rng.integers(len(_REPLACEMENTS)))])
    return out


def fuzz_manifests(work: Path, cases: int = 200, seed: int = 0) -> Counts:
    """Load ``cases`` copies of the shipped bundle, each with one manifest value changed, and denoise a
    small noisy crop with every one that loads (see the module doc)."""
    counts = Counts(cases=cases)
    folder = Path(shutil.copytree(default_bundle_path(), work / "bundle"))
    original = json.loads((folder / "manifest.json").read_text())
    planes = np.random.default_rng(seed).normal(0.3, 0.05, (4, 32, 32)).astype(np.float32)
    profile = NoiseProfile.uniform(2e-3, 1e-5, "user")

    def denoised(bundle: Any) -> np.ndarray:
        runner, _ = bundle.runner_for(profile, backend="onnx", device="cpu")
        return runner(planes[None], profile.as_vector()[None])[0]

    reference = denoised(load_bundle(folder))
    rng = np.random.default_rng(seed)
    for i in range(cases):
        (folder / "manifest.json").write_text(json.dumps(mutated_manifest(original, rng)))
        try:
            bundle = load_bundle(folder)
            result = denoised(bundle)
        except BundleError as err:
            if "\n" in str(err) or str(folder) not in str(err):
                counts.problems.append(f"case {i}: unclear error: {err}")
            else:
                counts.clean_errors += 1
            continue
        except Exception as err:  # noqa: BLE001 - an escaped exception is what the fuzz looks for
            counts.problems.append(f"case {i}: {type(err).__name__}: {err}")
            continue
        if result.shape == reference.shape and np.abs(result - reference).max() <= PLANES_TOLERANCE:
            counts.accepted_equal += 1
        else:
            counts.accepted_different += 1
    return counts


def main_fuzz(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz the RAW reader and the bundle loader; print the counts.")
    parser.add_argument("--dng-cases", type=int, default=300)
    parser.add_argument("--manifest-cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="folder for the cases (default: a temporary one)")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        results = [("DNG tag directories", fuzz_dngs(work / "dng", args.dng_cases, args.seed)),
                   ("bundle manifests", fuzz_manifests(work / "manifest", args.manifest_cases, args.seed))]
    for what, counts in results:
        print(counts.line(what))
        for problem in counts.problems:
            print(f"  problem: {problem}")
    return 1 if any(c.problems for _, c in results) else 0


if __name__ == "__main__":
    sys.exit(main_fuzz())
