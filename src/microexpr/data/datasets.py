"""Dataset registry, composite protocols and the check of a user's copy.

Readers are registered by name (``casme``, ``casme2``, ``samm``, ``smic``,
``casme3a``, ``manifest``, ``synthetic``) and loaded with
:func:`load_dataset`; the composites of the paper (``atscnn``) and of
MEGC2019 (``megc2019``) with :func:`load_protocol`. :func:`check_dataset`
validates a copy and returns a :class:`DatasetCheck`: clips, subjects and
class counts per dataset beside the published counts, and every problem.

Protocols (SPEC section 3):

* ``atscnn``: CASME (emotion mapping; 104 clips, 15 subjects) + CASME II
  (145, 24) + SAMM (133, 28) = 382 clips, 67 subjects.
* ``megc2019``: CASME II (145, 24) + SAMM (133, 28) + SMIC-HS (164, 16) =
  442 clips, 68 subjects.

CASME II and SAMM are selected by the official MEGC2019 clip list in both:
the paper's CASME II and SAMM counts (88/32/25 and 92/26/15) are exactly
those of that list, while mapping the emotions of the 2019-07-01 CASME II
coding sheet gives 150 clips (90/32/28); see :mod:`microexpr.data.mappings`.
``selection='mapping'`` selects by the emotion mapping instead.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from microexpr._validation import check_choice
from microexpr.data._sheets import ClipDataset
from microexpr.data.casme import Casme
from microexpr.data.casme2 import Casme2
from microexpr.data.casme3 import Casme3A
from microexpr.data.manifest import Manifest
from microexpr.data.mappings import official_clips
from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord, read_annotation_csv
from microexpr.data.samm import Samm
from microexpr.data.smic import Smic
from microexpr.errors import ConfigError, MicroexprWarning

__all__ = [
    "PROTOCOLS",
    "CountRow",
    "DatasetCheck",
    "ExpectedCounts",
    "Protocol",
    "ProtocolPart",
    "Synthetic",
    "check_dataset",
    "format_check",
    "list_datasets",
    "list_protocols",
    "load_dataset",
    "load_protocol",
    "register_dataset",
]


class Synthetic(ClipDataset):
    """Clips of the synthetic generator: ``root/annotations.csv`` and its frame folders.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations.csv`` (or the CSV itself).
    """

    name = "synthetic"
    title = "synthetic"

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        path = Path(root).expanduser()
        if path.is_dir():
            path = path / "annotations.csv"
        self.records, self.issues = read_annotation_csv(path)
        if self.records:
            self.class_names = self.records[0].class_names


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


def _unknown(kind: str, name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")


def _open(name: str, root: str | Path, options: Mapping[str, Any]) -> ClipDataset:
    if name not in _DATASETS:
        raise _unknown("dataset", name, list_datasets())
    reader = _DATASETS[name]
    options = {k: v for k, v in options.items() if v is not None}
    accepted = [
        p.name
        for p in inspect.signature(reader).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    stray = sorted(set(options) - set(accepted))
    if stray:
        raise ConfigError(
            f"dataset {name!r}: unknown options {stray}; accepted: {', '.join(accepted) or 'none'}"
        )
    return reader(root, **options)


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
    dataset = _open(name, root, options)
    return dataset.records, dataset.issues


@dataclass(frozen=True)
class ExpectedCounts:
    """Published counts of a dataset in a protocol.

    Attributes
    ----------
    clips, subjects : int
    classes : tuple of int
        Clips per class, in ``CLASS_NAMES`` order.
    """

    clips: int
    subjects: int
    classes: tuple[int, ...]


@dataclass(frozen=True)
class ProtocolPart:
    """One dataset of a composite protocol.

    Attributes
    ----------
    dataset : str
        Registered dataset name.
    official_list : bool
        Whether the clips are selected by the MEGC2019 clip list.
    expected : ExpectedCounts
        The published counts.
    defaults : mapping of str to object
        Reader options the protocol sets unless the user sets them.
    """

    dataset: str
    official_list: bool
    expected: ExpectedCounts
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Protocol:
    """A composite protocol: several datasets, three classes, LOSO over all subjects."""

    name: str
    description: str
    parts: tuple[ProtocolPart, ...]
    expected: ExpectedCounts


# The official list (and the paper's counts) include SAMM's two clips whose apex
# lies outside onset..offset: keep them when their frames are there (still reported).
_KEEP = {"apex_outside": "keep"}

PROTOCOLS: dict[str, Protocol] = {
    "atscnn": Protocol(
        "atscnn",
        "the ATSCNN paper's composite: CASME + CASME II + SAMM",
        (
            ProtocolPart("casme", False, ExpectedCounts(104, 15, (82, 7, 15))),
            ProtocolPart("casme2", True, ExpectedCounts(145, 24, (88, 32, 25)), _KEEP),
            ProtocolPart("samm", True, ExpectedCounts(133, 28, (92, 26, 15)), _KEEP),
        ),
        ExpectedCounts(382, 67, (262, 65, 55)),
    ),
    "megc2019": Protocol(
        "megc2019",
        "the MEGC2019 composite: CASME II + SAMM + SMIC-HS",
        (
            ProtocolPart("casme2", True, ExpectedCounts(145, 24, (88, 32, 25)), _KEEP),
            ProtocolPart("samm", True, ExpectedCounts(133, 28, (92, 26, 15)), _KEEP),
            ProtocolPart("smic", True, ExpectedCounts(164, 16, (70, 51, 43))),
        ),
        ExpectedCounts(442, 68, (250, 109, 83)),
    ),
}

#: How a protocol selects the clips of CASME II, SAMM and SMIC-HS.
SELECTIONS = ("official", "mapping")


def list_protocols() -> list[str]:
    """Names of the composite protocols, sorted."""
    return sorted(PROTOCOLS)


def _protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise _unknown("protocol", name, list_protocols())
    return PROTOCOLS[name]


def _open_protocol(
    name: str,
    roots: Mapping[str, str | Path],
    options: Mapping[str, Mapping[str, Any]] | None,
    selection: str,
) -> list[tuple[ProtocolPart, ClipDataset]]:
    protocol = _protocol(name)
    check_choice(selection, "selection", SELECTIONS)
    needed = [part.dataset for part in protocol.parts]
    missing = [d for d in needed if d not in roots]
    stray = sorted(set(roots) - set(needed))
    if missing or stray:
        raise ConfigError(
            f"protocol {name!r} needs roots for {', '.join(needed)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not part of it: {', '.join(stray)}" if stray else "")
        )
    options = dict(options or {})
    stray = sorted(set(options) - set(needed))
    if stray:
        raise ConfigError(
            f"protocol {name!r}: options given for {', '.join(stray)}, which it does not use "
            f"(its datasets: {', '.join(needed)})"
        )
    opened = []
    for part in protocol.parts:
        part_options = {**part.defaults, **(options.get(part.dataset) or {})}
        if part.official_list and selection == "official":
            part_options.setdefault("clips", official_clips(part.dataset))
        opened.append((part, _open(part.dataset, roots[part.dataset], part_options)))
    return opened


def load_protocol(
    name: str,
    roots: Mapping[str, str | Path],
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    selection: str = "official",
    **dataset_options: Mapping[str, Any],
) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read the clips of a composite protocol.

    Parameters
    ----------
    name : {'atscnn', 'megc2019'}
        The protocol.
    roots : mapping of str to str or Path
        Root of each of its datasets (``{'casme2': ..., 'samm': ..., 'smic': ...}``).
    options : mapping of str to mapping, optional
        Reader options per dataset (``{'casme2': {'release': 'cropped'}}``).
    selection : {'official', 'mapping'}
        Select CASME II, SAMM and SMIC-HS clips by the MEGC2019 clip list
        (the published counts, whatever the version of the coding sheet) or
        by mapping the emotions of the user's sheet.
    **dataset_options
        Reader options per dataset as keywords (``casme2={'release': 'cropped'}``),
        merged with ``options``: a config's ``data.options`` can be passed as
        ``**options``.

    Returns
    -------
    records : list of ClipRecord
        Usable clips of all datasets; ``record.group`` (``dataset/subject``)
        keeps subjects of different datasets apart.
    issues : list of ClipIssue
        Every problem found.

    Raises
    ------
    ConfigError
        If the protocol is unknown or a root is missing.
    DatasetNotFoundError, AnnotationError
        If a root is not its dataset or a sheet cannot be parsed.
    """
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    merged = {**(options or {}), **dataset_options}
    for _, dataset in _open_protocol(name, roots, merged, selection):
        records += dataset.records
        issues += dataset.issues
    return records, issues


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
    """

    dataset: str
    clips: int
    subjects: int
    classes: tuple[int, ...]
    skipped: int
    excluded: int
    expected: ExpectedCounts | None = None


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
    """

    title: str
    class_names: tuple[str, ...]
    rows: list[CountRow]
    total: CountRow | None = None
    issues: list[ClipIssue] = field(default_factory=list)
    records: list[ClipRecord] = field(default_factory=list, repr=False)

    @property
    def skipped(self) -> int:
        """Clips skipped because of a problem, over all datasets."""
        return sum(row.skipped for row in self.rows)

    def format(self, *, markdown: bool = False) -> str:
        """Return the counts table and the problems as text (see :func:`format_check`)."""
        return format_check(self, markdown=markdown)

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
                    ClipIssue(record.key, f"{name} frame {number} unreadable", str(path), "frames")
                )
                break
    return issues


