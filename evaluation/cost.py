"""What a model costs on this machine: size, MACs, latency, throughput, end-to-end time and memory.

Measured per backend (torch; ONNX Runtime fp32, INT8 and any other ONNX/ORT files given, at a chosen
thread count and graph optimization level):
one 512×512 Bayer tile through the runner, a 12 MP frame (4000×3000) through the tiled engine,
and a 12 MP DNG end to end (read → noise profile → denoise → write DNG) in a fresh subprocess
whose peak resident memory is the figure reported. Once for all backends: the tiled engine's own
cost (the frame through a model that only copies its input) and the blind noise estimate on the
frame (what runs instead of the file's NoiseProfile when it has none). Every timing is the median
of ``repeats`` after ``warmup`` runs; the backends' tile and frame timings are taken in turns. The
machine's FP32 matmul rate is measured too, as the roofline a model's MACs can be compared against. The target to report against: 12 MP end to end ≤ 1 s on 2 cores.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from denoise.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

from .results import results_header, write_json

TARGET_E2E_S = 1.0
FRAME_12MP = (3000, 4000)
_CHILD = "import sys; from evaluation.cost import e2e_child; e2e_child(sys.argv[1])"


class CostBenchError(ValueError):
    """A cost benchmark that cannot run (missing model files, a frame size that is not Bayer)."""


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, float]:
    """Median wall time of each function, timed in turns (one call of each per round): on a machine
    shared with other work, a busy spell then slows every backend alike instead of whichever ran in it."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + max(repeats, 1)):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def fp32_roofline_gflops(n: int = 1024, warmup: int = 2, repeats: int = 10) -> float:
    """Sustained FP32 GFLOP/s of a large torch matmul: the most a conv net could get here."""
    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    seconds = median_seconds(lambda: torch.mm(a, b), warmup, repeats)
    return 2.0 * n ** 3 / seconds / 1e9


class _CopyRunner:
    """A model that costs nothing but a copy: what a frame then takes is the tiled engine itself."""

    name = "copy"

    def __init__(self, stride: int) -> None:
        self.stride = stride

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return planes.copy()


def _overheads(noisy: np.ndarray, planes: np.ndarray, noise: np.ndarray, stride: int, tile: int, overlap: int,
               warmup: int, repeats: int) -> dict:
    """Median seconds of the tiled engine without a model and of the blind noise estimate (None when
    the frame is too small to estimate from)."""
    from denoise.noise_estimate import NoiseEstimateError, estimate_noise
    from denoise.tiling import denoise_planes

    engine = median_seconds(lambda: denoise_planes(_CopyRunner(stride), planes, noise, tile, overlap), warmup, repeats)
    try:
        estimate: float | None = median_seconds(lambda: estimate_noise(noisy, "RGGB"), warmup, repeats)
    except NoiseEstimateError:
        estimate = None
    return {"engine_s": engine, "estimate_s": estimate}


def _runner(backend: str, path: str, threads: int | None = None, optimization: str | None = None):
    from denoise.backends import OnnxRunner, TorchRunner
    from denoise.models import load_checkpoint

    if backend == "torch":
        return TorchRunner(load_checkpoint(path), "cpu")
    return OnnxRunner(path, name=backend, threads=threads, optimization=optimization)


def _pipeline_model(backend: str, path: str, tile: int, overlap: int, threads: int | None = None,
                    optimization: str | None = None):
    from denoise.pipeline import Model

    runner = _runner(backend, path, threads, optimization)
    return Model(describe=f"{backend}:{path}", runner_for=lambda profile: (runner, backend), tile=tile, overlap=overlap)


