"""Benchmarks of the platform, run with `make bench`; results land in `bench/results/`."""
