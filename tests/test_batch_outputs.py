"""Output names of a batch are decided before any work: never an input, never another output of the
batch, always the same for the same inputs; ``-o NAME.ext`` with one input names the file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from export_helpers import tiny_checkpoint
from rawfiles import bayer_dng, sha256

from denoise.cli import main
from denoise.errors import OutputError
from denoise.noise import NoiseProfile
from denoise.writers import plan_outputs

NOISE = NoiseProfile.uniform(2e-3, 1e-5, "metadata")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", seed=0, a_range=(1e-4, 2e-2)))


def _dng(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return bayer_dng(path, (36, 36), noise=NOISE, seed=seed)


def _run(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["run", *args, "--device", "cpu", "-q"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def test_an_input_named_like_an_output_is_never_overwritten(tmp_path, model, capsys):
    folder = tmp_path / "d"
    _dng(folder / "a.dng")
    taken = _dng(folder / "a_denoised.dng", 1)
    before = sha256(taken)
    code, _, err = _run(capsys, str(folder), "-o", str(folder), "--model", model)
    assert code == 0
    assert sha256(taken) == before
    assert "a_denoised.dng is the input" in err and "writing a_denoised-2.dng instead" in err
    assert sorted(p.name for p in folder.iterdir()) == ["a.dng", "a_denoised-2.dng", "a_denoised.dng",
                                                        "a_denoised_denoised.dng"]


def test_inputs_with_the_same_stem_get_their_own_outputs(tmp_path, model, capsys):
    one = _dng(tmp_path / "d1" / "x.dng", 1)
    two = _dng(tmp_path / "d2" / "x.dng", 2)
    upper = _dng(tmp_path / "d3" / "shot.DNG", 3)
    lower = _dng(tmp_path / "d3" / "shot.dng", 4)
    out = tmp_path / "out"
    code, lines, _ = _run(capsys, str(one), str(two), str(upper), str(lower), "-o", str(out), "--model", model,
                          "--json")
    assert code == 0
    written = {line["input"]: line["output"] for line in lines}
    assert written == {str(one): str(out / "x_denoised.dng"), str(two): str(out / "x_denoised-2.dng"),
                       str(upper): str(out / "shot_denoised.dng"), str(lower): str(out / "shot_denoised-2.dng")}
    assert [bool(line["note"]) for line in lines] == [False, True, False, True]
    # each output holds its own input's pictures, not the last one written under a shared name
    outputs = [tifffile.imread(written[str(p)]) for p in (one, two)]
    assert not np.array_equal(*outputs)


def test_the_plan_is_the_same_every_time(tmp_path):
    inputs = [tmp_path / "a" / "x.dng", tmp_path / "b" / "x.dng", tmp_path / "b" / "x_denoised.dng"]
    first = plan_outputs(inputs, tmp_path / "out")
    assert first == plan_outputs(inputs, tmp_path / "out")
    assert [p.output.name for p in first] == ["x_denoised.dng", "x_denoised-2.dng", "x_denoised_denoised.dng"]


@pytest.mark.parametrize("name, check", [
    ("final.tif", lambda p: tifffile.imread(p).ndim == 3),
    ("final.TIFF", lambda p: tifffile.imread(p).ndim == 3),
    ("final.npy", lambda p: np.load(p).shape == (36, 36)),
    ("final.png", lambda p: p.read_bytes()[:4] == b"\x89PNG"),
    ("final.jpg", lambda p: p.read_bytes()[:2] == b"\xff\xd8"),
    ("final.dng", lambda p: tifffile.imread(p).shape == (36, 36)),
])
def test_one_input_and_an_output_file_name_writes_that_file(tmp_path, model, capsys, name, check):
    src = _dng(tmp_path / "in.dng")
    target = tmp_path / "result" / name
    code, _, _ = _run(capsys, str(src), "-o", str(target), "--model", model)
    assert code == 0 and target.is_file() and check(target)
    assert sorted(p.name for p in target.parent.iterdir()) == [name]


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/both.png"], "names one .png file, but 2 inputs were given"),
    (["-o", "{tmp}/one.png", "--format", "jpg"], "says png, but the format asked for is jpg"),
])
def test_contradictory_output_arguments_fail_before_any_work(tmp_path, model, capsys, args, message):
    a = _dng(tmp_path / "a.dng")
    b = _dng(tmp_path / "b.dng", 1)
    inputs = [str(a), str(b)] if "both" in args[1] else [str(a)]
    code, _, err = _run(capsys, *inputs, *[x.format(tmp=tmp_path) for x in args], "--model", model)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dng", "b.dng"]


def test_an_output_file_name_that_is_the_input_is_refused(tmp_path):
    src = tmp_path / "in.dng"
    with pytest.raises(OutputError, match="this is the input file"):
        plan_outputs([src], tmp_path / "sub" / ".." / "IN.DNG")


def test_an_existing_folder_with_an_image_extension_stays_a_folder(tmp_path):
    (tmp_path / "v1.png").mkdir()
    plan = plan_outputs([tmp_path / "a.dng", tmp_path / "b.dng"], tmp_path / "v1.png", "png")
    assert [p.output for p in plan] == [tmp_path / "v1.png" / "a_denoised.png", tmp_path / "v1.png" / "b_denoised.png"]
