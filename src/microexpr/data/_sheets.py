"""Machinery shared by the dataset readers: sheets, header rows, columns, frames.

The coding sheets of the micro-expression databases differ in small ways
(header on row 1 or after 13 rows of notes, ``OnsetFrame`` or ``Onset Frame``,
subject ``'01'`` as text or ``1`` as a number, an apex written ``'/'``). This
module reads any of them into :class:`SheetRow` objects keyed by canonical
field names (``subject``, ``clip``, ``onset``, ``apex``, ``offset``,
``emotion``), and turns the rows of one dataset into clip records with
:func:`build_records`, reporting every bad row as a :class:`ClipIssue`
instead of raising.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from microexpr._validation import check_choice
from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord, discover_frames
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError

__all__ = [
    "APEX_OUTSIDE_CHOICES",
    "ClipDataset",
    "RawClip",
    "SheetLayout",
    "SheetRow",
    "build_records",
    "cell_int",
    "cell_text",
    "check_root",
    "classes_of",
    "find_frames_dir",
    "find_release",
    "frames_not_found",
    "find_sheets",
    "header_key",
    "read_sheet",
]

#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30

#: What a reader does with a clip whose apex lies outside onset..offset.
APEX_OUTSIDE_CHOICES = ("skip", "keep")

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def header_key(value: object) -> str:
    """Normalise a header cell for matching: lowercase, letters and digits only."""
    return _NOT_ALNUM.sub("", str(value).lower()) if value is not None else ""


def cell_text(value: object) -> str:
    """Return a cell as stripped text (``None`` -> ``''``, ``46.0`` -> ``'46'``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_int(value: object) -> int | None:
    """Return a cell as an int frame number, or None when it is not one (``'/'``, blank)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = cell_text(value)
    if text.isdigit():
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


@dataclass(frozen=True)
class SheetLayout:
    """The columns a coding sheet must have.

    Attributes
    ----------
    columns : mapping of str to tuple of str
        Canonical field -> accepted header spellings; the first spelling is
        the one error messages name. All are required.
    optional : mapping of str to tuple of str
        Fields read when present.
    sheet_names : tuple of str
        Worksheets searched first (``MICRO_ONLY`` for SAMM); the others follow.
    """

    columns: Mapping[str, tuple[str, ...]]
    optional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sheet_names: tuple[str, ...] = ()

    def expected(self) -> str:
        """Return the required headers, as error messages name them."""
        return ", ".join(repr(names[0]) for names in self.columns.values())

    def match(self, header: Sequence[object]) -> dict[str, int] | None:
        """Column index of each field if ``header`` has all required ones, else None."""
        keys = [header_key(cell) for cell in header]
        found: dict[str, int] = {}
        for required, spec in ((True, self.columns), (False, self.optional)):
            for name, spellings in spec.items():
                wanted = {header_key(s) for s in spellings}
                index = next((i for i, k in enumerate(keys) if k in wanted), None)
                if index is None:
                    if required:
                        return None
                    continue
                found[name] = index
        return found


@dataclass(frozen=True)
class SheetRow:
    """One data row of a coding sheet.

    Attributes
    ----------
    source : str
        Where it comes from, ``'file.xlsx row 15'`` (1-based, as a spreadsheet shows it).
    values : dict of str to object
        Raw cell of each canonical field.
    """

    source: str
    values: dict[str, object]


def _worksheets(path: Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """All worksheets of ``path`` as (name, rows of raw cells)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return [(path.stem, [tuple(row) for row in csv.reader(handle)])]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise AnnotationError(f"{path}: not a readable CSV file ({exc})") from exc
    if suffix == ".xls":
        try:
            import pandas as pd

            frames = pd.read_excel(path, header=None, sheet_name=None, dtype=object)
        except ImportError as exc:
            raise AnnotationError(
                f"{path}: reading .xls sheets needs the xlrd package "
                "(pip install xlrd), or save the sheet as .xlsx"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any parser failure means the same to the user
            raise AnnotationError(f"{path}: not a readable spreadsheet ({exc})") from exc
        return [
            (str(name), [tuple(None if v != v else v for v in row) for row in df.to_numpy()])
            for name, df in frames.items()
        ]
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise AnnotationError(f"{path}: not a readable spreadsheet ({exc})") from exc
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True))) for ws in book.worksheets]
    finally:
        book.close()


