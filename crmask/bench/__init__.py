"""Benchmark data sets, runner and reports."""
