"""The check of a user's copy of a dataset or of a protocol's datasets.

:func:`check_dataset` validates a copy and returns a :class:`DatasetCheck`:
clips, subjects and class counts per dataset beside the published counts,
what the coding sheet holds (clips read, excluded by the mapping or the
official list, skipped and why), and the problems grouped by kind with
their counts and the first few examples (:func:`summarise_issues`), so a
partial copy reads as a few lines rather than one per missing folder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from microexpr._markdown import markdown_table
from microexpr.data._base import ClipDataset
from microexpr.data.protocols import ExpectedCounts, get_protocol, open_protocol
from microexpr.data.records import CLASS_NAMES, ISSUE_KINDS, ClipIssue, ClipRecord
from microexpr.data.registry import open_dataset
from microexpr.errors import ConfigError

__all__ = [
    "CountRow",
    "DatasetCheck",
    "IssueGroup",
    "check_dataset",
    "format_check",
    "summarise_issues",
]


@dataclass(frozen=True)
class CountRow:
    """Counts of one dataset (or the total) in a check.

    Attributes
    ----------
    dataset : str
    clips, subjects : int
        Usable clips and their subjects.
    classes : tuple of int
        Usable clips per class.
    skipped : int
        Clips not usable because of a problem.
    excluded : int
        Clips left out by the protocol (dropped emotions, not in the list).
    expected : ExpectedCounts, optional
        Published counts, when the protocol has them.
    read : int
        Clips read from the coding sheet (usable + skipped + excluded; the
        official list's clips absent from the sheet are not among them).
    skip_causes : tuple of (str, int)
        Skipped clips per kind of the problem that stopped them, most first.
    excluded_by : str
        What excluded clips (``the emotion mapping``, ``the official clip list``).
    """

    dataset: str
    clips: int
    subjects: int
    classes: tuple[int, ...]
    skipped: int
    excluded: int
    expected: ExpectedCounts | None = None
    read: int = 0
    skip_causes: tuple[tuple[str, int], ...] = ()
    excluded_by: str = "the emotion mapping"

    def sheet_line(self) -> str:
        """What the sheet holds, in one line.

        ``'casme2 sheet: 148 clips; 2 excluded by the emotion mapping; 134 skipped:
        frame folder missing; 12 usable'``.
        """
        parts = [f"{self.dataset} sheet: {self.read} clips"]
        if self.excluded:
            parts.append(f"{self.excluded} excluded by {self.excluded_by}")
        if self.skipped:
            causes = ", ".join(
                kind if len(self.skip_causes) == 1 else f"{count} {kind}"
                for kind, count in self.skip_causes
            )
            parts.append(f"{self.skipped} skipped: {causes}")
        parts.append(f"{self.clips} usable")
        return "; ".join(parts)


#: Examples shown per kind of problem by :func:`format_check`.
EXAMPLES = 3


@dataclass(frozen=True)
class IssueGroup:
    """The problems of one kind found by a check.

    Attributes
    ----------
    kind : str
        One of :data:`~microexpr.data.records.ISSUE_KINDS`, or the stage for
        issues without a kind.
    stage : str
        Where they were found (``annotation``, ``frames``, ``protocol``...).
    issues : tuple of ClipIssue
        All of them, in the order found.
    skipped : int
        Clips this kind of problem stopped (a clip counts under the last
        problem that was found with it).
    """

    kind: str
    stage: str
    issues: tuple[ClipIssue, ...]
    skipped: int

    @property
    def count(self) -> int:
        """Number of problems of this kind."""
        return len(self.issues)


def _skip_causes(issues: Sequence[ClipIssue], skipped: set[str]) -> dict[str, str]:
    # the problem that stopped a clip is the last one found with it
    causes: dict[str, str] = {}
    for issue in issues:
        if issue.key in skipped:
            causes[issue.key] = issue.kind or issue.stage
    return causes


def summarise_issues(issues: Sequence[ClipIssue], skipped: Iterable[str] = ()) -> list[IssueGroup]:
    """Group problems by kind, in :data:`~microexpr.data.records.ISSUE_KINDS` order.

    Parameters
    ----------
    issues : sequence of ClipIssue
    skipped : iterable of str
        Keys of the clips that were skipped (to count them per kind).

    Returns
    -------
    list of IssueGroup
        Known kinds first in their order, then the others by stage, most
        frequent first.
    """
    causes = Counter(_skip_causes(issues, set(skipped)).values())
    groups: dict[str, list[ClipIssue]] = {}
    for issue in issues:
        groups.setdefault(issue.kind or issue.stage, []).append(issue)
    order = {kind: i for i, kind in enumerate(ISSUE_KINDS)}
    kinds = sorted(groups, key=lambda k: (order.get(k, len(order)), -len(groups[k]), k))
    return [
        IssueGroup(kind, groups[kind][0].stage, tuple(groups[kind]), causes.get(kind, 0))
        for kind in kinds
    ]


@dataclass
class DatasetCheck:
    """Result of :func:`check_dataset`.

    Attributes
    ----------
    title : str
        What was checked (``'dataset casme2 at /data/CASME2'``, ``'protocol atscnn'``).
    class_names : tuple of str
    rows : list of CountRow
        One per dataset.
    total : CountRow, optional
        Sum over datasets (protocols only).
    issues : list of ClipIssue
        Every problem found.
    records : list of ClipRecord
        The usable clips.
    excluded : list of str
        Keys of the clips the protocol left out (not problems).
    """

    title: str
    class_names: tuple[str, ...]
    rows: list[CountRow]
    total: CountRow | None = None
    issues: list[ClipIssue] = field(default_factory=list)
    records: list[ClipRecord] = field(default_factory=list, repr=False)
    excluded: list[str] = field(default_factory=list, repr=False)

    @property
    def skipped(self) -> int:
        """Clips skipped because of a problem, over all datasets."""
        return sum(row.skipped for row in self.rows)

    def groups(self) -> list[IssueGroup]:
        """The problems grouped by kind (see :func:`summarise_issues`)."""
        kept = {r.key for r in self.records}
        skipped = {i.key for i in self.issues} - kept - set(self.excluded)
        return summarise_issues(self.issues, skipped)

    def format(self, *, markdown: bool = False, examples: int | None = EXAMPLES) -> str:
        """Return the counts, the sheets and the problems as text (see :func:`format_check`)."""
        return format_check(self, markdown=markdown, examples=examples)

    def __str__(self) -> str:
        return self.format()


def _unreadable(records: list[ClipRecord]) -> list[ClipIssue]:
    import cv2

    issues = []
    for record in records:
        for name, number in (("onset", record.onset), ("apex", record.apex)):
            path = record.frames[number]
            if cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None:
                issues.append(
                    ClipIssue(
                        record.key,
                        f"{name} frame {number} unreadable",
                        str(path),
                        "frames",
                        "frame unreadable",
                    )
                )
                break
    return issues


def _count(
    name: str,
    dataset: ClipDataset,
    class_names: tuple[str, ...],
    expected: ExpectedCounts | None,
    read_frames: bool,
    excluded_by: str,
) -> tuple[CountRow, list[ClipRecord], list[ClipIssue]]:
    issues = list(dataset.issues)
    records = dataset.records
    if read_frames:
        bad = _unreadable(records)
        issues += bad
        bad_keys = {i.key for i in bad}
        records = [r for r in records if r.key not in bad_keys]
    kept = {r.key for r in records}
    skipped = {i.key for i in issues} - kept - set(dataset.excluded)
    causes = Counter(_skip_causes(issues, skipped).values())
    unlisted = causes.pop("not in the coding sheet", 0)
    counts = Counter(r.label for r in records)
    row = CountRow(
        dataset=name,
        clips=len(records),
        subjects=len({r.subject for r in records}),
        classes=tuple(counts.get(i, 0) for i in range(len(class_names))),
        skipped=len(skipped),
        excluded=len(dataset.excluded),
        expected=expected,
        read=len(records) + len(skipped) - unlisted + len(dataset.excluded),
        skip_causes=tuple(sorted(causes.items(), key=lambda kc: (-kc[1], _rank(kc[0])))),
        excluded_by=excluded_by,
    )
    return row, records, issues


def _rank(kind: str) -> int:
    kinds = list(ISSUE_KINDS)
    return kinds.index(kind) if kind in kinds else len(kinds)


_OFFICIAL = "the official clip list"
_MAPPING = "the emotion mapping"


def check_dataset(
    dataset: str | None = None,
    root: str | Path | None = None,
    *,
    protocol: str | None = None,
    roots: Mapping[str, str | Path] | None = None,
    options: Mapping[str, Any] | None = None,
    selection: str = "official",
    read_frames: bool = True,
) -> DatasetCheck:
    """Validate a copy of a dataset, or of every dataset of a protocol.

    Reads the coding sheet(s), finds each clip's frames, and (with
    ``read_frames``) decodes each clip's onset and apex frame. Bad clips are
    listed, skipped and counted; only a root that is not the dataset or a
    sheet that cannot be parsed raises.

    Parameters
    ----------
    dataset : str, optional
        A registered dataset; give ``root`` with it.
    root : str or Path, optional
        The copy of ``dataset``.
    protocol : str, optional
        A composite protocol instead of one dataset; give ``roots`` with it.
    roots : mapping of str to str or Path, optional
        Root of each dataset of ``protocol``.
    options : mapping, optional
        Reader options: for a dataset, ``{option: value}``; for a protocol,
        ``{dataset: {option: value}}``.
    selection : {'official', 'mapping'}
        Clip selection of a protocol (see :func:`load_protocol`).
    read_frames : bool
        Decode the onset and apex frames to find unreadable files.

    Returns
    -------
    DatasetCheck

    Raises
    ------
    ConfigError
        If neither or both of ``dataset`` and ``protocol`` are given, or their
        root(s) are missing.
    DatasetNotFoundError, AnnotationError
        If a root is not its dataset or a sheet cannot be parsed.
    """
    if (dataset is None) == (protocol is None):
        raise ConfigError("give either dataset (with root) or protocol (with roots), not both")
    rows: list[CountRow] = []
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    excluded: list[str] = []
    if dataset is not None:
        if root is None:
            raise ConfigError(f"dataset {dataset!r}: root is required")
        opened = open_dataset(dataset, root, dict(options or {}))
        names = opened.class_names
        by = _OFFICIAL if (options or {}).get("clips") is not None else _MAPPING
        row, records, issues = _count(dataset, opened, names, None, read_frames, by)
        return DatasetCheck(
            f"dataset {dataset} at {root}",
            names,
            [row],
            None,
            issues,
            records,
            list(opened.excluded),
        )
    protocol = cast(str, protocol)
    if not roots:
        raise ConfigError(f"protocol {protocol!r}: roots are required (one per dataset)")
    spec = get_protocol(protocol)
    for part, opened in open_protocol(protocol, roots, options, selection):
        by = _OFFICIAL if part.official_list and selection == "official" else _MAPPING
        row, kept, found = _count(part.dataset, opened, CLASS_NAMES, part.expected, read_frames, by)
        rows.append(row)
        records += kept
        issues += found
        excluded += opened.excluded
    total = CountRow(
        dataset="total",
        clips=sum(r.clips for r in rows),
        subjects=len({r.group for r in records}),
        classes=tuple(sum(r.classes[i] for r in rows) for i in range(len(CLASS_NAMES))),
        skipped=sum(r.skipped for r in rows),
        excluded=sum(r.excluded for r in rows),
        expected=spec.expected,
    )
    return DatasetCheck(f"protocol {protocol}", CLASS_NAMES, rows, total, issues, records, excluded)


def format_check(
    check: DatasetCheck, *, markdown: bool = False, examples: int | None = EXAMPLES
) -> str:
    """Render a check: the counts table, what each sheet holds, the problems by kind.

    Counts are shown as ``found (published)`` when the protocol has
    published counts. Problems are grouped by kind, each with its count,
    the clips it stopped and its first ``examples`` occurrences.

    Parameters
    ----------
    check : DatasetCheck
    markdown : bool
        A Markdown table and lists instead of aligned plain text.
    examples : int or None
        Problems shown per kind; None shows every one.

    Returns
    -------
    str
    """
    header = ["dataset", "clips", "subjects", *check.class_names, "skipped", "excluded"]
    table = []
    for row in [*check.rows, *([check.total] if check.total else [])]:
        exp = row.expected

        def cell(value: int, published: int | None, exp: ExpectedCounts | None = exp) -> str:
            return f"{value} ({published})" if exp is not None else str(value)

        table.append(
            [
                row.dataset,
                cell(row.clips, exp.clips if exp else None),
                cell(row.subjects, exp.subjects if exp else None),
                *(cell(n, exp.classes[i] if exp else None) for i, n in enumerate(row.classes)),
                str(row.skipped),
                str(row.excluded),
            ]
        )
    published = any(r.expected for r in check.rows)
    lines = [f"{'# ' if markdown else ''}Check of {check.title}", ""]
    if published:
        lines += ["Counts found (published counts in brackets).", ""]
    if markdown:
        import pandas as pd  # imported when used: `microexpr --help` starts faster

        lines += markdown_table(pd.DataFrame(table, columns=header)).splitlines()
    else:
        widths = [max(len(x) for x in col) for col in zip(header, *table, strict=True)]
        for cells in [header, *table]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    lines.append("")
    bullet, indent = ("- ", "  - ") if markdown else ("  ", "      ")
    lines += [f"{bullet}{row.sheet_line()}" for row in check.rows]
    lines.append("")
    if not check.issues:
        lines.append("No problems found.")
        return "\n".join(lines)
    lines.append(f"{len(check.issues)} problem(s); {check.skipped} clip(s) skipped:")
    for group in check.groups():
        stopped = f", {group.skipped} clip(s) skipped" if group.skipped else ""
        lines.append(f"{bullet}{group.kind} [{group.stage}]: {group.count} problem(s){stopped}")
        shown = group.issues if examples is None else group.issues[:examples]
        for issue in shown:
            where = f" ({issue.path})" if issue.path else ""
            lines.append(f"{indent}{issue.key}: {issue.reason}{where}")
        if len(shown) < group.count:
            lines.append(f"{indent}... and {group.count - len(shown)} more")
    return "\n".join(lines)
