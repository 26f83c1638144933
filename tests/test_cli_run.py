"""`denoise run`, `noise`, `info`: batches with bad files, JSON output, clear errors."""
import json

import numpy as np
import pytest
import torch

from denoise.cli import main
from evaluation.demo import BLACK, WHITE, write_noisy_dng
from denoise.dng import write_bayer_dng
from denoise.models import build_model, save_checkpoint
from denoise.noise import NoiseProfile
from denoise.raw import read_raw
from rawfiles import bayer_dng, sha256, xtrans_dng


def _photo_dng(path):
    """A photograph with sensor noise but no NoiseProfile tag: the noise must be estimated."""
    write_noisy_dng(path, a=2e-3)
    raw = read_raw(path)
    dn = raw.to_dn(raw.mosaic)[1:, 1:]  # odd size, BGGR phase
    return write_bayer_dng(path, dn, "BGGR", BLACK, WHITE, raw.color_matrix, raw.as_shot_neutral)


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    model = build_model("feature_align", widths=[8, 16], enc_blocks=[0, 1], dec_blocks=[1], fa_hidden=[4, 4])
    path = tmp_path / "tiny.pt"
    save_checkpoint(model, path)
    return path


def test_folder_with_good_and_bad_files(tmp_path, tiny_model, capsys):
    src = tmp_path / "shots"
    src.mkdir()
    good = [bayer_dng(src / "a.dng", (40, 58), "GRBG", noise=NoiseProfile.uniform(2e-3, 1e-5, "metadata")),
            _photo_dng(src / "b.dng")]
    (src / "empty.nef").write_bytes(b"")
    (src / "random.cr2").write_bytes(np.random.default_rng(0).bytes(5000))
    (src / "notes.txt").write_text("not a raw file")
    xtrans_dng(src / "xtrans.dng")
    before = {p: sha256(p) for p in good}
    code = main(["run", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "--json", "-q"])
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {line["input"].rsplit("/", 1)[-1]: line for line in lines}
    assert len(by_name) == 6
    for name in ("a.dng", "b.dng"):
        assert by_name[name]["error"] is None
        out = read_raw(by_name[name]["output"])
        assert out.mosaic.shape == read_raw(src / name).mosaic.shape
        assert out.pattern == read_raw(src / name).pattern
    assert by_name["a.dng"]["noise"]["source"] == "metadata"
    assert by_name["b.dng"]["noise"]["source"] == "estimate"
    for name in ("empty.nef", "random.cr2", "notes.txt", "xtrans.dng"):
        assert by_name[name]["output"] is None and name in by_name[name]["error"]
        assert "\n" not in by_name[name]["error"]
    assert {p: sha256(p) for p in good} == before


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_run_other_formats(tmp_path, tiny_model, fmt):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    assert main(["run", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model), "--format", fmt,
                 "--noise", "1e-3,1e-5", "-q"]) == 0
    assert (tmp_path / "o" / f"c_denoised.{fmt}").is_file()


@pytest.mark.parametrize("noise", ["-1e-3,1e-5", "nan,1e-5", "1e-3", "abc,def"])
def test_bad_noise_parameters_fail_before_any_work(tmp_path, tiny_model, noise, capsys):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    code = main(["run", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model), f"--noise={noise}", "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "noise" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unwritable_output_folder_is_reported(tmp_path, tiny_model, capsys):
    src = bayer_dng(tmp_path / "x.dng", (36, 36))
    digest = sha256(src)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    assert main(["run", str(src), "-o", str(blocker), "--model", str(tiny_model), "-q"]) == 1
    assert "blocker" in capsys.readouterr().err
    assert sha256(src) == digest


def test_noise_json_per_file(tmp_path, capsys):
    meta = bayer_dng(tmp_path / "m.dng", (64, 64), noise=NoiseProfile((1e-3, 2e-3, 2e-3, 3e-3), (1e-5,) * 4, "metadata"))
    photo = _photo_dng(tmp_path / "p.dng")
    assert main(["noise", str(meta), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["source"] == "metadata" and obj["planes"] == ["R", "G1", "G2", "B"]
    assert obj["a"] == pytest.approx([1e-3, 2e-3, 2e-3, 3e-3]) and len(obj["b"]) == 4
    assert main(["noise", str(photo), "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["source"] == "estimate"
    assert np.median(est["a"]) == pytest.approx(2e-3, rel=0.25)


def test_info_on_a_checkpoint(tiny_model, capsys):
    assert main(["info", str(tiny_model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "feature_align" and info["params"] > 0 and info["gmac_per_bayer_megapixel"] > 0


def test_every_command_documents_an_example(capsys):
    for cmd in ("run", "noise", "info", "demo", "train", "golden"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "example" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value, message", [
    ("--device", "bogus", "unknown device 'bogus'"), ("--tile", "0", "must be at least 1"),
    ("--tile", "big", "expected a whole number"), ("--overlap", "-1", "must be at least 0"),
])
def test_bad_engine_flags_are_refused_before_any_work(tmp_path, tiny_model, capsys, flag, value, message):
    src = bayer_dng(tmp_path / "c.dng", (36, 36))
    with pytest.raises(SystemExit) as info:
        main(["run", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model), "--backend", "torch",
              flag, value])
    assert info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_device_this_machine_lacks_is_a_clear_error():
    from denoise.backends import pick_device

    with pytest.raises(ValueError, match="unknown device 'bogus'"):
        pick_device("bogus")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available on this machine"):
            pick_device("cuda")
