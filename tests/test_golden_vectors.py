"""The golden vectors committed for the Android core are exactly what the Python SDK writes today.

If this fails, the Python contract (selector, noise mapping, packing, tiling, DNG reading, bundle
checks) changed: regenerate with ``python -m export.golden`` and make the Java core agree
(``android_demo/core/run_tests.sh``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from export.golden import COMMITTED_DIR, _dng_fixtures, write_golden_vectors

REGENERATE = "regenerate with 'python -m export.golden' and re-run android_demo/core/run_tests.sh"
# Tags whose values are file offsets or sizes: they depend on how tifffile lays the file out.
_LAYOUT_TAGS = {273, 279, 324, 325}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden")
    write_golden_vectors(out)
    return out


def test_the_same_files_are_committed_as_are_written(regenerated: Path) -> None:
    written, committed = _files(regenerated), _files(COMMITTED_DIR)
    assert written == committed, (f"missing: {sorted(written - committed)}, stale: {sorted(committed - written)}; "
                                  + REGENERATE)
    assert len(written) >= 15


def test_vector_and_bundle_files_have_not_drifted(regenerated: Path) -> None:
    for rel in sorted(_files(regenerated)):
        if rel.endswith(".dng"):
            continue
        new, old = (regenerated / rel).read_bytes(), (COMMITTED_DIR / rel).read_bytes()
        assert new == old, f"{rel} drifted from what export.golden writes; {REGENERATE}"


def _tags_and_pixels(path: Path) -> tuple[list[dict], list[np.ndarray]]:
    with tifffile.TiffFile(path) as tif:
        tags = [{code: (tag.dtype, str(tag.value)) for code, tag in page.tags.items() if code not in _LAYOUT_TAGS}
                for page in tif.pages]
        return tags, [page.asarray() for page in tif.pages]


def test_dng_fixtures_have_not_drifted(regenerated: Path) -> None:
    for rel in sorted(r for r in _files(regenerated) if r.endswith(".dng")):
        new_tags, new_pixels = _tags_and_pixels(regenerated / rel)
        old_tags, old_pixels = _tags_and_pixels(COMMITTED_DIR / rel)
        assert new_tags == old_tags, f"{rel}: tags drifted; {REGENERATE}"
        assert all(np.array_equal(a, b) for a, b in zip(new_pixels, old_pixels)), f"{rel}: pixels drifted; {REGENERATE}"


def test_libraw_reads_the_dng_fixtures_as_they_were_meant() -> None:
    """The expectations come from read_raw (LibRaw); they must match what the fixtures encode,
    so the Java reader is held to the DNG meaning, not to a reader quirk."""
    expected = {e["file"]: e for e in json.loads((COMMITTED_DIR / "dng.json").read_text())["files"]}
    fixtures = _dng_fixtures()
    assert {fx["file"] for fx in fixtures} == set(expected)
    for fx in fixtures:
        got = expected[fx["file"]]
        top, left, bottom, right = fx["active_area"] or (0, 0, *fx["data"].shape)
        mosaic = np.asarray(got["mosaic"]).reshape(got["height"], got["width"])
        assert np.array_equal(mosaic, fx["data"][top:bottom, left:right]), fx["file"]
        assert got["pattern"] == fx["pattern"]
        rows, cols = fx["black_dim"]
        assert got["black"] == [fx["black"][(r % rows) * cols + c % cols] for r in range(2) for c in range(2)]
        assert got["white"] == fx["white"]
        normalized = np.asarray(got["normalized"], dtype=np.float32).reshape(mosaic.shape)
        black = np.tile(np.asarray(got["black"], dtype=np.float32).reshape(2, 2),
                        (mosaic.shape[0] // 2 + 1, mosaic.shape[1] // 2 + 1))[:mosaic.shape[0], :mosaic.shape[1]]
        np.testing.assert_allclose(normalized, (mosaic - black) / (got["white"] - black), rtol=0, atol=1e-6)


def test_the_vectors_cover_the_contract_edges() -> None:
    """Guard against a generator change that silently empties a family of vectors."""
    load = lambda name: json.loads((COMMITTED_DIR / name).read_text())  # noqa: E731
    packing = load("packing.json")["cases"]
    assert {c["pattern"] for c in packing} == {"RGGB", "BGGR", "GRBG", "GBRG"}
    assert {(c["height"] % 2, c["width"] % 2) for c in packing} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    tiling = load("tiling.json")["cases"]
    assert any(c["h"] == 300 and c["w"] == 200 and len(c["tiles"]) > 4 for c in tiling)
    assert any(len(c["tiles"]) == 1 for c in tiling)
    manifests = load("manifests.json")
    assert sum(c["valid"] for c in manifests["cases"]) >= 3 and sum(not c["valid"] for c in manifests["cases"]) >= 25
    for name in ("selector_1.json", "selector_3.json", "selector_4.json"):
        cases = load(name)["cases"]
        assert {c["index"] for c in cases} == set(range(len(load(name)["boundaries"]) + 1))
    noise = load("noise_profiles.json")
    assert any("error" in c for c in noise["dng"]) and len(noise["camera2"]) == 4
