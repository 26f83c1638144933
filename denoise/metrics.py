"""Peak signal-to-noise ratio on the normalized scale: the one PSNR that training validation, the
export quality gates, the benchmark and the demo all report, so their decibels compare."""
from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 100.0  # an exact reconstruction would be +inf, which strict JSON cannot store


def psnr(estimate: np.ndarray, clean: np.ndarray) -> float:
    """PSNR in dB with peak 1, both clipped to [0, 1] (as the DND raw track), computed in float64."""
    err = np.clip(estimate, 0.0, 1.0).astype(np.float64) - np.clip(clean, 0.0, 1.0)
    mse = float(np.mean(err * err))
    return PSNR_CAP_DB if mse <= 10.0 ** (-PSNR_CAP_DB / 10) else float(10.0 * np.log10(1.0 / mse))
