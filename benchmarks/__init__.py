"""Benchmarks: runnable measurements whose results are recorded in docs/benchmarks.md."""
