"""Local stand-up of real parts for tests, benchmarks and the demo (not shipped)."""
