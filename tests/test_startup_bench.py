"""``denoise eval startup``: fresh-process timings of the runtime, and their BENCHMARKS.md section."""
from __future__ import annotations

from evaluation.report import render_report
from evaluation.results import read_json
from evaluation.startup import run_startup_bench


def test_startup_rows_are_recorded_and_rendered(tmp_path):
    results = tmp_path / "results"
    run_startup_bench(results / "startup.json", frame=(96, 128), repeats=2, command="denoise eval startup")
    data = read_json(results / "startup.json")
    assert data["kind"] == "startup" and [r["runs"] for r in data["rows"]] == [2, 2, 2]
    assert [r["name"].split()[0] for r in data["rows"]] == ["python", "denoise", "denoise"]
    for row in data["rows"]:
        assert 0 < row["min_s"] <= row["median_s"] <= row["max_s"] and row["cpu_s"] > 0 and row["peak_rss_mb"] > 0
    text = render_report(results, tmp_path / "B.md").read_text()
    assert "## Runtime start-up" in text and "128×96 DNG" in text and "`denoise --help`" in text
