"""Run inside a venv holding only the base install (`pip install .`, no extras): torch is absent,
a DNG written with numpy and the runtime's own DNG writer is denoised through the CLI and through
the public API, and a lab command names the extra it needs."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import denoise
from denoise.dng import write_bayer_dng
from denoise.noise import NoiseProfile


def main() -> int:
    assert importlib.util.find_spec("torch") is None, "torch is importable in the base install"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "scene.dng"
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:256, 0:384]
        scene = 0.3 + 0.25 * np.sin(xx / 13.0) * np.cos(yy / 17.0)
        noisy = scene + rng.normal(size=scene.shape) * np.sqrt(4e-3 * scene + 2e-5)
        dn = np.clip(np.round(64 + noisy * (1023 - 64)), 0, 1023).astype(np.uint16)
        write_bayer_dng(src, dn, "RGGB", 64, 1023, np.eye(3), (1.0, 1.0, 1.0),
                        noise_profile=NoiseProfile.uniform(4e-3, 2e-5, "metadata"))
        cli = shutil.which("denoise", path=str(Path(sys.executable).parent))
        subprocess.run([cli, "run", str(src), "-o", str(Path(tmp) / "cli.dng"), "-q"], check=True)
        api = denoise.Denoiser().denoise_file(src, Path(tmp) / "api.dng")
        for out in (Path(tmp) / "cli.dng", api):
            clean = denoise.read_raw(out).mosaic
            assert clean.shape == dn.shape and np.isfinite(clean).all(), out
    lab = subprocess.run([cli, "export", "--help"], capture_output=True, text=True)
    assert lab.returncode == 2 and 'pip install "rawdenoise[export]"' in lab.stderr, lab.stderr
    loaded = [m for m in ("training", "export", "evaluation") if m in sys.modules]
    assert not loaded, f"the runtime loaded lab packages {loaded}"
    print("base install: torch absent; CLI and API denoised a DNG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
