"""The ``denoise`` command: the composition root of the SDK (sub-commands import lazily)."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="denoise", description="Denoise camera RAW files with small on-device models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from training.cli import add_train_command

    add_train_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, KeyError) as err:
        print(f"denoise: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
