"""Benchmarks: one script per question, each printing its anchor beside it."""
