"""Seeded, bounded fuzzing (``tests/fuzzing.py``): damaged DNG tag directories and bundle manifests never
escape as a traceback, stop a batch, change an input or give a silently different result."""
from __future__ import annotations

from fuzzing import fuzz_dngs, fuzz_manifests


def test_damaged_dng_tag_directories(tmp_path):
    counts = fuzz_dngs(tmp_path, cases=300, seed=0)
    assert counts.problems == []
    assert counts.clean_errors + counts.accepted_equal + counts.accepted_different == counts.cases == 300
    assert counts.clean_errors > 0 and counts.accepted_equal > 0  # the fuzz reaches both outcomes


def test_damaged_bundle_manifests(tmp_path):
    counts = fuzz_manifests(tmp_path, cases=200, seed=0)
    assert counts.problems == []
    assert counts.clean_errors + counts.accepted_equal + counts.accepted_different == counts.cases == 200
    assert counts.clean_errors > 0 and counts.accepted_equal > 0
