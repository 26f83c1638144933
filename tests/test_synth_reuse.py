"""Reusing an earlier benchmark run: copied rows for unchanged methods, refusal when the benchmark changed."""
import pytest
import scipy.ndimage as ndi

from evaluation.methods import Method, identity_method
from evaluation.metrics import run_synth_benchmark
from evaluation.results import read_json

CALLS = []


def _blur(planes, profile):
    CALLS.append(1)
    return ndi.uniform_filter(planes, size=(1, 3, 3))


def test_reused_rows_are_copied_and_new_methods_run(tmp_path):
    first = run_synth_benchmark([identity_method(), Method("blur", _blur)], n_scenes=2, levels=[1e-3, 5e-3],
                                out_json=tmp_path / "a.json", progress=False, size=64)
    CALLS.clear()
    sharper = Method("sharper", lambda p, prof: ndi.uniform_filter(p, size=(1, 2, 2)))
    second = run_synth_benchmark([identity_method(), Method("blur", _blur), sharper], n_scenes=2, levels=[1e-3, 5e-3],
                                 out_json=tmp_path / "b.json", progress=False, size=64, reuse=tmp_path / "a.json")
    assert CALLS == []  # blur was not rerun
    rows = {(r["method"], r["level"]): r for r in second["results"]}
    for r in first["results"]:
        if r["method"] == "blur":
            assert rows[("blur", r["level"])] == r
        else:  # the noisy input is always recomputed, and identical
            assert rows[("noisy", r["level"])]["raw_psnr"] == r["raw_psnr"]
    assert ("sharper", 1) in rows
    assert read_json(tmp_path / "b.json")["reused"]["methods"] == ["blur"]


def test_a_method_asked_for_in_the_grid_is_scored_anew(tmp_path):
    methods = [identity_method(), Method("blur", _blur)]
    run_synth_benchmark(methods, n_scenes=1, levels=[1e-3], out_json=tmp_path / "a.json", progress=False, size=64)
    CALLS.clear()
    second = run_synth_benchmark(methods, n_scenes=1, levels=[1e-3], out_json=tmp_path / "b.json", progress=False,
                                 size=64, reuse=tmp_path / "a.json", grid_methods=["blur"])
    assert CALLS and "reused" not in second


def test_reuse_of_another_benchmark_is_refused(tmp_path):
    run_synth_benchmark([identity_method()], n_scenes=1, levels=[1e-3], out_json=tmp_path / "a.json",
                        progress=False, size=64)
    with pytest.raises(ValueError, match="another benchmark"):
        run_synth_benchmark([identity_method()], n_scenes=1, levels=[2e-3], out_json=tmp_path / "b.json",
                            progress=False, size=64, reuse=tmp_path / "a.json")
    # same description but different noisy inputs (tampered record): refused, not mixed
    data = read_json(tmp_path / "a.json")
    data["results"][0]["per_scene"][0]["raw_psnr"] += 0.5
    data["results"].append({**data["results"][0], "method": "blur"})
    import json
    (tmp_path / "c.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="noisy inputs differ"):
        run_synth_benchmark([identity_method(), Method("blur", _blur)], n_scenes=1, levels=[1e-3],
                            out_json=tmp_path / "d.json", progress=False, size=64, reuse=tmp_path / "c.json")


def test_a_retrained_checkpoint_under_the_same_path_is_rerun(tmp_path):
    first = Method("model:x.pt", lambda p, prof: p.copy(), fingerprint="aaa")
    run_synth_benchmark([identity_method(), first], n_scenes=1, levels=[1e-3], out_json=tmp_path / "a.json",
                        progress=False, size=64)
    CALLS.clear()
    retrained = Method("model:x.pt", _blur, fingerprint="bbb")
    data = run_synth_benchmark([identity_method(), retrained], n_scenes=1, levels=[1e-3], out_json=tmp_path / "b.json",
                               progress=False, size=64, reuse=tmp_path / "a.json")
    assert CALLS == [1] and "reused" not in data
