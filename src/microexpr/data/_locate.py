"""Locating a dataset copy on disk: its coding sheet and the folder of its frames.

Releases nest their folders differently (``CASME2_RAW_selected/sub01`` or
``CASME2_RAW_selected/CASME2_RAW_selected/sub01``, cropped frames named
``reg_img46.jpg``); these helpers find the sheet and the folder holding the
sheet's subject folders, or raise :class:`~microexpr.errors.DatasetNotFoundError`
naming the root and what was expected there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from microexpr._validation import check_choice
from microexpr.errors import DatasetNotFoundError

__all__ = [
    "Releases",
    "check_root",
    "find_frames_dir",
    "find_release",
    "find_sheets",
    "frames_not_found",
]


def find_sheets(
    root: Path,
    patterns: Sequence[str],
    *,
    title: str,
    sheet: str | Path | None = None,
) -> list[Path]:
    """Find a dataset's coding sheet(s) in ``root`` or its direct subfolders.

    Parameters
    ----------
    root : Path
        Dataset root (must exist).
    patterns : sequence of str
        Glob patterns of the sheet's known file names, most specific first.
    title : str
        Dataset name for messages (``'CASME II'``).
    sheet : str or Path, optional
        An explicit sheet: returned as is if it exists.

    Returns
    -------
    list of Path
        Matches of the first pattern that matches anything, newest name first.

    Raises
    ------
    DatasetNotFoundError
        If ``sheet`` does not exist, or nothing matches.
    """
    if sheet is not None:
        path = Path(sheet).expanduser()
        if not path.is_file():
            raise DatasetNotFoundError(f"{title} coding sheet {str(path)!r} does not exist")
        return [path]
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    for pattern in patterns:
        found = sorted(
            {
                p
                for folder in folders
                for p in folder.glob(pattern)
                if p.is_file() and not p.name.startswith("~$")
            },
            key=lambda p: p.name,
            reverse=True,
        )
        if found:
            return found
    raise DatasetNotFoundError(
        f"{root} does not look like a {title} copy: expected its coding sheet "
        f"({' or '.join(patterns)}) in that folder or a direct subfolder; "
        "name it with sheet=PATH (--sheet on the command line)"
    )


def check_root(root: str | Path, title: str) -> Path:
    """Return ``root`` as a Path, raising DatasetNotFoundError if it is not a folder."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"{title} root {str(path)!r} does not exist or is not a folder")
    return path


def find_frames_dir(
    root: Path,
    subject_dirs: Iterable[str],
    candidates: Sequence[str] = (".",),
    *,
    max_depth: int | None = 3,
) -> Path | None:
    """Find the folder that holds the subject folders of a dataset.

    ``candidates`` (relative to ``root``) are tried first, then every folder
    under ``root`` down to ``max_depth`` (None: none), breadth first (releases nest their
    folders differently: ``CASME2_RAW_selected/CASME2_RAW_selected/sub01``).

    Returns
    -------
    Path or None
        The first folder holding at least one of ``subject_dirs``.
    """
    names = set(subject_dirs)

    def holds(folder: Path) -> bool:
        return any((folder / n).is_dir() for n in names)

    for candidate in candidates:
        folder = root / candidate
        if folder.is_dir() and holds(folder):
            return folder
    if max_depth is None:
        return None
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    while queue:
        folder, depth = queue.popleft()
        if holds(folder):
            return folder
        if depth < max_depth:
            queue.extend((child, depth + 1) for child in sorted(folder.iterdir()) if child.is_dir())
    return None


def frames_not_found(
    root: Path, title: str, subject_dirs: Iterable[str], example: str
) -> DatasetNotFoundError:
    """Return the error for a root where no folder holds the sheet's subject folders."""
    subjects = sorted(set(subject_dirs))
    shown = ", ".join(subjects[:3]) + (", ..." if len(subjects) > 3 else "")
    return DatasetNotFoundError(
        f"{root} does not look like a {title} copy: no folder under it holds the "
        f"subject folders of its sheet ({shown}); expected frames such as {example}"
    )


#: Release name -> (folders relative to the root where it usually is, frame file prefix).
Releases = Mapping[str, tuple[tuple[str, ...], str | None]]


def find_release(
    root: Path,
    releases: Releases,
    release: str,
    subject_dirs: Iterable[str],
    *,
    title: str,
    example: str,
) -> tuple[Path, str | None]:
    """Find the frames folder of a release and the prefix of its frame files.

    Parameters
    ----------
    root : Path
        Dataset root.
    releases : mapping
        Release name -> (usual folders relative to ``root``, frame prefix).
    release : str
        ``'auto'`` (the first release found, in ``releases`` order) or a name.
    subject_dirs : iterable of str
        Subject folder names expected (from the sheet).
    title, example : str
        Dataset name and an example frame path, for the error message.

    Returns
    -------
    folder : Path
        Folder holding the subject folders.
    prefix : str or None
        Frame file prefix of the release (``reg_`` for cropped releases).

    Raises
    ------
    DatasetNotFoundError
        If no folder under ``root`` holds any of the subject folders.
    """
    check_choice(release, "release", ["auto", *releases])
    subjects = sorted(set(subject_dirs))
    names = list(releases) if release == "auto" else [release]
    for name in names:
        folder = find_frames_dir(root, subjects, releases[name][0], max_depth=None)
        if folder is not None:
            return folder, releases[name][1]
    folder = find_frames_dir(root, subjects)
    if folder is None:
        raise frames_not_found(root, title, subjects, example)
    if release != "auto":
        return folder, releases[release][1]
    prefixes = {p for _, p in releases.values() if p}
    for subject in subjects:
        for clip in sorted((folder / subject).glob("*")):
            for prefix in prefixes:
                if clip.is_dir() and any(clip.glob(f"{prefix}*")):
                    return folder, prefix
    return folder, None
