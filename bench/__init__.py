"""Benchmarks with budgets (see docs/performance.md)."""
