"""``denoise eval …`` and ``denoise bench``: argparse sub-commands, registered by ``denoise/cli.py`` when named.

Each handler is stored as ``args.func`` and returns an exit code; bad input raises a ValueError or
OSError subclass whose one-line message the ``denoise`` command prints.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from denoise.backends import BACKENDS
from denoise.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

from .benchset import BENCH_A, BENCH_SIZE
from .cost import FRAME_12MP

_METHOD_HELP = f"noisy | bm3d | model:CKPT.pt | bundle:DIR_OR_ZIP[:{'|'.join(BACKENDS)}]"


def _command_line() -> str:
    return "denoise " + shlex.join(sys.argv[1:])


def _add(sub, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _labelled(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not (sep and label.strip() and path.strip()):
        raise argparse.ArgumentTypeError(f"expected LABEL=FILE, got {text!r}")
    return label.strip(), path.strip()


def _frame(text: str) -> tuple[int, int]:
    try:
        w, h = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 4000x3000, got {text!r}") from None
    return h, w


def _eval_dnd(args: argparse.Namespace) -> int:
    from .dnd import run_dnd
    from .methods import method_from_spec

    bundled = run_dnd(args.data, args.out, method_from_spec(args.method, args.device), progress=not args.quiet)
    print(f"submission ready: upload the .mat files in {bundled}")
    return 0


def _eval_synth(args: argparse.Namespace) -> int:
    from .methods import method_from_spec
    from .metrics import run_synth_benchmark

    methods = [method_from_spec(spec, args.device) for spec in args.method]
    data = run_synth_benchmark(methods, args.scenes, args.levels, args.out, progress=not args.quiet,
                               size=args.size, command=_command_line(), reuse=args.reuse,
                               grid_methods=args.grid_method)
    for row in data["results"]:
        print(f"{row['method']:>28}  a={row['a']:.3g}  raw {row['raw_psnr']:.2f} dB  sRGB {row['srgb_psnr']:.2f} dB")
    print(f"results: {args.out}")
    return 0


def _eval_residual(args: argparse.Namespace) -> int:
    from .methods import method_from_spec
    from .residual import run_residual_check

    data = run_residual_check(args.inputs, method_from_spec(args.method, args.device), args.out, noise=args.noise,
                              progress=not args.quiet, command=_command_line())
    for row in data["files"]:
        print(f"{row['file']}: variance ratio {row['variance_ratio_overall']:.3f}")
    print(f"results: {args.out}")
    return 0


def _eval_runs(args: argparse.Namespace) -> int:
    from .runs import run_training_report

    data = run_training_report(args.runs, args.out, command=_command_line())
    for r in data["runs"]:
        last = max(r["val"], key=int) if r["val"] else None
        print(f"{r['name']:>20}  {r['arch']:<13} step {r['step']}/{r['steps']}  "
              + (f"val {r['val'][last]['mean']:.2f} dB at {last}" if last else "no validation yet"))
    print(f"results: {args.out}")
    return 0


def _eval_report(args: argparse.Namespace) -> int:
    from .report import render_report

    print(f"wrote {render_report(args.results, args.out)}")
    return 0


def _eval_startup(args: argparse.Namespace) -> int:
    from .startup import run_startup_bench

    data = run_startup_bench(args.out, args.bundle, args.backend, args.frame, args.repeats, _command_line(),
                             say=(lambda message: None) if args.quiet else print)
    for row in data["rows"]:
        print(f"{row['name']}: median {row['median_s']:.2f} s (min {row['min_s']:.2f}, max {row['max_s']:.2f}), "
              f"CPU {row['cpu_s']:.2f} s, peak {row['peak_rss_mb']:.0f} MB")
    print(f"results: {args.out}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .cost import run_cost_bench

    data = run_cost_bench(args.model, args.onnx_fp32, args.onnx_int8, args.out, frame=args.frame,
                          tile=args.tile, overlap=args.overlap, warmup=args.warmup, repeats=args.repeats,
                          e2e=not args.no_e2e, progress=not args.quiet, command=_command_line(),
                          onnx=args.onnx, threads=args.threads, optimization=args.graph_opt, torch=not args.no_torch,
                          note=args.note)
    for row in data["backends"]:
        e2e = row.get("e2e")
        tail = f", end to end {e2e['median_s']:.2f} s, peak {e2e['peak_rss_mb']:.0f} MB" if e2e else ""
        print(f"{row['backend']}: frame {row['frame']['median_s']:.2f} s ({row['frame']['mp_per_s']:.1f} MP/s){tail}")
    print(f"results: {args.out}")
    return 0


def add_eval_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval {dnd,synth,residual,runs,report,startup}`` on the ``denoise`` parser."""
    ev = subparsers.add_parser("eval", description="Evaluate denoisers.")
    sub = ev.add_subparsers(dest="eval_command", required=True, metavar="EVAL")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", default="auto", help="torch device for model:/bundle:…:torch (default auto)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _add(sub, "dnd", "denoise the DND raw benchmark and bundle a submission folder",
             "denoise eval dnd --data ~/data/dnd_2017 --out runs/dnd_student --method bundle:bundle/")
    p.add_argument("--data", required=True, help="DND folder holding info.mat and images_raw/")
    p.add_argument("--out", required=True, help="output folder; re-running resumes (crops already written are kept)")
    p.add_argument("--method", required=True, help=_METHOD_HELP)
    common(p)
    p.set_defaults(func=_eval_dnd)

    p = _add(sub, "synth", "score methods on held-out synthetic RAW scenes with ground truth (raw and sRGB PSNR/SSIM)",
             "denoise eval synth --method noisy --method bm3d --method model:runs/student/best.pt "
             "--out benchmarks/results/synth.json")
    p.add_argument("--method", action="append", required=True, help=f"repeatable: {_METHOD_HELP}")
    p.add_argument("--scenes", type=int, default=8, help="number of scenes (default 8)")
    p.add_argument("--levels", type=_floats, default=list(BENCH_A),
                   help="comma-separated shot-noise terms a (default the five benchmark levels 1e-4 … 2e-2)")
    p.add_argument("--size", type=int, default=BENCH_SIZE, help=f"crop size in Bayer pixels (default {BENCH_SIZE})")
    p.add_argument("--out", default="benchmarks/results/synth.json", help="results JSON (plots are written beside it)")
    p.add_argument("--reuse", metavar="RESULTS.json",
                   help="copy the rows of methods already scored in this earlier results file of the same benchmark")
    p.add_argument("--grid-method", action="append", metavar="NAME",
                   help="repeatable: a method shown in the crop grid (default: the first six methods run)")
    common(p)
    p.set_defaults(func=_eval_synth)

    p = _add(sub, "residual", "check on real RAW files (no ground truth) that what a method removes looks like noise",
             "denoise eval residual photos/ --method bundle:bundle/ --out benchmarks/results/residual.json")
    p.add_argument("inputs", nargs="+", help="RAW files or folders of them")
    p.add_argument("--method", required=True, help=_METHOD_HELP)
    p.add_argument("--noise", default="auto", help="auto (file metadata, else estimate) | estimate | a,b")
    p.add_argument("--out", default="benchmarks/results/residual.json", help="results JSON")
    common(p)
    p.set_defaults(func=_eval_residual)

    p = _add(sub, "runs", "compare training runs: validation PSNR at equal steps, params, MACs, training time",
             "denoise eval runs runs/student_pixel runs/student_plain --out benchmarks/results/training.json")
    p.add_argument("runs", nargs="+", help="run directories (config.yaml, run.json, metrics.jsonl, best.pt)")
    p.add_argument("--out", default="benchmarks/results/training.json", help="results JSON")
    p.set_defaults(func=_eval_runs)

    p = _add(sub, "report", "render BENCHMARKS.md from a folder of results JSON files",
             "denoise eval report --results benchmarks/results --out BENCHMARKS.md")
    p.add_argument("--results", default="benchmarks/results", help="folder of results JSON files")
    p.add_argument("--out", default="BENCHMARKS.md", help="Markdown file to write")
    p.set_defaults(func=_eval_report)

    p = _add(sub, "startup", "time fresh processes: import denoise, denoise --help, denoise run on a 12 MP DNG",
             "denoise eval startup --out benchmarks/results/startup.json")
    p.add_argument("--bundle", help="bundle to run (default: the shipped one)")
    p.add_argument("--backend", default="onnx", choices=BACKENDS, help="bundle format to run (default onnx)")
    p.add_argument("--frame", type=_frame, default=FRAME_12MP,
                   help=f"frame WIDTHxHEIGHT in Bayer pixels (default {FRAME_12MP[1]}x{FRAME_12MP[0]}, 12 MP)")
    p.add_argument("--repeats", type=int, default=5, help="runs per command; the median is reported (default 5)")
    p.add_argument("--out", default="benchmarks/results/startup.json", help="results JSON")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_eval_startup)


