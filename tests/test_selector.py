"""The specialist selector: its rule, the bundle's use of it, and golden vectors for other implementations.

``tests/golden/selector_vectors.json`` is what the Android/Java core is checked against; it is
regenerated here and must not drift. To change it on purpose (a new rule version), regenerate with
``python -c "from export.golden import write_selector_vectors as w; w(GOLDEN_BOUNDARIES, 'tests/golden/selector_vectors.json')"``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from export.golden import write_selector_vectors
from denoise.noise import NoiseProfile
from denoise.selector import (RULE, RULE_VERSION, SelectionError, boundaries_of, core_ranges, noise_level, read_selection,
                              select_for_profile, select_index, selection_block, split_boundaries)

# Four specialists over a ∈ [1e-4, 2e-2], split geometrically (split_boundaries, as training does).
GOLDEN_BOUNDARIES = [0.0003760603093086394, 0.0014142135623730955, 0.005318295896944991]
GOLDEN = Path(__file__).parent / "golden" / "selector_vectors.json"


def test_rule_counts_boundaries_at_or_below_the_level():
    b = GOLDEN_BOUNDARIES
    assert [select_index(x, b) for x in (0.0, b[0] / 2, b[0], b[1], (b[1] + b[2]) / 2, b[2], 1.0)] == [0, 0, 1, 2, 2, 3, 3]
    assert select_index(math.nextafter(b[1], 0), b) == 1 and select_index(b[1], b) == 2
    assert select_index(5.0, []) == 0
    with pytest.raises(ValueError, match="strictly ascending"):
        select_index(1e-3, [2e-3, 1e-3])


def test_level_is_the_mean_shot_term_in_plane_order():
    profile = NoiseProfile((1e-4, 2e-4, 3e-4, 6e-4), (1e-6,) * 4, "metadata")
    assert noise_level(profile) == (((1e-4 + 2e-4) + 3e-4) + 6e-4) / 4
    assert select_for_profile(profile, GOLDEN_BOUNDARIES) == 0  # mean 3e-4 < 3.76e-4, though a_B is above it


def test_selector_vectors_cover_every_boundary_and_agree_with_the_rule(tmp_path):
    data = json.loads(write_selector_vectors(GOLDEN_BOUNDARIES, tmp_path / "v.json").read_text())
    assert (data["rule"], data["rule_version"], data["boundaries"]) == (RULE, RULE_VERSION, GOLDEN_BOUNDARIES)
    names = {c["name"] for c in data["cases"]}
    for i in range(len(GOLDEN_BOUNDARIES)):
        assert {f"boundary {i}: on", f"boundary {i}: just below", f"boundary {i}: just above"} <= names
    assert {"far below", "far above"} <= names
    seen = set()
    for case in data["cases"]:
        profile = NoiseProfile(tuple(case["a"]), tuple(case["b"]), "metadata")
        assert case["level"] == noise_level(profile)
        assert case["index"] == select_index(noise_level(profile), GOLDEN_BOUNDARIES)
        seen.add(case["index"])
    assert seen == {0, 1, 2, 3}
    below = next(c for c in data["cases"] if c["name"] == "boundary 1: just below")
    on = next(c for c in data["cases"] if c["name"] == "boundary 1: on")
    assert below["index"] == 1 and on["index"] == 2  # a level on a boundary goes to the noisier specialist


def test_golden_selector_vectors_do_not_drift(tmp_path):
    fresh = write_selector_vectors(GOLDEN_BOUNDARIES, tmp_path / "selector_vectors.json")
    assert json.loads(fresh.read_text()) == json.loads(GOLDEN.read_text())


def test_boundaries_core_ranges_and_the_selection_block_round_trip():
    boundaries = split_boundaries((1e-4, 2e-2), 4)
    assert boundaries == pytest.approx(GOLDEN_BOUNDARIES, rel=1e-12)  # the shipped split
    cores = core_ranges((1e-4, 2e-2), boundaries)
    assert cores[0][0] == 1e-4 and cores[-1][1] == 2e-2 and boundaries_of(cores) == boundaries
    assert read_selection(selection_block(boundaries), cores) == tuple(boundaries)
    with pytest.raises(SelectionError, match="do not meet"):
        boundaries_of([(1e-4, 1e-3), (2e-3, 1e-2)])
    with pytest.raises(SelectionError, match="version 2 is not supported"):
        read_selection({**selection_block(boundaries), "rule_version": 2}, cores)
    with pytest.raises(SelectionError, match="does not separate"):
        read_selection(selection_block([b * 1.01 for b in boundaries]), cores)
