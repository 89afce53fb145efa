"""Other Python stream-processing libraries doing the benchmark's job, in an environment of their own.

Quix Streams 3.28 needs confluent-kafka < 2.13 and lmnh-pipes uses 2.16, so the peers never share the project's
environment: :mod:`benchmarks.peers.environment` makes ``benchmarks/.peers-venv`` and :mod:`benchmarks.peer_runs`
runs a peer's worker (:mod:`~benchmarks.peers.quix_worker`, :mod:`~benchmarks.peers.bytewax_worker`) there as a
subprocess, with the repository on its ``PYTHONPATH``.
"""
