"""The cost benchmark measures a real model end to end and records consistent figures."""
import json

import pytest

from evaluation.cost import CostBenchError, interleaved_medians, median_seconds, run_cost_bench
from denoise.models import build_model, count_params, save_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    model = build_model("feature_align", widths=[4, 8], enc_blocks=[0, 1], dec_blocks=[1], fa_hidden=[4, 4])
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(model, path)
    return path, count_params(model)


def test_cost_bench_on_a_small_frame(tmp_path, tiny_checkpoint):
    path, params = tiny_checkpoint
    out = tmp_path / "cost.json"
    data = run_cost_bench(path, out_json=out, frame=(96, 128), tile=32, overlap=8, warmup=0, repeats=1,
                          progress=False, command="denoise bench --test")
    assert json.loads(out.read_text())["backends"] == data["backends"]
    assert data["kind"] == "cost" and data["model"]["params"] == params
    assert data["model"]["macs_per_mp"] > 0 and data["roofline_gflops"] > 0
    (row,) = data["backends"]
    assert row["backend"] == "torch" and "tile512" not in row          # frame smaller than a 512 tile
    assert row["frame"]["mp_per_s"] == pytest.approx(96 * 128 / 1e6 / row["frame"]["median_s"])
    e2e = row["e2e"]
    print(f"tiny model, 96x128: frame {row['frame']['median_s'] * 1e3:.1f} ms, end to end {e2e['median_s'] * 1e3:.1f} ms "
          f"(read {e2e['read_s'] * 1e3:.1f} / denoise {e2e['denoise_s'] * 1e3:.1f} / write {e2e['write_s'] * 1e3:.1f}), "
          f"peak RSS {e2e['peak_rss_mb']:.0f} MB, roofline {data['roofline_gflops']:.1f} GFLOP/s")
    assert 0 < e2e["read_s"] + e2e["denoise_s"] + e2e["write_s"] <= e2e["median_s"] * 1.001
    assert e2e["peak_rss_mb"] >= e2e["loaded_rss_mb"] > 0
    assert e2e["meets_target"] is None                                   # the 1 s target is for 12 MP frames
    assert data["overheads"]["engine_s"] > 0 and data["overheads"]["estimate_s"] is None   # 96x128: too small


def test_cost_bench_times_labelled_files_at_a_thread_count_and_optimization_level(tmp_path, tiny_checkpoint):
    from denoise.models import load_checkpoint
    from export.onnx import export_onnx

    path, _ = tiny_checkpoint
    onnx_path = export_onnx(load_checkpoint(path), tmp_path / "tiny.onnx")
    data = run_cost_bench(path, out_json=tmp_path / "cost.json", frame=(96, 128), tile=32, overlap=8, warmup=0,
                          repeats=1, e2e=False, progress=False, onnx=[("plain", str(onnx_path))], threads=1,
                          optimization="basic", torch=False, note="measured while idle")
    assert [row["backend"] for row in data["backends"]] == ["plain"]
    assert (data["threads"], data["optimization"], data["note"]) == (1, "basic", "measured while idle")
    with pytest.raises(CostBenchError, match="unique"):
        run_cost_bench(path, onnx_fp32=onnx_path, onnx=[("onnx-fp32", str(onnx_path))],
                       out_json=tmp_path / "c.json", progress=False)


def test_median_of_repeats_after_warmup():
    calls = []
    seconds = median_seconds(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and seconds >= 0


def test_backends_are_timed_in_turns():
    order = []
    medians = interleaved_medians({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, warmup=1, repeats=2)
    assert order == ["a", "b"] * 3 and set(medians) == {"a", "b"}


def test_bad_cost_requests_are_clear_errors(tmp_path, tiny_checkpoint):
    path, _ = tiny_checkpoint
    with pytest.raises(CostBenchError, match="no such ONNX file"):
        run_cost_bench(path, onnx_fp32=tmp_path / "missing.onnx", out_json=tmp_path / "c.json", progress=False)
    with pytest.raises(CostBenchError, match="even-sized"):
        run_cost_bench(path, out_json=tmp_path / "c.json", frame=(99, 128), progress=False)


def test_a_child_reports_its_own_peak_memory_not_its_parents():
    """Linux carries a parent's ru_maxrss across exec; the end-to-end child must not report it."""
    import subprocess
    import sys

    import numpy as np

    ballast = np.ones(300 * 2 ** 20 // 8)   # 300 MB resident in this (parent) process
    child = subprocess.run([sys.executable, "-c", "from evaluation.cost import _rss_mb; print(_rss_mb('VmHWM'))"],
                           capture_output=True, text=True, check=True)
    assert ballast.sum() > 0 and float(child.stdout) < 200