def read_sheet(path: str | Path, layout: SheetLayout) -> list[SheetRow]:
    """Read the data rows of a coding sheet.

    The header row is the first row, within the first 30 of a worksheet,
    that holds every required column of ``layout`` (so SAMM's 13 rows of
    notes are skipped). Rows whose subject and clip are both blank are
    ignored.

    Parameters
    ----------
    path : str or Path
        ``.xlsx``, ``.xlsm``, ``.xls`` (needs xlrd) or ``.csv``.
    layout : SheetLayout
        The columns expected.

    Returns
    -------
    list of SheetRow

    Raises
    ------
    AnnotationError
        If the file cannot be read or no worksheet has the expected columns.
    """
    path = Path(path)
    sheets = _worksheets(path)
    order = {name: i for i, name in enumerate(layout.sheet_names)}
    sheets.sort(key=lambda item: order.get(item[0], len(order)))
    first_row: tuple[object, ...] = ()
    filled = sum(any(cell_text(c) for row in rows for c in row) for _, rows in sheets)
    for name, rows in sheets:
        for number, header in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
            if not first_row and any(cell_text(c) for c in header):
                first_row = header
            columns = layout.match(header)
            if columns is None:
                continue
            result = []
            for row_number, row in enumerate(rows[number:], start=number + 1):
                values = {f: (row[i] if i < len(row) else None) for f, i in columns.items()}
                if not cell_text(values.get("subject")) and not cell_text(values.get("clip")):
                    continue
                where = f"{path.name} row {row_number}"
                if filled > 1:
                    where = f"{path.name} sheet {name!r} row {row_number}"
                result.append(SheetRow(where, values))
            return result
    found = ", ".join(repr(cell_text(c)) for c in first_row if cell_text(c)) or "nothing"
    raise AnnotationError(
        f"{path}: expected a header row with the columns {layout.expected()} within the "
        f"first {HEADER_SEARCH_ROWS} rows of a worksheet; the first non-empty row holds {found}"
    )


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


@dataclass
class RawClip:
    """A clip as read from a sheet, before validation.

    Attributes
    ----------
    subject, clip : str
        Normalised identifiers.
    onset, apex, offset : object
        Raw cells (parsed by :func:`build_records`).
    emotion : str
        Emotion as written.
    source : str
        Where the clip was read (``'file.xlsx row 15'``).
    folder : Path
        Folder of its frames.
    prefix : str, optional
        Frame file prefix (``reg_`` for cropped releases).
    frames : dict of int to Path, optional
        Frames already discovered (SMIC); discovered in ``folder`` otherwise.
    problem : str, optional
        A problem found by the reader that makes the clip unusable (reported
        only when the protocol keeps the clip).
    """

    subject: str
    clip: str
    onset: object
    apex: object
    offset: object
    emotion: str
    source: str
    folder: Path
    prefix: str | None = None
    frames: dict[int, Path] | None = None
    problem: str | None = None

    @classmethod
    def from_row(
        cls,
        row: SheetRow,
        subject: str,
        folder: Path,
        *,
        clip: str | None = None,
        prefix: str | None = None,
    ) -> RawClip:
        """A clip from a sheet row with the canonical fields, its frames in ``folder``.

        ``subject`` is the row's subject as the dataset's reader normalises it;
        ``clip`` overrides the row's clip name (CAS(ME)^3 names clips by
        recording and onset).
        """
        return cls(
            subject=subject,
            clip=cell_text(row.values["clip"]) if clip is None else clip,
            onset=row.values["onset"],
            apex=row.values["apex"],
            offset=row.values["offset"],
            emotion=cell_text(row.values["emotion"]),
            source=row.source,
            folder=folder,
            prefix=prefix,
        )


def classes_of(mapping: Mapping[str, str | None]) -> tuple[str, ...]:
    """Class names a mapping targets: ``CLASS_NAMES`` when it fits, else its own, sorted."""
    targets = {v for v in mapping.values() if v is not None}
    return CLASS_NAMES if targets <= set(CLASS_NAMES) else tuple(sorted(targets))


