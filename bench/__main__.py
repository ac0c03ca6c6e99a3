"""``python -m bench`` (``make bench``): the benchmarks, run from a checkout — they are not part of the wheel."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench import FAMILIES, run_bench


def build_parser() -> argparse.ArgumentParser:
    """The options ``onescreen bench`` had, unchanged."""
    p = argparse.ArgumentParser(
        prog="python -m bench", description="benchmarks (budgets as ratios to a baseline in the same run)"
    )
    p.add_argument("--quick", action="store_true", help="small sizes, short runs (< 2 min)")
    p.add_argument("--ingest-seconds", type=float, help="sustained-ingest duration (default 60, quick 10; issue: 300)")
    p.add_argument("--only", help=f"comma-separated families: {','.join(FAMILIES)}")
    p.add_argument("--out", type=Path, help="folder for latest.json and logs (default .onescreen/bench)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the families; exit status 0 all passed, 1 a budget failed or a
    family errored, 2 unknown family."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    try:
        return run_bench(quick=args.quick, ingest_seconds=args.ingest_seconds, only=only, out_dir=args.out)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
