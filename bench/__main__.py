"""`python -m bench`: the same as `rostersync bench`."""

from __future__ import annotations

import argparse
import sys

from bench.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench", description="measure rostersync against raw limits")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
