"""The ``denoise`` command: the composition root of the SDK (sub-commands import lazily)."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import re
import sys
from pathlib import Path
from typing import Callable

from .backends import BACKENDS

# Lab sub-commands: name -> (module, function registering it on the sub-parsers, the extra it needs,
# summary for --help).
LAB_COMMANDS = {
    "train": ("training.cli", "add_train_command", "train",
              "train a teacher, a student or noise-range specialists from a recipe"),
    "export": ("export.cli", "add_export_command", "export",
               "export trained models to a phone bundle (ONNX, INT8, fp16, ORT, Core ML, ExecuTorch)"),
    "eval": ("evaluation.cli", "add_eval_command", "eval",
             "evaluate denoisers: DND submission, local benchmark, residual check, report"),
    "bench": ("evaluation.cli", "add_bench_command", "eval",
              "measure a model's cost: params, MACs, latency, MP/s, 12 MP end to end, peak memory"),
}
# Packages the base install leaves out, and the extra (pyproject.toml) that brings each.
EXTRA_OF = {"torch": "torch", "torchvision": "train", "yaml": "train", "onnx": "export", "onnxscript": "export",
            "coremltools": "export", "executorch": "executorch", "bm3d": "eval", "h5py": "eval", "skimage": "eval",
            "matplotlib": "eval"}

RUN_EPILOG = """examples:
  denoise run IMG_0001.DNG -o out/                         # default model, noise from the file
  denoise run shots/ -o out/ --format jpg                  # every file of a folder, rendered to JPEG
  denoise run a.NEF b.CR2 -o out/ --noise 4e-3,2e-5        # explicit noise: Var = a*x + b
  denoise run a.ARW -o out/ --model runs/student_fm/best.pt --tile 384 --device cuda
  denoise run a.dng -o out/ --bundle my_bundle.zip --backend onnx
