"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

A reader never sees a half-written file, and a killed run leaves either the
old file or the new one (plus, at worst, a hidden ``.name.*.tmp`` beside it).
Every module that writes results, caches or checkpoints uses these helpers.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from microexpr.errors import ConfigError

__all__ = [
    "check_output_folder",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_npz",
    "atomic_write_text",
    "atomic_torch_save",
]


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(handle)`` on a temporary file, then rename it to ``path``.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if missing.
    write : callable
        Writes the content to the binary file handle it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value: Any, *, indent: int | None = 2) -> Path:
    """Write ``value`` as JSON (with a final newline) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(value, indent=indent) + "\n")


def atomic_write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` as a compressed ``.npz`` to ``path`` atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def atomic_torch_save(path: str | Path, obj: object) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))


def check_output_folder(out: str | Path) -> Path:
    """Create the output folder ``out`` (with its parents), or raise saying why it cannot be.

    Raises
    ------
    ConfigError
        ``out`` is a file, or cannot be created (a parent is a file, no permission).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder {str(out)!r} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"output folder {str(out)!r} cannot be created ({exc.strerror or exc})"
        ) from exc
    return out
