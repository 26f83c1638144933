"""Quality metrics with ground truth, and the local benchmark that reports them.

Raw metrics follow DND: the clean signal is clipped to [0, 1], the estimate is clipped to [0, 1]
(a DND submission is), PSNR has peak 1 on the normalized scale. Raw SSIM is computed on the four
packed planes (each a same-colour image) and averaged. sRGB metrics render clean and estimate
through :mod:`denoise.render` with the scene's own camera, so colour noise that raw PSNR weighs
lightly (it is amplified by white balance and the colour matrix) is scored as a viewer sees it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from denoise.cfa import unpack_rggb
from denoise.metrics import psnr
from denoise.render import CameraParams, render_mosaic
from .benchset import BENCH_A, BENCH_SIZE, BenchScene, bench_level, bench_scenes
from .methods import Method
from .results import results_header, write_json

def raw_ssim(estimate_planes: np.ndarray, clean_planes: np.ndarray) -> float:
    """Mean SSIM over the four packed planes (data range 1, both clipped to [0, 1])."""
    from skimage.metrics import structural_similarity

    est = np.clip(estimate_planes, 0.0, 1.0).astype(np.float64)
    ref = np.clip(clean_planes, 0.0, 1.0).astype(np.float64)
    return float(structural_similarity(ref, est, data_range=1.0, channel_axis=0))


def srgb_images(planes: np.ndarray, camera: CameraParams) -> np.ndarray:
    """Packed planes → rendered (H, W, 3) sRGB, the input clipped to [0, 1] as a raw file would be."""
    return render_mosaic(unpack_rggb(np.clip(planes, 0.0, 1.0)), camera)


def srgb_metrics(estimate_planes: np.ndarray, clean_planes: np.ndarray, camera: CameraParams) -> tuple[float, float]:
    """(PSNR, SSIM) of the rendered sRGB images."""
    from skimage.metrics import structural_similarity

    est = srgb_images(estimate_planes, camera)
    ref = srgb_images(clean_planes, camera)
    return psnr(est, ref), float(structural_similarity(ref, est, data_range=1.0, channel_axis=-1))


def score(estimate_planes: np.ndarray, scene: BenchScene) -> dict:
    """All four metrics of one estimate of ``scene``."""
    s_psnr, s_ssim = srgb_metrics(estimate_planes, scene.clean, scene.camera)
    return {"raw_psnr": psnr(estimate_planes, scene.clean), "raw_ssim": raw_ssim(estimate_planes, scene.clean),
            "srgb_psnr": s_psnr, "srgb_ssim": s_ssim}


METRICS = ("raw_psnr", "raw_ssim", "srgb_psnr", "srgb_ssim")


GRID_COLUMNS = 6  # methods shown in the crop grid when none are named


def run_synth_benchmark(methods: Sequence[Method], n_scenes: int = 8, levels: Sequence[float] = BENCH_A,
                        out_json: str | os.PathLike = "benchmarks/results/synth.json", progress: bool = True,
                        size: int = BENCH_SIZE, command: str = "", reuse: str | os.PathLike | None = None,
                        grid_methods: Sequence[str] | None = None) -> dict:
    """Score every method on every scene × noise level; write the results JSON and two plots.

    ``levels`` are shot terms ``a`` (read terms on the DND line). Per method and level the JSON
    holds the mean of each metric over scenes, the per-scene values and the mean seconds per
    image. Beside ``out_json`` go ``<stem>_grid.png`` (first scene, every level: noisy, each
    method, clean, with a zoomed inset) and ``<stem>_psnr.png`` (PSNR against noise level).

    ``reuse`` names an earlier results JSON of the same benchmark (same size, levels and scenes):
    methods scored there under the same name, and for model methods from files with the same
    SHA-256, are copied instead of rerun (BM3D costs ~20 s per image) and are left out of the crop
    grid. The noisy input is always recomputed and must match the earlier run's, so a changed
    benchmark is refused rather than mixed.

    ``grid_methods`` picks the grid's columns (default: the first ``GRID_COLUMNS`` methods run),
    so a long comparison still gives a figure of readable size; they are never reused.
    """
    from tqdm import tqdm

    if not methods:
        raise ValueError("the benchmark needs at least one method (e.g. --method noisy --method bm3d)")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"each method must be named once, got {names}")
    unknown = sorted(set(grid_methods or ()) - set(names))
    if unknown:
        raise ValueError(f"--grid-method {', '.join(unknown)}: not among the methods given ({', '.join(names)})")
    profiles = [bench_level(a) for a in levels]
    scenes = bench_scenes(n_scenes, size)
    from .results import read_json

    earlier = read_json(reuse) if reuse else None
    reused = _reusable_rows(earlier, reuse, methods, size, profiles, scenes) if earlier else {}
    for name in ("noisy", *(grid_methods or ())):  # the grid needs their outputs, so they are scored anew
        reused.pop(name, None)
    noisy_psnr: dict[tuple[int, str], float] = {}
    methods_run = [m for m in methods if m.name not in reused]
    per_scene: dict[str, dict[int, list[dict]]] = {m.name: {i: [] for i in range(len(profiles))} for m in methods_run}
    grid: dict[int, dict[str, np.ndarray]] = {}
    bar = tqdm(total=len(scenes) * len(profiles) * len(methods_run), desc="benchmark", disable=not progress)
    for scene in scenes:
        for li, profile in enumerate(profiles):
            noisy = scene.noisy(profile)
            if reused:
                noisy_psnr[(li, scene.name)] = psnr(noisy, scene.clean)
            if scene.position == 0:
                grid[li] = {"noisy": noisy, "clean": scene.clean}
            for method in methods_run:
                start = time.perf_counter()
                out = method(noisy, profile)
                seconds = time.perf_counter() - start
                per_scene[method.name][li].append({"scene": scene.name, **score(out, scene), "seconds": seconds})
                if scene.position == 0:
                    grid[li][method.name] = out
                bar.update()
    bar.close()

    if reused:
        _check_same_inputs(earlier, reuse, noisy_psnr)
    results = []
    for method in methods:
        if method.name in reused:
            results += [reused[method.name][li] for li in range(len(profiles))]
            continue
        for li, profile in enumerate(profiles):
            rows = per_scene[method.name][li]
            mean = {k: float(np.mean([r[k] for r in rows])) for k in (*METRICS, "seconds")}
            results.append({"method": method.name, "level": li, "a": profile.a[0], "b": profile.b[0],
                            **mean, "per_scene": rows, "fingerprint": method.fingerprint})
    out_json = Path(out_json)
    grid_png = out_json.with_name(out_json.stem + "_grid.png")
    psnr_png = out_json.with_name(out_json.stem + "_psnr.png")
    data = {**results_header("synth", command), "size": size, "methods": [m.name for m in methods],
            "levels": [{"a": p.a[0], "b": p.b[0]} for p in profiles],
            "scenes": [s.describe() for s in scenes], "results": results,
            **({"reused": {"from": str(reuse), "methods": sorted(reused)}} if reused else {}),
            "plots": {"grid": grid_png.name, "psnr": psnr_png.name}}
    from .plots import save_crop_grid, save_psnr_plot

    run_names = [m.name for m in methods_run]
    shown = [n for n in run_names if n in grid_methods] if grid_methods else run_names[:GRID_COLUMNS]
    save_crop_grid(grid, scenes[0].camera, shown, profiles, grid_png)
    save_psnr_plot(data, psnr_png)
    write_json(out_json, data)
    return data


def _reusable_rows(old: dict, path: str | os.PathLike, methods: Sequence[Method], size: int, profiles: list,
                   scenes: list) -> dict[str, dict[int, dict]]:
    """Rows of an earlier run ``old`` (read from ``path``) of the same benchmark, by method name and level."""
    same = (old.get("size") == size and old.get("levels") == [{"a": p.a[0], "b": p.b[0]} for p in profiles]
            and len(old.get("scenes", [])) == len(scenes)
            and all(_same_scene(o, s.describe()) for o, s in zip(old["scenes"], scenes)))
    if not same:
        raise ValueError(f"{path}: another benchmark (size, levels or scenes differ); it cannot be reused here")
    wanted = {m.name: m.fingerprint for m in methods}
    rows: dict[str, dict[int, dict]] = {}
    for row in old["results"]:  # same name and the same files behind it (a retrained checkpoint is rerun)
        if row["method"] in wanted and row.get("fingerprint") == wanted[row["method"]]:
            rows.setdefault(row["method"], {})[row["level"]] = row
    return {name: r for name, r in rows.items() if len(r) == len(profiles)}


def _same_scene(old: dict, new: dict) -> bool:
    """Same scene and camera; camera matrices may differ in the last bits between numpy builds."""
    if {k: v for k, v in old.items() if k != "camera"} != {k: v for k, v in new.items() if k != "camera"}:
        return False
    flat = lambda cam: np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for _, v in sorted(cam.items())])
    return bool(np.allclose(flat(old["camera"]), flat(new["camera"]), rtol=1e-12, atol=1e-15))


def _check_same_inputs(old: dict, path: str | os.PathLike, noisy_psnr: dict[tuple[int, str], float]) -> None:
    """The earlier run's noisy-input scores must equal this run's: the same noise was drawn."""
    earlier = {(r["level"], s["scene"]): s["raw_psnr"] for r in old["results"] if r["method"] == "noisy"
               for s in r["per_scene"]}
    if not earlier:
        raise ValueError(f"{path}: has no 'noisy' rows to check that the inputs are the same; rerun every method")
    for (li, scene), value in noisy_psnr.items():
        if not abs(earlier.get((li, scene), float("nan")) - value) < 1e-6:
            raise ValueError(f"{path}: its noisy inputs differ from this run's ({scene}, level {li}); "
                             "the benchmark changed, rerun every method")
