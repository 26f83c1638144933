"""``denoise train teacher|student|specialists|compare --recipe FILE``: the training sub-command."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  denoise train teacher --recipe training/recipes/teacher.yaml --out runs/teacher
  denoise train student --recipe training/recipes/student_fm.yaml --out runs/student_fm --max-minutes 100
  denoise train student --recipe training/recipes/student_fm.yaml --out runs/student_fm --resume
  denoise train specialists --recipe training/recipes/specialists.yaml --out runs/specialists
  denoise train compare --recipe training/recipes/compare.yaml --out runs/compare --max-minutes 100
  denoise train pipeline --recipe training/recipes/shipped.yaml --out runs   (teacher → students → specialists)
  torchrun --nproc_per_node 4 -m denoise.cli train student --recipe … --out …   (DDP)
"""


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", description="Train from a versioned recipe (YAML) into a self-describing run dir.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["teacher", "student", "specialists", "compare", "pipeline"],
                   help="what the recipe trains (compare: every distillation strategy at equal budget; "
                        "pipeline: every shipped model in phases with calibrated step counts)")
    p.add_argument("--recipe", required=True, type=Path, help="recipe YAML, e.g. training/recipes/teacher.yaml")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest.pt")
    p.add_argument("--max-minutes", type=float, help="stop cleanly after this long (resume later), e.g. 90")
    p.add_argument("--steps", type=int, help="override optim.steps of the recipe, e.g. 200 for a smoke run; with "
                                             "--resume, the run's new end (not below the step it reached)")
    p.add_argument("--specialist", type=int, metavar="K",
                   help="specialists: train only specialist K (run K processes side by side, then once without)")
    p.add_argument("--arm", action="append", metavar="NAME",
                   help="compare: train only this arm (repeatable; run several processes side by side, then once "
                        "without to benchmark)")
    p.add_argument("--export-dir", type=Path,
                   help="pipeline: after each phase, pack its run dirs into ≤ 15 MiB tars here (to copy them off a machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.jsonl)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from .train import load_recipe, train

    if args.what == "compare":
        from .compare import compare_from_cli

        return compare_from_cli(args.recipe, args.out, args.resume, args.max_minutes, args.steps,
                                not args.no_progress, args.arm)
    if args.arm:
        raise ValueError("--arm selects arms of a comparison: use it with 'denoise train compare'")
    if args.what == "pipeline":
        from .pipeline import run_pipeline

        run_pipeline(args.recipe, args.out or Path("runs"), args.resume, args.export_dir, not args.no_progress)
        return 0
    overrides = {"optim": {"steps": args.steps}} if args.steps else {}
    config = load_recipe(args.recipe, overrides)
    kind = config["kind"]
    if args.what == "specialists":
        from .specialists import train_specialists

        out = args.out or Path("runs") / config["name"]
        train_specialists(config, out, resume=args.resume, max_minutes=args.max_minutes, progress=not args.no_progress,
                          only=args.specialist, steps=args.steps)
        return 0
    if kind != args.what:
        raise ValueError(f"{args.recipe}: recipe trains a {kind!r}, not a {args.what!r}")
    train(config, args.out or Path("runs") / config["name"], resume=args.resume, max_minutes=args.max_minutes,
          progress=not args.no_progress, steps=args.steps)
    return 0
