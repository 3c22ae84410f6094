"""Speed and memory benchmarks (not part of the test run). See benchmarks/README.md."""
