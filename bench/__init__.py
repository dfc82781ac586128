"""Benchmarks: each prints ratios against a reference run made in the same process."""
