"""Guanxi's benchmarks: ``python -m bench <scenario> ...`` (see bench/README.md)."""
