"""Validation helpers for public entry points (scikit-learn style ``check_*``).

Each helper returns the validated value and raises :class:`ConfigError`
with a message that names the parameter, what is allowed and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from microexpr.errors import ConfigError, DatasetNotFoundError

T = TypeVar("T")

__all__ = ["check_positive_int", "check_choice", "check_positive_float", "check_existing_dir"]


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} == {value}, must be >= {minimum}")
    return value


def check_positive_float(value: object, name: str) -> float:
    """Return ``value`` as a float, raising if it is not a number ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number > 0, got {value!r}")
    if not value > 0:
        raise ConfigError(f"{name} == {value}, must be > 0")
    return float(value)


def check_choice(value: T, name: str, choices: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``choices``, else raise naming them."""
    allowed = list(choices)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_existing_dir(path: str | Path, name: str) -> Path:
    """Return ``path`` as a Path if it is an existing directory."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DatasetNotFoundError(f"{name}: folder {str(p)!r} does not exist")
    return p
