"""On-disk feature cache keyed by the settings and by the frames the features come from.

Features of a clip are stored as ``<root>/<key>/<dataset>/<subject>/<clip>.npz``
where ``key`` is a hash of the preprocessing settings, so changing any
setting computes fresh features and never mixes old ones in.

Each entry also stores the clip's *source fingerprint*: the onset and apex
frame numbers and a SHA-256 of the bytes of the onset and apex files
(:func:`source_fingerprint`). An entry is served only when the clip's
fingerprint today equals the stored one, so a corrected apex in a coding sheet
(another frame number, another file) or a dataset re-rendered under the same
names is recomputed, never served stale. A content hash rather than the
files' size and modification time: copying or moving a dataset (which
changes the times) keeps its cache valid, and a re-rendered frame is caught
even when a copy tool preserved the old times or the file system's clock is
coarse; hashing two frames per clip costs far less than decoding the cached
arrays. Paths are not part of it, for the same reason.

Entries are written atomically (:mod:`microexpr._io`), so a killed run never
leaves a half-written one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from microexpr._io import atomic_write_npz, atomic_write_text

__all__ = ["FINGERPRINT_FIELD", "FeatureCache", "settings_key", "source_fingerprint"]

#: Name of the array holding the source fingerprint inside a cache entry.
FINGERPRINT_FIELD = "__source__"

_CHUNK = 1 << 20


def settings_key(settings: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable settings mapping."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def source_fingerprint(frames: Mapping[str, tuple[int, str | Path]]) -> str | None:
    """Fingerprint of the frames a clip's features are computed from.

    Parameters
    ----------
    frames : mapping of str to (int, path)
        Role (``onset``, ``apex``) -> (frame number, file).

    Returns
    -------
    str or None
        SHA-256 over the roles, frame numbers and file contents; None when a
        file cannot be read (the clip is then computed, and fails with its
        own message).
    """
    digest = hashlib.sha256()
    for role in sorted(frames):
        number, path = frames[role]
        try:
            content = _file_digest(Path(path))
        except OSError:
            return None
        digest.update(f"{role}:{number}:{content};".encode())
    return digest.hexdigest()


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

    def load(self, clip_key: str, fingerprint: str | None = None) -> dict[str, np.ndarray] | None:
        """Cached arrays of the clip, or None when absent, unreadable or stale.

        Parameters
        ----------
        clip_key : str
            ``dataset/subject/clip``.
        fingerprint : str, optional
            The clip's :func:`source_fingerprint` today; an entry stored with
            another one (or none) is stale. None serves any entry (for
            arrays that do not come from frame files).
        """
        path = self.path(clip_key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError):
            return None
        stored = arrays.pop(FINGERPRINT_FIELD, None)
        if fingerprint is not None and (stored is None or str(stored) != fingerprint):
            return None
        return arrays

    def save(
        self, clip_key: str, arrays: Mapping[str, np.ndarray], fingerprint: str | None = None
    ) -> None:
        """Store the clip's arrays (and its source fingerprint) atomically."""
        content = dict(arrays)
        if fingerprint is not None:
            content[FINGERPRINT_FIELD] = np.array(fingerprint)
        atomic_write_npz(self.path(clip_key), content)