"""
NOISE_EPILOG = """examples:
  denoise noise IMG_0001.DNG            # R,G1,G2,B shot (a) and read (b) terms and their source
  denoise noise shots/*.NEF --json      # one JSON object per file
"""
INFO_EPILOG = """examples:
  denoise info                          # the default model shipped with the package
  denoise info runs/student_fm/best.pt --json
  denoise info my_bundle/ --json
"""
DEMO_EPILOG = """examples:
  denoise demo                          # writes demo/ with the noisy and denoised DNG and PNGs
  denoise demo -o /tmp/demo --a 1e-2    # a noisier scene
"""


def _expand_inputs(items: list[Path]) -> list[Path]:
    """Files as given; a folder stands for every regular file directly inside it (sorted)."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            out += sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            out.append(item)
    return out


def _count(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least`` (``--tile 0`` is an error, not the default)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    return parse


def _device(text: str) -> str:
    """An argparse type for ``--device``: checked by its form here, so no torch import is needed."""
    if re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        return text
    raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or mps")


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import model_from_bundle, model_from_checkpoint, run_files

    if args.model and args.bundle:
        raise ValueError("give --model or --bundle, not both")
    if args.noise not in ("auto", "estimate"):
        from .noise import NoiseProfile, check_plausible

        profile = NoiseProfile.parse(args.noise)  # a bad flag fails before any file is touched
        if not args.force:
            check_plausible(profile, "--noise")
    inputs = _expand_inputs(args.inputs)
    if not inputs:
        raise ValueError("no input files found; give RAW files or folders holding them")
    from .writers import plan_outputs

    plan = plan_outputs(inputs, args.output, args.format)  # every name decided before any work
    if args.model:
        model = model_from_checkpoint(args.model, args.device)
    else:
        model = model_from_bundle(args.bundle, backend=args.backend, device=args.device)
    if not args.json:
        for item in plan:
            if item.note:
                print(f"denoise: note: {item.input}: {item.note}", file=sys.stderr)
    results = run_files(plan, model, args.noise, args.tile, args.overlap, progress=not args.quiet, force=args.force)
    failed = [r for r in results if r.error]
    for r in results:
        if args.json:
            print(json.dumps({"input": str(r.input), "output": str(r.output) if r.output else None,
                              "noise": r.profile.to_json() if r.profile else None, "specialist": r.specialist,
                              "seconds": round(r.seconds, 3), "error": r.error or None, "note": r.note or None}))
        elif r.error:
            print(f"denoise: {r.error}", file=sys.stderr)
        elif not args.quiet:
            print(f"{r.input} -> {r.output}  [{r.specialist}; noise {r.profile}; {r.seconds:.2f} s]")
    if not args.json:
        print(f"{len(results) - len(failed)} written, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_noise(args: argparse.Namespace) -> int:
    from .noise import NoiseProfileError, check_plausible
    from .pipeline import error_line, resolve_noise
    from .raw import read_raw

    failed = 0
    for path in _expand_inputs(args.files):
        try:  # what the file says is shown even when 'run' would refuse it
            profile = resolve_noise(read_raw(path), "estimate" if args.estimate else "auto", force=True)
        except Exception as err:  # noqa: BLE001 - one file's failure is its own line, never the end of the list
            failed += 1
            print(f"denoise: {error_line(path, err)}", file=sys.stderr)
            continue
        try:
            check_plausible(profile, str(path))
        except NoiseProfileError as err:
            print(f"denoise: note: {err}", file=sys.stderr)
        if args.json:
            print(json.dumps({"file": str(path), **profile.to_json()}))
        else:
            print(f"{path}: {profile}")
    return 1 if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    target = args.model
    if target is not None and target.is_file() and target.suffix == ".pt":
        from .models import count_macs_per_megapixel, count_params, load_checkpoint

        model = load_checkpoint(target)
        info = {"path": str(target), "kind": "checkpoint", "arch": model.arch, "config": model.config,
                "meta": model.meta, "params": count_params(model),
                "gmac_per_bayer_megapixel": round(count_macs_per_megapixel(model) / 1e9, 4)}
    else:
        from .bundle import default_bundle_path, load_bundle

        bundle = load_bundle(target if target is not None else default_bundle_path())
        info = bundle.describe()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for k, v in info.items():
            print(f"{k}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from evaluation.demo import run_demo

    r = run_demo(args.output, a=args.a, seed=args.seed, model_path=args.model)
    print(f"demo scene: {r['megapixels']:.2f} MP Bayer, noise a={r['a']:.3g} b={r['b']:.3g} "
          f"(read from the DNG NoiseProfile: {r['profile_source']})")
    print(f"model: {r['model']} (specialist {r['specialist']}), {r['seconds']:.2f} s")
    print(f"raw PSNR vs clean: noisy {r['psnr_noisy']:.2f} dB -> denoised {r['psnr_denoised']:.2f} dB "
          f"(+{r['psnr_denoised'] - r['psnr_noisy']:.2f} dB)")
    for name, path in r["outputs"].items():
        print(f"  {name}: {path}")
    return 0


def cmd_golden(args: argparse.Namespace) -> int:
    from export.golden import write_golden_vectors

    for path in write_golden_vectors(args.output):
        print(path)
    return 0


def _command(argv: list[str]) -> str | None:
    """The sub-command ``argv`` names (its first word that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full ``denoise`` parser; a lab sub-command's own options are registered only when ``argv``
    names it, so ``denoise run`` and ``denoise --help`` never import torch, training or export."""
    parser = argparse.ArgumentParser(prog="denoise", description="Denoise camera RAW files with small on-device models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("run", help="denoise RAW files (DNG, NEF, CR2, ARW, …)", epilog=RUN_EPILOG, formatter_class=fmt,
                       description="Denoise Bayer RAW files; one bad file is reported and the others still run.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="RAW files or folders of them")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output folder, e.g. out/ (created if missing); with one input, a file name ending in "
                        ".dng, .tif, .tiff, .png, .jpg or .npy writes that file in that format")
    p.add_argument("--format", choices=["dng", "tiff", "png", "jpg", "npy"],
                   help="dng: denoised mosaic with the file's metadata; tiff/png/jpg: rendered by LibRaw; "
                        "npy: normalized float32 mosaic (default: dng)")
    p.add_argument("--noise", default="auto", metavar="auto|estimate|A,B",
                   help="auto: the file's NoiseProfile, else a blind estimate; estimate: always blind; "
                        "A,B: Var = A*x + B on the [0,1] scale, e.g. 4e-3,2e-5 (default: auto)")
    p.add_argument("--model", type=Path, help="a model checkpoint (.pt) instead of the default bundle")
    p.add_argument("--bundle", type=Path, help="an exported bundle (folder or .zip) instead of the default one")
    p.add_argument("--backend", default="onnx", choices=BACKENDS,
                   help="which of the bundle's formats runs: onnx (fp32), fp16, int8, ort, int8_ort with ONNX "
                        "Runtime, or torch (default: onnx)")
    p.add_argument("--tile", type=_count(1), help="tile size in packed pixels (half the Bayer size), e.g. 256")
    p.add_argument("--overlap", type=_count(0), help="tile overlap in packed pixels, e.g. 32")
    p.add_argument("--device", default="auto", type=_device,
                   help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--force", action="store_true",
                   help="use noise parameters outside the plausible range (a <= 0.05, b <= 0.01, std >= 1e-4 at "
                        "mid-grey, per plane) instead of refusing them")
    p.add_argument("--json", action="store_true", help="one JSON line per file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, errors only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("noise", help="print the noise profile of RAW files", epilog=NOISE_EPILOG, formatter_class=fmt,
                       description="Noise profile Var = a*x + b per CFA plane (R, G1, G2, B): from the file's "
                                   "NoiseProfile tag when present, else estimated from the image.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="RAW files or folders")
    p.add_argument("--json", action="store_true", help="one JSON object per file: a, b per plane and source")
    p.add_argument("--estimate", action="store_true", help="ignore metadata and estimate from the pixels")
    p.set_defaults(func=cmd_noise)

    p = sub.add_parser("info", help="describe a model, a bundle, or the default model", epilog=INFO_EPILOG,
                       formatter_class=fmt, description="Parameters, MACs, specialists, noise ranges and formats.")
    p.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="checkpoint or bundle (default: shipped model)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="denoise a realistic noisy RAW scene with the default model", epilog=DEMO_EPILOG,
                       formatter_class=fmt, description="Write a noisy DNG (with NoiseProfile), denoise it, render "
                                                        "before/after and print raw PSNR.")
    p.add_argument("-o", "--output", type=Path, default=Path("demo"), help="output folder (default: demo/)")
    p.add_argument("--a", type=float, default=4e-3, help="shot-noise term a of the scene (default: 4e-3, ~ISO 3200)")
    p.add_argument("--seed", type=int, default=0, help="camera and noise seed (default: 0)")
    p.add_argument("--model", type=Path, help="a model checkpoint instead of the default bundle")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("golden", help="write the golden test vectors other implementations check against",
                       description="JSON vectors: selector decisions, Bayer packing, tile plans and blend weights.",
                       epilog="example:\n  denoise golden -o android_demo/core/src/test/resources/golden",
                       formatter_class=fmt)
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_golden)

    command = _command(argv or [])
    for name, (module, register, _extra, summary) in LAB_COMMANDS.items():
        if name == command:
            getattr(importlib.import_module(module), register)(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The reader reports a damaged file in one line naming it; tifffile's own parse warnings would
    # only repeat that in lines without the file's name.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("denoise: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        package = (err.name or "").partition(".")[0]
        if package not in EXTRA_OF:
            raise
        command = _command(argv)
        extra = LAB_COMMANDS[command][2] if command in LAB_COMMANDS else EXTRA_OF[package]
        print(f"denoise: error: this needs {package}, which the base install leaves out; install the "
              f"'{extra}' extra: pip install \"rawdenoise[{extra}]\"", file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError) as err:
        print(f"denoise: error: {str(err).strip() or type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
