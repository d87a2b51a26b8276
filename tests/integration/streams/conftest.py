"""Every test here starts workers: run each under both worker engines."""

from tests.worker_engine import worker_engine

__all__ = ["worker_engine"]
