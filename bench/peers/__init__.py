"""Benchmark of flopwise against other counters (issue 7): `bash bench/peers/run.sh`."""
