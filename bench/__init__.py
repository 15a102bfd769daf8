"""Benchmarks: one command per figure, each measuring its baseline in the same run (see BENCHMARKS.md)."""
