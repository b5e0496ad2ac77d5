"""On-disk feature cache keyed by the preprocessing settings.

Features of a clip are stored as ``<root>/<key>/<dataset>/<subject>/<clip>.npz``
where ``key`` is a hash of the settings that produced them, so changing any
setting computes fresh features and never mixes old ones in. Each file is
written to a temporary name in the same folder and renamed into place, so a
killed run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FeatureCache", "atomic_write_bytes", "atomic_write_text", "settings_key"]


def settings_key(settings: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable settings mapping."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


class FeatureCache:
    """Feature cache for one set of preprocessing settings.

    Parameters
    ----------
    root : str or Path
        Cache folder (shared by all settings).
    settings : mapping
        The settings that determine the features; hashed into the key.
    """

    def __init__(self, root: str | Path, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)
        self.key = settings_key(self.settings)
        self.folder = Path(root) / self.key
        manifest = self.folder / "settings.json"
        if not manifest.exists():
            atomic_write_text(
                manifest, json.dumps(self.settings, indent=2, sort_keys=True, default=str)
            )

    def path(self, clip_key: str) -> Path:
        """File of the clip ``dataset/subject/clip``."""
        return self.folder / f"{clip_key}.npz"

    def load(self, clip_key: str) -> dict[str, np.ndarray] | None:
        """Cached arrays of the clip, or None when absent or unreadable."""
        path = self.path(clip_key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError):
            return None

    def save(self, clip_key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store the clip's arrays atomically."""
        import io

        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self.path(clip_key), buffer.getvalue())
