"""Benchmarks: how fast, how big, how it grows — each figure against a baseline measured in the same run.

Run `python -m bench --quick` (under two minutes) or `python -m bench` (the full sizes); results go to
docs/PERFORMANCE.md and docs/perf_nearest.png. See docs/PERFORMANCE.md for what each figure means.
"""
