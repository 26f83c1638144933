"""The benchmark's figures: a crop grid to look at and PSNR against noise level (matplotlib, Agg)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from denoise.atomic import atomic_output
from denoise.noise import NoiseProfile
from denoise.render import CameraParams


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def detail_window(srgb: np.ndarray, frac: int = 4) -> tuple[int, int, int]:
    """(top, left, side) of the 1/``frac``-side window with the most detail (largest std).

    Windows reaching into the bottom-right quarter are skipped: the zoomed inset covers it.
    """
    h, w = srgb.shape[:2]
    side = max(min(h, w) // frac, 1)
    best = (-1.0, 0, 0)
    for top in range(0, h - side + 1, max(side // 2, 1)):
        for left in range(0, w - side + 1, max(side // 2, 1)):
            if top + side > h // 2 and left + side > w // 2:
                continue
            spread = float(srgb[top:top + side, left:left + side].std())
            if spread > best[0]:
                best = (spread, top, left)
    return best[1], best[2], side


def save_crop_grid(grid: dict[int, dict[str, np.ndarray]], camera: CameraParams, method_names: Sequence[str],
                   profiles: Sequence[NoiseProfile], path: str | os.PathLike) -> None:
    """Rows: noise levels; columns: noisy, each method, clean — rendered sRGB with a 2× zoomed inset."""
    from matplotlib.patches import Rectangle

    from denoise.metrics import psnr

    from .metrics import srgb_images

    plt = _figure()
    columns = ["noisy", *(m for m in method_names if m != "noisy"), "clean"]   # the identity is the noisy input
    rows = sorted(grid)
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3.6 * len(columns), 3.9 * len(rows)), squeeze=False)
    clean_srgb = srgb_images(grid[rows[0]]["clean"], camera)
    top, left, side = detail_window(clean_srgb)
    for r, li in enumerate(rows):
        for c, name in enumerate(columns):
            planes = grid[li][name]
            img = srgb_images(planes, camera)
            ax = axes[r][c]
            ax.imshow(img, interpolation="nearest")
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), side, side, fill=False, edgecolor="yellow", lw=1))
            inset = ax.inset_axes([0.5, 0.0, 0.5, 0.5])
            inset.imshow(img[top:top + side, left:left + side], interpolation="nearest")
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor("yellow")
            label = name if name == "clean" else f"{name}\n{psnr(planes, grid[li]['clean']):.2f} dB raw"
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"a={profiles[li].a[0]:.2g}", fontsize=8)
    fig.tight_layout()
    _save(fig, Path(path))
    plt.close(fig)


def save_psnr_plot(results: dict, path: str | os.PathLike) -> None:
    """Raw and sRGB PSNR of each method against the shot-noise term (log axis)."""
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in results["methods"]:
        rows = sorted((r for r in results["results"] if r["method"] == method), key=lambda r: r["a"])
        for ax, key in zip(axes, ("raw_psnr", "srgb_psnr")):
            ax.plot([r["a"] for r in rows], [r[key] for r in rows], marker="o", label=method)
    for ax, title in zip(axes, ("raw PSNR (dB)", "sRGB PSNR (dB)")):
        ax.set_xscale("log")
        ax.set_xlabel("shot noise a (Var = a·x + b)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{len(results['scenes'])} scenes, {results['size']}×{results['size']} Bayer")
    fig.tight_layout()
    _save(fig, Path(path))
    plt.close(fig)
