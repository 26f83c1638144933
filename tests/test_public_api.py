"""The public API (``import denoise``) and the runtime boundary: denoising through the API or
``denoise run`` on the ONNX path loads neither torch nor the lab packages (training, export,
evaluation), and ``import denoise`` loads nothing heavy at all."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rawfiles import bayer_dng

import denoise
from denoise.noise import NoiseProfile

LAB = ("torch", "training", "export", "evaluation")
ROOT = Path(__file__).resolve().parents[1]


def _child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints a JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded(prefix: str) -> str:
    return f"{prefix}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {LAB!r} + ('numpy',)}}))"


def test_import_loads_nothing_heavy():
    loaded = _child(_loaded("import denoise"))
    assert not any(loaded.values()), loaded


def test_file_denoised_through_the_api_never_imports_torch_or_the_lab(tmp_path):
    src = bayer_dng(tmp_path / "shot.dng", (64, 96), noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata"))
    out = tmp_path / "clean.dng"
    loaded = _child(_loaded(f"import denoise; denoise.Denoiser().denoise_file({str(src)!r}, {str(out)!r})"))
    assert out.is_file() and denoise.read_raw(out).mosaic.shape == (64, 96)
    assert loaded["numpy"] and not any(loaded[m] for m in LAB), loaded


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["run", "IN", "-o", "OUT", "-q"]])
def test_cli_runtime_commands_never_import_torch_or_the_lab(tmp_path, argv):
    src = bayer_dng(tmp_path / "shot.dng", (64, 96), noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata"))
    argv = [str(src) if a == "IN" else str(tmp_path / "out.dng") if a == "OUT" else a for a in argv]
    code = f"from denoise.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n" + _loaded("")
    loaded = _child(code)
    assert not any(loaded[m] for m in LAB), loaded
    if "run" in argv and "--help" not in argv:
        assert (tmp_path / "out.dng").is_file()


def test_lab_commands_are_listed_and_registered_when_named(capsys):
    from denoise.cli import LAB_COMMANDS, main

    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    assert all(name in listing for name in LAB_COMMANDS)
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "synth" in capsys.readouterr().out  # the real sub-command, with its own sub-commands


def test_denoise_mosaic_keeps_shape_and_phase_and_removes_noise():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:129, 0:193]  # odd sizes: padding to even RGGB and back
    clean = (0.2 + 0.3 * np.sin(xx / 9.0) * np.cos(yy / 11.0) + 0.25).astype(np.float32)
    profile = NoiseProfile.uniform(4e-3, 2e-5)
    noisy = (clean + rng.normal(size=clean.shape) * np.sqrt(profile.a[0] * clean + profile.b[0])).astype(np.float32)
    out = denoise.Denoiser().denoise_mosaic(noisy, "GBRG", profile)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.mean((out - clean) ** 2) < 0.25 * np.mean((noisy - clean) ** 2)
    same = denoise.Denoiser().denoise_mosaic(noisy, "GBRG", "4e-3,2e-5")
    np.testing.assert_array_equal(same, out)


def test_every_format_of_the_shipped_bundle_runs():
    from denoise.backends import BACKENDS

    bundle = denoise.load_bundle(denoise.Denoiser().model.describe)
    formats = {fmt for spec in bundle.specialists for fmt in spec.files}
    assert formats <= set(BACKENDS) | {"coreml", "pte"}
    noisy = np.full((64, 64), 0.3, dtype=np.float32)
    for backend in sorted(formats & set(BACKENDS) - {"torch"}):
        out = denoise.Denoiser(backend=backend, device="cpu").denoise_mosaic(noisy, "RGGB", "1e-3,1e-5")
        assert np.isfinite(out).all() and abs(float(out.mean()) - 0.3) < 0.02, backend


def test_bad_mosaic_is_refused_in_one_line():
    with pytest.raises(ValueError) as err:
        denoise.Denoiser().denoise_mosaic(np.zeros((4, 8, 8), np.float32), "RGGB", "1e-3,1e-5")
    assert "\n" not in str(err.value)


def test_a_command_needing_a_missing_extra_names_it_in_one_line(tmp_path):
    checkpoint = tmp_path / "student.pt"
    checkpoint.write_bytes(b"not read: torch is missing first")
    code = (f"import sys\nsys.modules['torch'] = None  # as in the base install\nfrom denoise.cli import main\n"
            f"sys.exit(main(['info', {str(checkpoint)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "needs torch" in done.stderr and 'pip install "rawdenoise[torch]"' in done.stderr
