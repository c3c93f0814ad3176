"""Benchmarks: each bench_*.py measures one target and writes its section of docs/benchmarks.md."""