def build_records(
    dataset: str,
    clips: Iterable[RawClip],
    *,
    mapping: Mapping[str, str | None],
    class_names: Sequence[str] | None = None,
    selection: Mapping[tuple[str, str], int] | None = None,
    apex_outside: str = "skip",
    term: str = "emotion",
) -> tuple[list[ClipRecord], list[ClipIssue], list[str]]:
    """Validate raw clips into records; every bad clip becomes an issue.

    Parameters
    ----------
    dataset : str
        Dataset name of the records.
    clips : iterable of RawClip
        The clips read from the sheet.
    mapping : mapping of str to str or None
        Lowercase emotion -> class name, or None for emotions the protocol drops.
    class_names : sequence of str, optional
        The classes labels index; by default :func:`classes_of` ``mapping``.
    selection : mapping of (subject, clip) to int, optional
        An official clip list: only these clips are kept, with these labels.
    apex_outside : {'skip', 'keep'}
        Whether a clip whose apex lies outside onset..offset is skipped or kept
        (it is reported either way).
    term : str
        What the mapped column is called in messages (``emotion``, ``label``).

    Returns
    -------
    records : list of ClipRecord
        Usable clips, in sheet order.
    issues : list of ClipIssue
        One per problem; a clip can have more than one (kept clips too, when
        the problem does not stop its use).
    excluded : list of str
        Keys of the clips left out by the protocol, not by a problem (dropped
        emotions, clips absent from ``selection``).
    """
    check_choice(apex_outside, "apex_outside", APEX_OUTSIDE_CHOICES)
    mapping = {k.strip().lower(): v for k, v in mapping.items()}
    names = classes_of(mapping) if class_names is None else tuple(class_names)
    strays = sorted({v for v in mapping.values() if v is not None and v not in names})
    if strays:
        raise ConfigError(f"mapping targets {strays}, which are not among class_names {names}")
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    excluded: list[str] = []
    seen: set[tuple[str, str]] = set()
    listed: dict[tuple[Path, str | None], dict[int, Path]] = {}
    for raw in clips:
        key = f"{dataset}/{raw.subject}/{raw.clip}"
        ident = (raw.subject, raw.clip)
        if ident in seen:
            issues.append(ClipIssue(key, f"{raw.source}: duplicate clip, first row kept"))
            continue
        seen.add(ident)
        emotion = raw.emotion.strip().lower()
        if emotion in mapping:
            mapped = mapping[emotion]
        else:
            mapped = None
            if selection is None or ident in selection:
                known = ", ".join(sorted(mapping))
                reason = f"{raw.source}: unknown {term} {raw.emotion!r} (known: {known})"
                if selection is None:
                    issues.append(ClipIssue(key, reason))
                    continue
                issues.append(ClipIssue(key, reason + "; the official label is used"))
        if selection is not None:
            if ident not in selection:
                excluded.append(key)
                if mapped is not None:
                    issues.append(
                        ClipIssue(
                            key,
                            f"{raw.source}: emotion {emotion!r} is kept by the protocol but "
                            "the clip is not in the official clip list; excluded",
                            stage="protocol",
                        )
                    )
                continue
            label = selection[ident]
            if mapped is not None and mapped != names[label]:
                issues.append(
                    ClipIssue(
                        key,
                        f"{raw.source}: emotion {emotion!r} maps to {mapped}, the official "
                        f"list says {names[label]}; the official label is used",
                        stage="protocol",
                    )
                )
        elif mapped is None:
            excluded.append(key)
            continue
        else:
            label = names.index(mapped)
        if raw.problem is not None:
            issues.append(ClipIssue(key, f"{raw.source}: {raw.problem}", str(raw.folder)))
            continue
        onset, apex, offset = cell_int(raw.onset), cell_int(raw.apex), cell_int(raw.offset)
        if onset is None or apex is None or offset is None:
            bad = [
                f"{n} {cell_text(getattr(raw, n))!r}"
                for n, v in (("onset", onset), ("apex", apex), ("offset", offset))
                if v is None
            ]
            issues.append(ClipIssue(key, f"{raw.source}: {', '.join(bad)} is not a frame number"))
            continue
        frames = raw.frames
        if frames is None:
            # CAS(ME)^3 codes several clips in one recording folder: list it once
            where = (raw.folder, raw.prefix)
            if where not in listed:
                listed[where] = discover_frames(raw.folder, prefix=raw.prefix)
            frames = listed[where]
        folder = str(raw.folder)
        if not frames:
            reason = "frame folder missing" if not raw.folder.is_dir() else "no frames in folder"
            issues.append(ClipIssue(key, reason, folder, "frames"))
            continue
        if not onset <= apex <= offset:
            keep = apex_outside == "keep"
            issues.append(
                ClipIssue(
                    key,
                    f"{raw.source}: apex {apex} outside onset..offset {onset}..{offset}"
                    + ("; kept (apex_outside='keep')" if keep else ""),
                    folder,
                )
            )
            if not keep:
                continue
        missing = [(n, v) for n, v in (("onset", onset), ("apex", apex)) if v not in frames]
        if missing:
            name, number = missing[0]
            issues.append(
                ClipIssue(
                    key,
                    f"{name} frame {number} not on disk (frames {min(frames)}..{max(frames)})",
                    folder,
                    "frames",
                )
            )
            continue
        if offset > max(frames):
            issues.append(
                ClipIssue(
                    key,
                    f"offset {offset} past the last frame on disk {max(frames)}; kept "
                    "(only the onset and apex frames are used)",
                    folder,
                    "frames",
                )
            )
        records.append(
            ClipRecord(
                dataset=dataset,
                subject=raw.subject,
                clip=raw.clip,
                onset=onset,
                apex=apex,
                offset=offset,
                emotion=emotion,
                label=label,
                frames=frames,
                class_names=names,
            )
        )
    if selection is not None:
        for subject, clip in selection:
            if (subject, clip) not in seen:
                issues.append(
                    ClipIssue(
                        f"{dataset}/{subject}/{clip}",
                        "in the official clip list but not in the coding sheet",
                        stage="protocol",
                    )
                )
    return records, issues, excluded


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
