"""The base classes of the dataset readers: clips (recognition) and long videos (spotting)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord, LongVideo

__all__ = ["ClipDataset", "LongVideoDataset"]


class ClipDataset:
    """Base of the dataset readers: the clips of one dataset, read at construction.

    Subclasses set :attr:`name` and :attr:`title` and fill :attr:`records`,
    :attr:`issues` and :attr:`excluded` in ``__init__``.

    Attributes
    ----------
    records : list of ClipRecord
        The usable clips.
    issues : list of ClipIssue
        Every problem found; clips with a problem that stops their use are
        not in ``records``.
    excluded : list of str
        Keys of the clips left out by the protocol (dropped emotions, not in
        the official list), which are not problems.
    class_names : tuple of str
        Names of the classes the labels index.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __init__(self) -> None:
        self.records: list[ClipRecord] = []
        self.issues: list[ClipIssue] = []
        self.excluded: list[str] = []
        self.class_names: tuple[str, ...] = CLASS_NAMES

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> ClipRecord:
        return self.records[index]

    def __iter__(self) -> Iterator[ClipRecord]:
        return iter(self.records)

    @property
    def subjects(self) -> list[str]:
        """Subjects with at least one usable clip, sorted."""
        return sorted({r.subject for r in self.records})

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.records)} clips, {len(self.subjects)} subjects, "
            f"{len(self.issues)} issues)"
        )


class LongVideoDataset:
    """Base of the long-video readers (spotting): every video and its annotated expressions.

    Subclasses set :attr:`name`, :attr:`title` and :attr:`fps` and fill
    :attr:`videos` and :attr:`issues` in ``__init__``.

    Attributes
    ----------
    videos : list of LongVideo
        Videos with frames on disk, with their usable intervals (possibly none).
    issues : list of ClipIssue
        Every problem found with a sheet row (skipped rows and kept ones
        with a remark).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    fps: ClassVar[float] = 30.0

    def __init__(self) -> None:
        self.videos: list[LongVideo] = []
        self.issues: list[ClipIssue] = []

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[LongVideo]:
        return iter(self.videos)

    def counts(self) -> dict[str, int]:
        """Videos, and usable intervals by kind."""
        out = {"videos": len(self.videos), "micro": 0, "macro": 0}
        for video in self.videos:
            for interval in video.intervals:
                out[interval.kind] += 1
        return out

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"{type(self).__name__}({c['videos']} videos, {c['micro']} micro and "
            f"{c['macro']} macro intervals, {len(self.issues)} issues)"
        )
