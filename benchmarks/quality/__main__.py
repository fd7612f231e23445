"""`uv run python -m benchmarks.quality [--only table|sheet|perf] [--verbose]`."""

from __future__ import annotations

import argparse

from benchmarks.quality import perf, score, sheet


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--only", choices=["table", "sheet", "perf"])
    parser.add_argument("--verbose", action="store_true", help="print every photo's scores")
    args = parser.parse_args()
    failed = False
    if args.only in (None, "table"):
        scores = score.run_scores(verbose=args.verbose)
        print(score.table(scores))
        fails = score.check_targets(scores)
        print("quality targets:", "met" if not fails else "FAILED: " + "; ".join(fails))
        failed |= bool(fails)
    if args.only in (None, "sheet"):
        print("contact sheet:", sheet.write_sheet())
    if args.only in (None, "perf"):
        result = perf.run_perf()
        print(perf.describe(result))
        failed |= not result["targets_met"]
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
