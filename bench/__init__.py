"""Benchmarks of the ODR platform (not part of `make test`); see bench/README.md."""
