"""The dataset registry: readers by name.

Readers are registered by name (``casme``, ``casme2``, ``samm``, ``smic``,
``casme3a``, ``manifest``, ``synthetic``) and loaded with
:func:`load_dataset`; :func:`register_dataset` adds one.

The long-video datasets of the MEGC spotting protocol (``casme_sq``:
CAS(ME)^2, ``samm_lv``: SAMM Long Videos) have their own registry
(:func:`list_long_video_datasets`, :func:`load_long_videos`), since they
give videos with expression intervals rather than clips.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from microexpr.data._base import ClipDataset, LongVideoDataset
from microexpr.data.casme import Casme
from microexpr.data.casme2 import Casme2
from microexpr.data.casme3 import Casme3A
from microexpr.data.casme_sq import CasmeSq
from microexpr.data.manifest import Manifest, Synthetic
from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.data.samm import Samm
from microexpr.data.samm_lv import SammLongVideos
from microexpr.data.smic import Smic
from microexpr.errors import ConfigError, MicroexprWarning

__all__ = [
    "list_datasets",
    "list_long_video_datasets",
    "load_dataset",
    "load_long_videos",
    "open_dataset",
    "register_dataset",
    "register_long_video_dataset",
    "unknown_name",
]


_DATASETS: dict[str, Callable[..., ClipDataset]] = {}


def register_dataset(name: str, reader: Callable[..., ClipDataset]) -> None:
    """Register ``reader`` (called as ``reader(root, **options)``) under ``name``."""
    if name in _DATASETS:
        warnings.warn(
            f"dataset {name!r} registered twice; the later one wins", MicroexprWarning, stacklevel=2
        )
    _DATASETS[name] = reader


for _reader in (Casme, Casme2, Samm, Smic, Casme3A, Manifest, Synthetic):
    register_dataset(_reader.name, _reader)


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(_DATASETS)


def unknown_name(kind: str, name: str, known: list[str]) -> ConfigError:
    """The error for an unknown ``kind`` called ``name``, naming close matches and all known."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")


def open_dataset(name: str, root: str | Path, options: Mapping[str, Any]) -> ClipDataset:
    """Construct the reader of ``name`` on ``root`` with ``options`` (None values dropped).

    Raises
    ------
    ConfigError
        If the name or an option is unknown.
    """
    if name not in _DATASETS:
        raise unknown_name("dataset", name, list_datasets())
    return _call_reader("dataset", name, _DATASETS[name], root, options)


def load_dataset(
    name: str, root: str | Path, **options: Any
) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read the clips of one dataset.

    Parameters
    ----------
    name : str
        A registered dataset (:func:`list_datasets`).
    root : str or Path
        The user's copy of it.
    **options
        Reader options (``release``, ``sheet``, ``apex``, ``mapping``,
        ``clips``, ``apex_outside``...); None values are dropped so unset
        command-line options keep the reader's defaults.

    Returns
    -------
    records : list of ClipRecord
        Usable clips.
    issues : list of ClipIssue
        Every problem found (skipped clips, and kept clips with a remark).

    Raises
    ------
    ConfigError
        If the name or an option is unknown.
    DatasetNotFoundError
        If ``root`` is not a copy of the dataset.
    AnnotationError
        If its coding sheet cannot be parsed.
    """
    dataset = open_dataset(name, root, options)
    return dataset.records, dataset.issues


_LONG_VIDEO_DATASETS: dict[str, Callable[..., LongVideoDataset]] = {}


def register_long_video_dataset(name: str, reader: Callable[..., LongVideoDataset]) -> None:
    """Register a long-video reader (called as ``reader(root, **options)``) under ``name``."""
    if name in _LONG_VIDEO_DATASETS:
        warnings.warn(
            f"long-video dataset {name!r} registered twice; the later one wins",
            MicroexprWarning,
            stacklevel=2,
        )
    _LONG_VIDEO_DATASETS[name] = reader


for _lv_reader in (CasmeSq, SammLongVideos):
    register_long_video_dataset(_lv_reader.name, _lv_reader)


def list_long_video_datasets() -> list[str]:
    """Names of the registered long-video (spotting) datasets, sorted."""
    return sorted(_LONG_VIDEO_DATASETS)


def load_long_videos(name: str, root: str | Path, **options: Any) -> LongVideoDataset:
    """Read the videos and expression intervals of a long-video dataset.

    Parameters
    ----------
    name : str
        ``casme_sq`` or ``samm_lv`` (:func:`list_long_video_datasets`).
    root : str or Path
        The user's copy of it.
    **options
        Reader options (``sheet``); None values are dropped.

    Raises
    ------
    ConfigError
        If the name or an option is unknown.
    DatasetNotFoundError
        If ``root`` is not a copy of the dataset.
    AnnotationError
        If its sheet cannot be parsed.
    """
    if name not in _LONG_VIDEO_DATASETS:
        raise unknown_name("long-video dataset", name, list_long_video_datasets())
    return _call_reader("long-video dataset", name, _LONG_VIDEO_DATASETS[name], root, options)


def _call_reader(kind: str, name: str, reader: Callable[..., Any], root: Any, options: dict) -> Any:
    """Call a registered reader with the options it accepts (None means unset), or say which not."""
    options = {k: v for k, v in options.items() if v is not None}
    accepted = [
        p.name
        for p in inspect.signature(reader).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    stray = sorted(set(options) - set(accepted))
    if stray:
        raise ConfigError(
            f"{kind} {name!r}: unknown options {stray}; accepted: {', '.join(accepted) or 'none'}"
        )
    return reader(root, **options)
