"""``denoise export``: training run (or checkpoints) → verified phone bundle."""
from __future__ import annotations

import argparse
import math
import sys

EXAMPLE = """example:
  denoise export runs/specialists -o bundles/phone --zip
  denoise export runs/student_fm/best.pt -o bundle --formats onnx,int8,ort --int8-target arm
  denoise export s0.pt s1.pt -o bundle --formats onnx --keep-float first,last
  denoise export runs/specialists -o bundle --formats onnx,int8 --int8-max-drop 0.1

A run directory with specialists.json exports every specialist with the selector boundaries;
one with best.pt exports a single generalist. 'onnx' is always included with int8/fp16/ort.
INT8 keeps in float the convs that cost the most denoising PSNR until it loses at most
--int8-max-drop dB per noise level; the manifest lists them with the measured losses.
ORT files are converted by onnxruntime --ort-runtime (the app's), in --ort-python when this
environment has another version."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def _budget(text: str) -> float | None:
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"a PSNR budget in dB >= 0, or 'off'; got {text!r}")
    return value


def _tiles(text: str) -> tuple[tuple[int, int], ...]:
    tiles = []
    for word in _words(text):
        h, _, w = word.lower().partition("x")
        try:
            tiles.append((int(h), int(w or h)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"tile sizes look like 256x256,128x128; got {word!r}") from None
    return tuple(tiles)


def add_export_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``export`` on the ``denoise`` command's sub-parsers."""
    from .bundle import DEFAULT_FORMATS, FORMATS, ExportOptions

    defaults = ExportOptions()
    parser = subparsers.add_parser(
        "export", description="Export a training run or checkpoints to a verified deployment bundle: manifest.json "
                    "(I/O contract, selector, checksums) plus the requested model formats.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="RUN_DIR|CHECKPOINT",
                        help="a training run directory, or checkpoint files (.pt) with a_range/core_range in meta")
    parser.add_argument("-o", "--output", required=True, metavar="BUNDLE", help="bundle folder to write")
    parser.add_argument("--formats", type=_words, default=DEFAULT_FORMATS,
                        help=f"comma-separated, from {','.join(FORMATS)} (default: {','.join(DEFAULT_FORMATS)}); "
                             "the torch checkpoint is always included")
    parser.add_argument("--zip", action="store_true", help="also write BUNDLE.zip")
    parser.add_argument("--int8-target", choices=("x86", "arm"), default=defaults.int8_target,
                        help="x86: uint8 activations + reduce_range (AVX2 without VNNI); arm: int8/int8 for phones "
                             f"(default: {defaults.int8_target})")
    parser.add_argument("--int8-layout", choices=("qdq", "qoperator"), default=defaults.int8_layout,
                        help="qdq: Quantize/DequantizeLinear pairs fused by the runtime (portable to phone execution "
                             f"providers); qoperator: QLinearConv written into the file (default: {defaults.int8_layout})")
    parser.add_argument("--keep-float", type=_words, default=defaults.keep_float, metavar="first,last",
                        help="convs left in float in the INT8 model: first (reading the input), last (the residual "
                             f"head), both, or '' for none (default: {','.join(defaults.keep_float)})")
    parser.add_argument("--int8-calibration", choices=("percentile", "minmax"), default=defaults.int8_calibration,
                        help=f"activation range estimate for INT8 (default: {defaults.int8_calibration})")
    parser.add_argument("--int8-max-drop", type=_budget, default=defaults.int8_max_drop_db, metavar="DB",
                        help="keep the convs that cost the most in float until INT8 loses at most DB of denoising PSNR "
                             "per noise level on the calibration crops; 'off' quantizes every conv but --keep-float "
                             f"(default: {defaults.int8_max_drop_db})")
    parser.add_argument("--tile", type=int, default=defaults.tile, help=f"recommended runtime tile, packed pixels (default: {defaults.tile})")
    parser.add_argument("--overlap", type=int, default=defaults.overlap, help=f"recommended tile overlap (default: {defaults.overlap})")
    parser.add_argument("--coreml-tiles", type=_tiles, default=defaults.coreml_tiles, metavar="HxW,…",
                        help="enumerated Core ML input sizes, packed pixels (default: 256x256,128x128)")
    parser.add_argument("--coreml-int8", action="store_true", help="int8 weight compression for Core ML")
    parser.add_argument("--calibration-crops", type=int, default=defaults.calibration_crops,
                        help=f"noisy crops per specialist for INT8 calibration (default: {defaults.calibration_crops})")
    parser.add_argument("--ort-runtime", default=defaults.ort_runtime, metavar="VERSION",
                        help="onnxruntime version the .ort files are written by and for: the one the app links "
                             f"(default: {defaults.ort_runtime}); older runtimes cannot load newer ORT files")
    parser.add_argument("--ort-python", metavar="PYTHON",
                        help="a Python with exactly onnxruntime==VERSION, used for the ORT conversion when this one "
                             "has another version (default: $RAWDENOISE_ORT_PYTHON)")
    parser.set_defaults(func=run_export)
    return parser


def run_export(args: argparse.Namespace) -> int:
    from .bundle import ExportOptions, sources_from_inputs, write_bundle

    options = ExportOptions(formats=args.formats, int8_target=args.int8_target, int8_layout=args.int8_layout,
                            keep_float=args.keep_float,
                            int8_calibration=args.int8_calibration, int8_max_drop_db=args.int8_max_drop,
                            tile=args.tile, overlap=args.overlap, coreml_tiles=args.coreml_tiles,
                            coreml_int8=args.coreml_int8, calibration_crops=args.calibration_crops,
                            ort_runtime=args.ort_runtime, ort_python=args.ort_python)
    sources, boundaries = sources_from_inputs(args.inputs)
    manifest = write_bundle(sources, boundaries, args.output, options, make_zip=args.zip,
                            log=lambda message: print(f"export: {message}", file=sys.stderr))
    print(f"wrote {args.output}{' and ' + args.output + '.zip' if args.zip else ''}: "
          f"{len(manifest['specialists'])} specialist(s), boundaries {manifest['selection']['boundaries']}")
    for entry in manifest["specialists"]:
        measured = ", ".join(f"{fmt} {q['psnr_db'] if q['psnr_db'] is not None else 'identical'} dB"
                             for fmt, q in entry["quality"].items())
        print(f"  {entry['name']}: a {entry['core_range']} formats {','.join(entry['files'])}; vs float: {measured}")
    return 0