def _count(
    name: str,
    dataset: ClipDataset,
    class_names: tuple[str, ...],
    expected: ExpectedCounts | None,
    read_frames: bool,
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
    counts = Counter(r.label for r in records)
    row = CountRow(
        dataset=name,
        clips=len(records),
        subjects=len({r.subject for r in records}),
        classes=tuple(counts.get(i, 0) for i in range(len(class_names))),
        skipped=len(skipped),
        excluded=len(dataset.excluded),
        expected=expected,
    )
    return row, records, issues


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
    if dataset is not None:
        if root is None:
            raise ConfigError(f"dataset {dataset!r}: root is required")
        opened = _open(dataset, root, dict(options or {}))
        names = opened.class_names
        row, records, issues = _count(dataset, opened, names, None, read_frames)
        return DatasetCheck(f"dataset {dataset} at {root}", names, [row], None, issues, records)
    protocol = cast(str, protocol)
    if not roots:
        raise ConfigError(f"protocol {protocol!r}: roots are required (one per dataset)")
    spec = _protocol(protocol)
    for part, opened in _open_protocol(protocol, roots, options, selection):
        row, kept, found = _count(part.dataset, opened, CLASS_NAMES, part.expected, read_frames)
        rows.append(row)
        records += kept
        issues += found
    total = CountRow(
        dataset="total",
        clips=sum(r.clips for r in rows),
        subjects=len({r.group for r in records}),
        classes=tuple(sum(r.classes[i] for r in rows) for i in range(len(CLASS_NAMES))),
        skipped=sum(r.skipped for r in rows),
        excluded=sum(r.excluded for r in rows),
        expected=spec.expected,
    )
    return DatasetCheck(f"protocol {protocol}", CLASS_NAMES, rows, total, issues, records)


def format_check(check: DatasetCheck, *, markdown: bool = False) -> str:
    """Render a check: the counts table, then every problem.

    Counts are shown as ``found (published)`` when the protocol has
    published counts.

    Parameters
    ----------
    check : DatasetCheck
    markdown : bool
        A Markdown table and list instead of aligned plain text.

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
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(" --- " for _ in header) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in table]
    else:
        widths = [max(len(x) for x in col) for col in zip(header, *table, strict=True)]
        for cells in [header, *table]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    lines.append("")
    if not check.issues:
        lines.append("No problems found.")
        return "\n".join(lines)
    lines.append(f"{len(check.issues)} problem(s); {check.skipped} clip(s) skipped:")
    for issue in check.issues:
        lines.append(f"- {issue}" if markdown else f"  {issue}")
    return "\n".join(lines)
