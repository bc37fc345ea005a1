"""Benchmarks of duesflow against the running stack (not tests): ``python -m bench.run --help``."""
