"""Other Python stream-processing libraries doing the benchmark's job, each in its own virtual environment.

Quix Streams 3.28 needs confluent-kafka < 2.13 and lmnh-pipes uses 2.16, so a peer never shares the project's
environment: :mod:`benchmarks.peers.environment` makes ``benchmarks/.peers-venv`` and the harness runs a peer's
worker (:mod:`benchmarks.peers.quix_worker`) there as a subprocess, with the repository on its ``PYTHONPATH``.
"""