def add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``bench`` (model cost) on the ``denoise`` parser."""
    p = _add(subparsers, "bench", "measure a model's cost: params, MACs, latency, MP/s, 12 MP end to end, peak memory",
             "denoise bench --model runs/student/best.pt --onnx-fp32 bundle/student.onnx "
             "--onnx-int8 bundle/student.int8.onnx --out benchmarks/results/cost.json")
    p.add_argument("--model", required=True, help="torch checkpoint (parameters and MACs are counted on it)")
    p.add_argument("--onnx-fp32", help="its fp32 ONNX export, to time with ONNX Runtime")
    p.add_argument("--onnx-int8", help="its INT8 ONNX export, to time with ONNX Runtime")
    p.add_argument("--onnx", type=_labelled, action="append", default=[], metavar="LABEL=FILE",
                   help="repeatable: another ONNX or ORT file to time (fp16, .ort, other INT8 layouts)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: its own, one per core)")
    p.add_argument("--graph-opt", choices=("disable", "basic", "extended", "all"),
                   help="ONNX Runtime graph optimization level (default: its own, all)")
    p.add_argument("--no-torch", action="store_true", help="leave the torch timing out")
    p.add_argument("--note", default="", help="a remark printed under the results table (e.g. machine load)")
    p.add_argument("--frame", type=_frame, default=FRAME_12MP,
                   help=f"frame WIDTHxHEIGHT in Bayer pixels (default {FRAME_12MP[1]}x{FRAME_12MP[0]}, 12 MP)")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE, help=f"tile size in packed pixels (default {DEFAULT_TILE})")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP,
                   help=f"tile overlap in packed pixels (default {DEFAULT_OVERLAP})")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported (default 3)")
    p.add_argument("--no-e2e", action="store_true", help="skip the end-to-end DNG run")
    p.add_argument("--out", default="benchmarks/results/cost.json", help="results JSON")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_bench)