def _test_mosaic(shape: tuple[int, int], seed: int = 0):
    """A noisy normalized RGGB mosaic of ``shape`` (a held-out scene, tiled), its camera and noise profile."""
    from denoise.cfa import pack_rggb, unpack_rggb
    from denoise.noise import NoiseProfile
    from training.noise_synthesis import add_noise
    from training.synth import EVAL_SEED_BASE, clean_raw, procedural_scene

    rng = np.random.default_rng(seed)
    base, cam = clean_raw(procedural_scene(512, EVAL_SEED_BASE + seed), rng)
    h, w = shape
    clean = np.tile(base, (-(-h // 512), -(-w // 512)))[:h, :w]
    profile = NoiseProfile.uniform(2e-3, 2e-5, source="metadata")
    noisy = unpack_rggb(add_noise(pack_rggb(clean), profile, rng))
    return noisy, cam, profile


def write_test_dng(path: str | os.PathLike, shape: tuple[int, int] = FRAME_12MP, seed: int = 0) -> Path:
    """A 10-bit RGGB DNG of ``shape`` with ColorMatrix, AsShotNeutral and NoiseProfile, like a phone's."""
    from denoise.dng import write_bayer_dng

    black, white = 64, 1023
    noisy, cam, profile = _test_mosaic(shape, seed)
    dn = np.clip(np.round(noisy * (white - black) + black), 0, white).astype(np.uint16)
    return write_bayer_dng(path, dn, "RGGB", black, white, cam.xyz2cam, cam.as_shot_neutral,
                           noise_profile=profile)


def e2e_child(args_json: str) -> None:
    """Subprocess body: time read → denoise → write DNG; print timings and peak RSS as JSON.

    ``loaded_rss_mb`` is the resident size once libraries and model are loaded, so
    ``peak − loaded`` is what processing the frame costs in memory.
    """
    from denoise.pipeline import denoise_raw, resolve_noise
    from denoise.raw import read_raw
    from denoise.writers import write_output

    args = json.loads(args_json)
    start = time.perf_counter()
    model = _pipeline_model(args["backend"], args["path"], args["tile"], args["overlap"], args["threads"],
                            args["optimization"])
    load_s = time.perf_counter() - start
    loaded_mb = _rss_mb()
    stages: list[tuple[float, float, float]] = []
    out = Path(args["out"])
    for _ in range(args["warmup"] + args["repeats"]):
        t0 = time.perf_counter()
        raw = read_raw(args["dng"])
        t1 = time.perf_counter()
        mosaic, _ = denoise_raw(raw, model, resolve_noise(raw, "auto"))
        t2 = time.perf_counter()
        write_output(raw, mosaic, out, "dng")
        t3 = time.perf_counter()
        stages.append((t1 - t0, t2 - t1, t3 - t2))
    timed = stages[args["warmup"]:]
    totals = [sum(s) for s in timed]
    typical = timed[totals.index(statistics.median_low(totals))]   # the stages of the median run
    print(json.dumps({"median_s": statistics.median(totals), "read_s": typical[0], "denoise_s": typical[1],
                      "write_s": typical[2], "load_s": load_s, "loaded_rss_mb": loaded_mb,
                      "peak_rss_mb": _rss_mb("VmHWM")}))


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now (``VmRSS``) or its high-water mark (``VmHWM``) from Linux /proc.

    Elsewhere both fall back to ``ru_maxrss``. On Linux that is no substitute in a subprocess: it
    starts from the parent's resident size (the kernel carries it across exec), so the child of a
    1.3 GB parent would report 1.3 GB whatever it does itself.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux, bytes on macOS
    return max_rss / (2.0 ** 20 if sys.platform == "darwin" else 1024.0)


def _run_e2e_child(backend: str, path: str, dng: Path, out: Path, tile: int, overlap: int, warmup: int,
                   repeats: int, threads: int | None, optimization: str | None) -> dict:
    args = json.dumps({"backend": backend, "path": str(path), "dng": str(dng), "out": str(out), "tile": tile,
                       "overlap": overlap, "warmup": warmup, "repeats": repeats, "threads": threads,
                       "optimization": optimization})
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"end-to-end benchmark of {backend} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cost_bench(model_path: str | os.PathLike, onnx_fp32: str | os.PathLike | None = None,
                   onnx_int8: str | os.PathLike | None = None,
                   out_json: str | os.PathLike = "benchmarks/results/cost.json",
                   frame: tuple[int, int] = FRAME_12MP, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, warmup: int = 1,
                   repeats: int = 3, e2e: bool = True, progress: bool = True, command: str = "",
                   onnx: Sequence[tuple[str, str]] = (), threads: int | None = None, optimization: str | None = None,
                   torch: bool = True, note: str = "") -> dict:
    """Measure the model (a torch checkpoint, plus its ONNX exports if given); write ``out_json``.

    ``frame`` is (H, W) in Bayer pixels; ``tile``/``overlap`` are the tiled engine's settings in
    packed pixels. ``onnx`` adds (label, file) pairs of other ONNX or ORT files (fp16, ORT format,
    other INT8 layouts); ``threads`` and ``optimization`` set ONNX Runtime's intra-op threads and
    graph optimization level for all of them; ``torch=False`` leaves the torch timing out (the
    checkpoint still gives parameters and MACs); ``note`` is printed under the results table.
    Returns the results dict that is also written.
    """
    from denoise.cfa import pack_rggb
    from denoise.models import count_macs_per_megapixel, count_params, load_checkpoint
    from denoise.tiling import denoise_planes

    h, w = frame
    if h % 2 or w % 2 or h < 4 or w < 4:
        raise CostBenchError(f"frame {h}x{w} must be even-sized Bayer pixels (e.g. 3000x4000)")
    backends = [("torch", str(model_path))] if torch else []
    for name, path in (("onnx-fp32", onnx_fp32), ("onnx-int8", onnx_int8), *onnx):
        if path is not None:
            if not Path(path).is_file():
                raise CostBenchError(f"{path}: no such ONNX file; export the model first or leave out {name}")
            backends.append((name, str(path)))
    if len({name for name, _ in backends}) != len(backends):
        raise CostBenchError(f"backend labels must be unique, got {[name for name, _ in backends]}")
    model = load_checkpoint(model_path)
    say = print if progress else (lambda *a, **k: None)
    say("measuring the FP32 roofline ...")
    data = {**results_header("cost", command),
            "model": {"path": str(model_path), "arch": getattr(model, "arch", ""), "config": model.config,
                      "params": count_params(model), "macs_per_mp": count_macs_per_megapixel(model)},
            "roofline_gflops": fp32_roofline_gflops(), "frame": [h, w], "tile": tile, "overlap": overlap,
            "warmup": warmup, "repeats": repeats, "target_e2e_s": TARGET_E2E_S, "threads": threads,
            "optimization": optimization, "note": note, "backends": []}
    stride = int(model.stride)
    del model
    noisy, _cam, profile = _test_mosaic((h, w))
    planes = pack_rggb(noisy)
    noise = profile.as_vector()
    say("timing the tiled engine and the noise estimate ...")
    data["overheads"] = _overheads(noisy, planes, noise, stride, tile, overlap, warmup, repeats)
    tile_in = np.ascontiguousarray(planes[None, :, :256, :256]) if min(planes.shape[1:]) >= 256 else None
    with tempfile.TemporaryDirectory(prefix="rawdenoise-cost-") as tmp:
        dng = write_test_dng(Path(tmp) / "frame.dng", (h, w)) if e2e else None
        say(f"timing {', '.join(name for name, _ in backends)} in turns ...")
        runners = {name: _runner(name, path, threads, optimization) for name, path in backends}
        tiles = interleaved_medians({name: (lambda r=r: r(tile_in, noise[None])) for name, r in runners.items()},
                                    warmup, repeats) if tile_in is not None else {}
        frames = interleaved_medians({name: (lambda r=r: denoise_planes(r, planes, noise, tile, overlap))
                                      for name, r in runners.items()}, warmup, repeats)
        del runners
        for name, path in backends:
            row: dict = {"backend": name, "file": path}
            if name in tiles:
                row["tile512"] = {"median_s": tiles[name], "mp_per_s": 512 * 512 / 1e6 / tiles[name]}
            row["frame"] = {"median_s": frames[name], "mp_per_s": h * w / 1e6 / frames[name]}
            if dng is not None:
                say(f"timing {name} end to end ...")
                row["e2e"] = _run_e2e_child(name, path, dng, Path(tmp) / f"out-{name}.dng", tile, overlap,
                                            warmup, repeats, threads, optimization)
                # The target is stated for a 12 MP frame; a smaller frame cannot meet or miss it.
                full = h * w >= FRAME_12MP[0] * FRAME_12MP[1]
                row["e2e"]["meets_target"] = row["e2e"]["median_s"] <= TARGET_E2E_S if full else None
            data["backends"].append(row)
    write_json(out_json, data)
    return data
