"""BENCHMARKS.md is rendered from results files: provenance, one table per noise level, cost, links."""
import re
from pathlib import Path

import numpy as np
import pytest

from evaluation.cost import run_cost_bench
from evaluation.methods import identity_method
from evaluation.metrics import run_synth_benchmark
from evaluation.report import render_report
from evaluation.residual import run_residual_check
from evaluation.results import ResultsError
from denoise.models import build_model, save_checkpoint


def _residual_results(tmp_path: Path, out: Path) -> None:
    from denoise.dng import write_bayer_dng
    from denoise.noise import NoiseProfile
    from training.synth import random_camera

    cam = random_camera(np.random.default_rng(0))
    dn = np.random.default_rng(1).integers(200, 900, size=(48, 64)).astype(np.uint16)
    (tmp_path / "raws").mkdir()
    write_bayer_dng(tmp_path / "raws" / "phone.dng", dn, "RGGB", 64, 1023, cam.xyz2cam, cam.as_shot_neutral,
                    noise_profile=NoiseProfile.uniform(1e-3, 1e-5, "metadata"))
    run_residual_check([tmp_path / "raws"], identity_method(), out, progress=False,
                       command="denoise eval residual raws/ --method noisy")


def test_report_renders_every_results_file(tmp_path):
    results = tmp_path / "benchmarks" / "results"
    run_synth_benchmark([identity_method()], n_scenes=2, levels=[1e-3, 5e-3], out_json=results / "synth.json",
                        progress=False, size=32, command="denoise eval synth --method noisy")
    model = build_model("feature_align", widths=[4, 8], enc_blocks=[0, 1], dec_blocks=[1], fa_hidden=[4, 4])
    save_checkpoint(model, tmp_path / "tiny.pt")
    run_cost_bench(tmp_path / "tiny.pt", out_json=results / "cost.json", frame=(64, 64), tile=32, overlap=8,
                   warmup=0, repeats=1, e2e=False, progress=False, command="denoise bench --model tiny.pt")
    _residual_results(tmp_path, results / "residual.json")

    md = render_report(results, tmp_path / "BENCHMARKS.md")
    text = md.read_text()
    print(text)
    for command in ("denoise eval synth --method noisy", "denoise bench --model tiny.pt",
                    "denoise eval residual raws/ --method noisy"):
        assert f"- Command: `{command}`" in text
    assert text.count("| method | raw PSNR (dB)") == 2                 # one table per noise level
    assert "#### a = 0.001," in text and "#### a = 0.005," in text
    scenes = re.search(r"\| method \| (procedural:\d+) \| (skimage:\w+) \|\n", text)  # by-scene table
    assert scenes, "no table by scene"
    row = re.search(r"\| noisy \| (\d+\.\d\d) \| (\d+\.\d\d) \|\n", text)
    assert row and row.group(1) != row.group(2)
    assert re.search(r"\| noisy \| \d+\.\d\d \| 0\.\d{4} \| \d+\.\d\d \| 0\.\d{4} \|", text)
    assert re.search(r"\| torch \| – \| – \| \d+\.\d\d \| \d+\.\d\d \| – \| – \| – \| – \|", text)
    assert "| phone.dng | metadata | 0.000 |" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == ["benchmarks/results/synth_grid.png", "benchmarks/results/synth_psnr.png"]
    assert all((md.parent / link).is_file() for link in links)
    assert text.index("## Quality with ground truth") < text.index("## Cost") < text.index("## Real noise")


def test_report_needs_results(tmp_path):
    with pytest.raises(ResultsError, match="no such results folder"):
        render_report(tmp_path / "missing", tmp_path / "B.md")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match="no benchmark results"):
        render_report(tmp_path / "empty", tmp_path / "B.md")
    (tmp_path / "empty" / "junk.json").write_text("{not json")
    with pytest.raises(ResultsError, match="junk.json: not a readable results JSON"):
        render_report(tmp_path / "empty", tmp_path / "B.md")


def _parser():
    import argparse

    from evaluation.cli import add_bench_command, add_eval_command

    parser = argparse.ArgumentParser(prog="denoise")
    sub = parser.add_subparsers(dest="command", required=True)
    add_eval_command(sub)
    add_bench_command(sub)
    return parser


@pytest.mark.parametrize("argv", [["eval", "dnd"], ["eval", "synth"], ["eval", "residual"], ["eval", "report"],
                                  ["bench"]])
def test_every_command_has_help_with_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  denoise " + " ".join(argv) in out


def test_eval_commands_run_through_argparse(tmp_path, capsys):
    parser = _parser()
    results = tmp_path / "results"
    args = parser.parse_args(["eval", "synth", "--method", "noisy", "--scenes", "1", "--levels", "2e-3", "--size", "32",
                              "--out", str(results / "s.json"), "--quiet"])
    assert args.func(args) == 0
    args = parser.parse_args(["eval", "report", "--results", str(results), "--out", str(tmp_path / "B.md")])
    assert args.func(args) == 0
    assert "| noisy |" in (tmp_path / "B.md").read_text()
    assert parser.parse_args(["bench", "--model", "m.pt", "--frame", "4000x3000"]).frame == (3000, 4000)
