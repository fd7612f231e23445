"""`uv run python -m benchmarks.quality [--only table|ablation|inpaint|sheet|perf] [--verbose]
[--split tune|validation|external] [--preset NAME ...]`.

--split and --preset narrow the table to one split and/or some presets, to iterate quickly; the
targets are only checked on a full validation run (every preset).

Exits non-zero when one of issue 11's targets is missed (quality targets on the validation
split; speed and memory on the 24-MP scans).
"""

from __future__ import annotations

import argparse

from benchmarks.quality import perf, score, sheet
from benchmarks.quality.degrade import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--only", choices=["table", "ablation", "inpaint", "sheet", "perf"])
    parser.add_argument("--verbose", action="store_true", help="print every photo's scores")
    parser.add_argument(
        "--split",
        choices=["tune", "validation", "external"],
        help="score one split only (default: tune and validation; external: skimage's sample "
        "photos, reported only)",
    )
    parser.add_argument(
        "--preset",
        action="append",
        choices=list(PRESETS),
        help="score only this preset (repeatable); targets are then not checked",
    )
    args = parser.parse_args()
    presets = tuple(args.preset) if args.preset else None
    failed = False
    if args.only in (None, "table"):
        for split in (args.split,) if args.split else ("tune", "validation"):
            scores = score.run_scores(split, verbose=args.verbose, presets=presets)
            print(f"\n### {split} split (mean gain {score.gain_db(scores):.2f} dB)\n")
            print(score.table(scores))
            if split == "validation" and presets is None:
                fails = score.check_targets(scores)
                print("\nquality targets:", "met" if not fails else "FAILED: " + "; ".join(fails))
                failed |= bool(fails)
    if args.only == "ablation":
        from benchmarks.quality import ablation

        print(ablation.run_ablation(verbose=args.verbose))
    if args.only == "inpaint":
        from benchmarks.quality import inpainting

        print(inpainting.run_comparison())
    if args.only in (None, "sheet"):
        print("contact sheet:", *sheet.write_sheet())
    if args.only in (None, "perf"):
        result = perf.run_perf()
        print(perf.describe(result))
        failed |= not result["targets_met"]
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
