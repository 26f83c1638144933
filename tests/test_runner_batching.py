"""How many windows go through the model per call: the runner's preference unless the caller says,
without changing what comes out (ONNX Runtime on the CPU prefers one window, torch four)."""
from __future__ import annotations

import numpy as np
import pytest

from denoise.backends import OnnxRunner, TorchRunner
from denoise.tiling import DEFAULT_BATCH, denoise_planes
from export_helpers import shared_onnx, tiny_model

PLANES = np.random.default_rng(0).normal(0.3, 0.05, size=(4, 40, 56)).astype(np.float32)
NOISE = np.array([2e-3] * 4 + [2e-5] * 4, dtype=np.float32)


class CountingRunner:
    """Identity model that records the number of windows of every call."""

    stride = 2
    name = "counting"

    def __init__(self, preferred_batch: int | None = None) -> None:
        if preferred_batch is not None:
            self.preferred_batch = preferred_batch
        self.calls: list[int] = []

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        self.calls.append(len(planes))
        return planes.copy()


@pytest.mark.parametrize("preferred,asked,expected", [(1, None, 1), (None, None, DEFAULT_BATCH), (1, 3, 3)])
def test_windows_per_call_follow_the_runner_unless_asked(preferred: int | None, asked: int | None,
                                                         expected: int) -> None:
    runner = CountingRunner(preferred)
    out = denoise_planes(runner, PLANES, NOISE, tile=16, overlap=8, batch=asked)
    windows = sum(runner.calls)
    assert windows == 4 * 6   # 40 and 56 pixels: 4 and 6 windows of 16 stepping by 8
    assert runner.calls == [expected] * (windows // expected) + ([windows % expected] if windows % expected else [])
    np.testing.assert_allclose(out, PLANES, rtol=1e-6)   # blending an unchanged image changes nothing


def test_onnx_runtime_on_cpu_prefers_one_window_and_batching_changes_nothing(tmp_path_factory) -> None:
    model, path = shared_onnx(tmp_path_factory)
    runner = OnnxRunner(path)
    assert runner.preferred_batch == 1 and TorchRunner(model, "cpu").preferred_batch == 4
    one = denoise_planes(runner, PLANES, NOISE, tile=16, overlap=8)
    four = denoise_planes(runner, PLANES, NOISE, tile=16, overlap=8, batch=4)
    np.testing.assert_array_equal(one, four)
    torch_out = denoise_planes(TorchRunner(tiny_model(0), "cpu"), PLANES, NOISE, tile=16, overlap=8)
    np.testing.assert_allclose(one, torch_out, atol=1e-5)
