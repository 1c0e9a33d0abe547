"""The benchmark suite of `make bench` / `make bench-quick` (see bench/README.md)."""
