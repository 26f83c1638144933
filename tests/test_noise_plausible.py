"""Every number that reaches the model is checked: noise within the stated plausible range (``--force``
for experts), white above black, and a model output with NaN or Inf is an error naming the file."""
from __future__ import annotations

import json

import numpy as np
import pytest
from export_helpers import tiny_checkpoint
from rawfiles import bayer_dng, sha256

from denoise.cli import main
from denoise.errors import CorruptInputError, ModelOutputError
from denoise.noise import A_MAX, B_MAX, NoiseProfile, NoiseProfileError, check_plausible
from denoise.pipeline import Model, denoise_raw
from denoise.raw import read_raw


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", seed=0, a_range=(1e-4, 2e-2)))


@pytest.mark.parametrize("noise", ["1e39,1e39", "1e-300,0", "0.5,0.1", "0,0.02", "0.06,1e-5"])
def test_implausible_noise_flags_fail_before_any_work(tmp_path, model, capsys, noise):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    code = main(["run", str(src), "-o", str(tmp_path / "o"), "--model", model, f"--noise={noise}", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--noise: the given noise is implausible" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("tag", [(1e39, 1e-5), (1e300, 1e-5), (1e-300, 0.0), (50.0, 1e-5)])
def test_an_implausible_noise_profile_tag_is_an_error_naming_the_file(tmp_path, model, capsys, tag):
    (tmp_path / "in").mkdir()
    bad = bayer_dng(tmp_path / "in" / "bad.dng", (36, 36), extra_tags=[(51041, 12, 2, tag)])
    good = bayer_dng(tmp_path / "in" / "good.dng", (36, 36), noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata"))
    before = sha256(bad)
    code = main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--model", model, "--json", "-q"])
    lines = {json.loads(line)["input"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    assert code == 1
    assert "its NoiseProfile tag is implausible" in lines[str(bad)]["error"] and str(bad) in lines[str(bad)]["error"]
    assert lines[str(bad)]["output"] is None and lines[str(good)]["error"] is None
    assert not (tmp_path / "o" / "bad_denoised.dng").exists() and sha256(bad) == before


def test_force_lets_an_expert_use_noise_outside_the_range(tmp_path, model):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    assert main(["run", str(src), "-o", str(tmp_path / "o"), "--model", model, "--noise=0.06,1e-5", "--force",
                 "-q"]) == 0
    assert (tmp_path / "o" / "c_denoised.dng").is_file()


def test_nan_from_forced_absurd_noise_is_an_error_and_nothing_is_written(tmp_path, model, capsys):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    code = main(["run", str(src), "-o", str(tmp_path / "o"), "--model", model, "--noise=1e39,1e39", "--force", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and str(src) in err and "NaN or infinite values" in err
    assert not (tmp_path / "o" / "c_denoised.dng").exists()


def test_every_model_output_is_checked_for_nan_and_inf(tmp_path):
    raw = read_raw(bayer_dng(tmp_path / "c.dng", (36, 36)))

    def broken(planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        out = planes.copy()
        out[..., 3, 4] = np.inf
        return out

    broken.stride = 1  # type: ignore[attr-defined]
    model = Model("broken", lambda profile: (broken, "broken"))
    with pytest.raises(ModelOutputError, match=r"c.dng: the model \(broken\) returned 4 NaN or infinite values"):
        denoise_raw(raw, model, NoiseProfile.uniform(2e-3, 1e-5))


def test_the_range_is_inclusive_and_named_in_the_message():
    check_plausible(NoiseProfile.uniform(A_MAX, B_MAX), "edge")
    check_plausible(NoiseProfile.uniform(0.0, 1e-8), "read noise only")  # std 1e-4 at mid-grey
    with pytest.raises(NoiseProfileError, match=r"^x: .*a_R=0.1 > 0.05.*a <= 0.05, b <= 0.01, std >= 0.0001"):
        check_plausible(NoiseProfile((0.1, 1e-3, 1e-3, 1e-3), (1e-5,) * 4), "x")


def test_white_level_equal_to_black_level_is_refused(tmp_path):
    path = bayer_dng(tmp_path / "flat.dng", (36, 36), extra_tags=[(50717, 4, 1, 64)])
    with pytest.raises(CorruptInputError, match=r"flat.dng: .*white level \(64\) is not above its black level \(64\)"):
        read_raw(path)


def test_the_noise_command_shows_an_implausible_tag_and_says_so(tmp_path, capsys):
    path = bayer_dng(tmp_path / "odd.dng", (36, 36), extra_tags=[(51041, 12, 2, (50.0, 1e-5))])
    assert main(["noise", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["a"] == [50.0] * 4
    assert f"note: {path}: its NoiseProfile tag is implausible" in err
