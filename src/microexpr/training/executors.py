"""Executors that run the engine's fold jobs: chosen by name.

``serial`` runs jobs one after another in this process. Other executors
(worker processes, Ray) register here too; every executor yields the same
results for the same jobs (training is seeded per job and runs on the CPU
deterministically).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from microexpr.errors import ConfigError
from microexpr.training.engine import Executor, SerialExecutor

__all__ = ["EXECUTORS", "make_executor"]

EXECUTORS: dict[str, Callable[..., Executor]] = {
    "serial": lambda threads=None, **_: SerialExecutor(threads),
}


def make_executor(kind: str, **options: Any) -> Executor:
    """Build the executor called ``kind`` with its options (unset ones dropped)."""
    if kind not in EXECUTORS:
        raise ConfigError(f"executor must be one of {sorted(EXECUTORS)}, got {kind!r}")
    return EXECUTORS[kind](**{k: v for k, v in options.items() if v is not None})
