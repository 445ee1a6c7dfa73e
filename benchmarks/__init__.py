"""Benchmarks: each measures ours against a baseline in the same run and reports ratios (see README.md)."""
