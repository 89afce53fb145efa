"""Throughput benchmarks of lmnh-pipes against a naive and a hand-tuned consumer: see BENCHMARKS.md.

Run ``python benchmarks/run.py`` from the repository root; the modules here are its parts.
"""
