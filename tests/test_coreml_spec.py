"""Core ML package: the saved spec (inputs, enumerated tile shapes, outputs, ops, precision, metadata).

Core ML prediction needs macOS, so on Linux the spec is what can be checked.
"""
from __future__ import annotations

import json

import pytest
from export_helpers import tiny_model

from export import ExportError
from export.coreml import export_coreml, load_spec, program_ops

TILES = ((64, 64), (32, 48))
FP16, FP32 = 10, 11  # MIL tensor data types in the spec


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("coreml") / "tiny.mlpackage"
    export_coreml(tiny_model(0), path, tiles=TILES, version="9.9.9",
                  metadata={"rawdenoise.a_range": [1e-3, 8e-3]})
    return path


def _ops(spec):
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            yield from block.operations


def test_inputs_are_enumerated_tiles_and_a_fixed_noise_vector(package):
    spec = load_spec(package)
    assert spec.specificationVersion >= 7  # iOS 16 ML program
    inputs = {i.name: i.type.multiArrayType for i in spec.description.input}
    assert set(inputs) == {"noisy", "noise"}
    noisy = inputs["noisy"]
    assert [list(s.shape) for s in noisy.enumeratedShapes.shapes] == [[1, 4, h, w] for h, w in TILES]
    assert list(noisy.shape) == [1, 4, *TILES[0]]  # the default shape is the first tile
    assert list(inputs["noise"].shape) == [1, 8] and not inputs["noise"].HasField("enumeratedShapes")
    assert [o.name for o in spec.description.output] == ["denoised"]


def test_conv_body_runs_fp16_and_normalization_float32(package):
    spec = load_spec(package)
    ops = program_ops(spec)
    assert {"conv", "upsample_bilinear", "leaky_relu", "sqrt"} <= ops
    by_type: dict[str, set[int]] = {}
    for op in _ops(spec):
        for out in op.outputs:
            by_type.setdefault(op.type, set()).add(out.type.tensorType.dataType)
    assert by_type["conv"] == {FP16}
    assert by_type["sqrt"] == {FP32}  # sqrt(a·x + b): read terms near 1e-8 underflow fp16
    final = [op for op in _ops(spec) if any(o.name == "denoised" for o in op.outputs)]
    assert len(final) == 1 and final[0].type == "add" and final[0].outputs[0].type.tensorType.dataType == FP32


def test_metadata_describes_model_license_and_contract(package):
    meta = load_spec(package).description.metadata
    assert meta.author == "rawdenoise" and meta.license == "Apache-2.0" and meta.versionString == "9.9.9"
    user = dict(meta.userDefined)
    assert int(user["rawdenoise.stride"]) == tiny_model(0).stride
    assert json.loads(user["rawdenoise.tiles"]) == [list(t) for t in TILES]
    assert json.loads(user["rawdenoise.a_range"]) == [1e-3, 8e-3]
    assert "noise" in json.loads(user["rawdenoise.io"])["inputs"]
    files = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())
    assert "Manifest.json" in files and any(f.endswith("model.mlmodel") for f in files)


def test_int8_weight_compression(tmp_path):
    path = export_coreml(tiny_model(0, widths=[8, 64]), tmp_path / "w8.mlpackage", tiles=((32, 32),),
                         compress_int8=True)
    spec = load_spec(path)
    noisy = next(i for i in spec.description.input if i.name == "noisy").type.multiArrayType
    assert list(noisy.shape) == [1, 4, 32, 32] and not noisy.HasField("enumeratedShapes")  # one tile: fixed
    assert "constexpr_affine_dequantize" in program_ops(spec)
    assert dict(spec.description.metadata.userDefined)["rawdenoise.weights"] == "int8"


def test_bad_tiles_and_names_are_refused(tmp_path):
    with pytest.raises(ExportError, match="multiples of the model stride"):
        export_coreml(tiny_model(0), tmp_path / "x.mlpackage", tiles=((33, 32),))
    with pytest.raises(ExportError, match="must end in .mlpackage"):
        export_coreml(tiny_model(0), tmp_path / "x.mlmodel")
    assert list(tmp_path.iterdir()) == []
