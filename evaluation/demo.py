"""``denoise demo``: a realistic noisy RAW scene, written as a DNG and denoised through the real path.

The scene is a photograph shipped with scikit-image (falling back to a procedural scene),
unprocessed to camera RAW with a random camera, given Poisson–Gaussian sensor noise and written
as a 14-bit Bayer DNG whose NoiseProfile tag holds the noise level — as a phone would write it.
The DNG is then read back with rawpy, denoised with the default model, written as DNG and
rendered before/after; raw PSNR against the clean scene is printed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from denoise.cfa import pack_rggb, unpack_rggb
from denoise.metrics import psnr
from denoise.noise import NoiseProfile, log_linear_b
from training import synth
from training.noise_synthesis import add_noise

BLACK, WHITE = 512, 16383  # a 14-bit sensor


def demo_scene(seed: int = 0) -> np.ndarray:
    """(H, W, 3) sRGB: scikit-image's astronaut photo when available, else a procedural scene."""
    try:
        from skimage import data

        img = data.astronaut().astype(np.float32) / 255.0
        return img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]
    except Exception:  # noqa: BLE001 - scikit-image missing or its data not shipped
        return synth.procedural_scene(512, seed)


def write_noisy_dng(path: Path, a: float, seed: int = 0) -> tuple[np.ndarray, NoiseProfile]:
    """Write the demo's noisy DNG; return the clean normalized mosaic and the true noise profile."""
    from denoise.dng import write_bayer_dng

    rng = np.random.default_rng(seed)
    cam = synth.random_camera(rng)
    clean = synth.mosaic_rggb(synth.unprocess(demo_scene(seed), cam))
    profile = NoiseProfile.uniform(a, float(log_linear_b(a)), source="metadata")
    noisy = unpack_rggb(add_noise(pack_rggb(clean), profile, rng))
    dn = np.clip(np.round(noisy * (WHITE - BLACK) + BLACK), 0, 65535).astype(np.uint16)
    write_bayer_dng(path, dn, "RGGB", BLACK, WHITE, cam.xyz2cam, cam.as_shot_neutral, noise_profile=profile,
                    make="rawdenoise", model="demo camera")
    return clean, profile


def run_demo(out_dir: Path, a: float = 4e-3, seed: int = 0, model_path: Path | None = None,
             backend: str = "onnx") -> dict:
    """Run the demo into ``out_dir``; returns the figures it prints."""
    import time

    from denoise.pipeline import denoise_raw, model_from_bundle, model_from_checkpoint, resolve_noise
    from denoise.raw import read_raw
    from denoise.writers import write_output

    out_dir.mkdir(parents=True, exist_ok=True)
    noisy_path = out_dir / "demo_noisy.dng"
    clean, true_profile = write_noisy_dng(noisy_path, a, seed)
    raw = read_raw(noisy_path)
    profile = resolve_noise(raw, "auto")
    model = model_from_checkpoint(model_path) if model_path else model_from_bundle(None, backend=backend)
    t0 = time.perf_counter()
    denoised, specialist = denoise_raw(raw, model, profile)
    seconds = time.perf_counter() - t0
    outputs = {
        "noisy_dng": noisy_path,
        "denoised_dng": write_output(raw, denoised, out_dir / "demo_denoised.dng", "dng"),
        "noisy_png": write_output(raw, raw.mosaic, out_dir / "demo_noisy.png", "png"),
        "denoised_png": write_output(raw, denoised, out_dir / "demo_denoised.png", "png"),
    }
    return {"a": a, "b": true_profile.b[0], "profile_source": profile.source, "model": model.describe,
            "specialist": specialist, "psnr_noisy": psnr(raw.mosaic, clean), "psnr_denoised": psnr(denoised, clean),
            "seconds": seconds, "megapixels": raw.mosaic.size / 1e6, "outputs": {k: str(v) for k, v in outputs.items()}}
