"""Summarize `py-spy record --format raw` output (collapsed stacks, one `frame;frame;... count` a
line), as written by `benchmarks.worker_throughput --profile DIR`.

Prints the share of samples (with `--gil`: of GIL-holding samples) spent in each category (the
first category whose pattern matches any frame of a stack, in the order below), then the functions
with the most inclusive samples. `--match` keeps only stacks through a frame containing the text.

    uv run python -m benchmarks.profile_summary /tmp/prof/current/worker.txt [--top 40]
        [--match run_restore_attempt]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (category, regular expression over one frame "function (file:line)"), first match wins
CATEGORIES: list[tuple[str, str]] = [
    ("S3 (boto3/botocore)", r"botocore/|boto3/|s3transfer/"),
    ("live events (Redis bus)", r"rekindle/events/"),
    ("budgets (Redis)", r"rekindle/engines/budget\.py"),
    ("PostgreSQL (SQLAlchemy + psycopg)", r"sqlalchemy/|psycopg/|psycopg_pool/"),
    ("imaging (Pillow, numpy, cv2)", r"PIL/|rekindle/imaging/|numpy/|cv2"),
    ("provider HTTP (httpx)", r"httpx/|httpcore/|rekindle/engines/"),
    ("Celery / kombu", r"celery/|kombu/|billiard/|vine/"),
    ("Redis (other)", r"redis/"),
    ("logging", r"logging/|rekindle/logcontext\.py"),
    ("FastAPI / Starlette / pydantic", r"fastapi/|starlette/|pydantic|uvicorn/|anyio/"),
    ("JSON", r"json/"),
]


def read(path: Path, match: str | None) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = tuple(head.split(";"))
        if match is not None and not any(match in frame for frame in frames):
            continue
        stacks[frames] += int(count)
    return stacks


def summarize(stacks: Counter[tuple[str, ...]], top: int) -> str:
    total = sum(stacks.values()) or 1
    patterns = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]
    by_category: Counter[str] = Counter()
    for frames, count in stacks.items():
        category = "other"
        for name, pattern in patterns:
            if any(pattern.search(frame) for frame in frames):
                category = name
                break
        by_category[category] += count
    lines = [f"{total} samples"]
    lines += [f"{100 * n / total:5.1f} %  {name}" for name, n in by_category.most_common()]
    lines.append("")
    lines.append("inclusive, top functions:")
    # lines differ per call site: fold them (the same function at several lines counts once)
    folded: Counter[str] = Counter()
    for frames, count in stacks.items():
        for frame in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            folded[frame] += count
    lines += [f"{100 * n / total:5.1f} %  {name}" for name, n in folded.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default=None, help="only stacks through a frame with this text")
    args = parser.parse_args()
    for path in args.files:
        print(f"== {path}")
        print(summarize(read(path, args.match), args.top))
        print()


if __name__ == "__main__":
    main()
