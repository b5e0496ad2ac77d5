"""The base class of the dataset readers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord

__all__ = ["ClipDataset"]


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
