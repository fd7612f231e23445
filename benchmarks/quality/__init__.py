"""Restoration quality benchmark of the classic engine (see docs/benchmarks.md).

Run: `uv run python -m benchmarks.quality` (all), or with `--only table|sheet|perf`.
"""
