"""Clip records: the one shape every dataset reader produces.

A :class:`ClipRecord` names a micro-expression clip (dataset, subject, clip),
its onset, apex and offset frame numbers, the annotated emotion, the class
label after the protocol's mapping, and the frame files found on disk. The
annotation CSV written by the synthetic generator and read by
:func:`read_annotation_csv` has the columns
``dataset, subject, clip, onset, apex, offset, emotion, label`` (label as a
class name), one row per clip, with frames in ``root/<subject>/<clip>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microexpr._io import atomic_write_text
from microexpr.errors import AnnotationError, DatasetNotFoundError

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SUFFIXES",
    "ClipIssue",
    "ClipRecord",
    "discover_frames",
    "read_annotation_csv",
    "write_annotation_csv",
]

#: The three classes of the paper's and MEGC2019's protocols, in label order.
CLASS_NAMES: tuple[str, ...] = ("negative", "positive", "surprise")

#: File suffixes recognised as frames.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})

_TRAILING_NUMBER = re.compile(r"(\d+)(?=\.[A-Za-z]+$)")


@dataclass
class ClipRecord:
    """One annotated micro-expression clip.

    Attributes
    ----------
    dataset : str
        Dataset name, lowercase (``casme2``, ``samm``, ``synthetic``...).
    subject : str
        Subject identifier as the dataset writes it (``sub01``, ``006``).
    clip : str
        Clip identifier as the dataset writes it (``EP02_01f``).
    onset, apex, offset : int
        Frame numbers as annotated (the numbers in the frame file names).
    emotion : str
        Annotated emotion, as written in the sheet (lowercase).
    label : int
        Class index into ``class_names`` (-1 when the protocol drops it).
    frames : dict of int to Path
        Frame number to frame file, discovered on disk.
    class_names : tuple of str
        Names of the classes ``label`` indexes.
    """

    dataset: str
    subject: str
    clip: str
    onset: int
    apex: int
    offset: int
    emotion: str
    label: int
    frames: dict[int, Path] = field(default_factory=dict, repr=False)
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def group(self) -> str:
        """Subject key unique across datasets (``dataset/subject``), used by LOSO."""
        return f"{self.dataset}/{self.subject}"

    @property
    def key(self) -> str:
        """Clip key unique across datasets (``dataset/subject/clip``)."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def class_name(self) -> str:
        """Name of the class of this clip."""
        return self.class_names[self.label]

    def frame_path(self, number: int) -> Path:
        """Return the file of frame ``number``.

        Raises
        ------
        KeyError
            If no file of that number was found on disk.
        """
        try:
            return self.frames[number]
        except KeyError:
            raise KeyError(f"{self.key}: frame {number} not found on disk") from None


@dataclass(frozen=True)
class ClipIssue:
    """A problem found with one clip (or one row of a sheet).

    Attributes
    ----------
    key : str
        Clip key ``dataset/subject/clip`` (or a sheet row when there is no clip).
    reason : str
        What is wrong, in one sentence.
    path : str
        The file or folder concerned, when there is one.
    stage : str
        Where it was found: ``annotation``, ``frames``, ``face``, ``flow``...
    """

    key: str
    reason: str
    path: str = ""
    stage: str = "annotation"

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"[{self.stage}] {self.key}: {self.reason}{where}"


def discover_frames(folder: Path, *, prefix: str | None = None) -> dict[int, Path]:
    """Map frame numbers to image files in ``folder``.

    The frame number is the last run of digits before the suffix, of any
    padding width (``img46.jpg``, ``006_05562.jpg``, ``reg_image012345.bmp``).

    Parameters
    ----------
    folder : Path
        Folder holding the frames of one clip.
    prefix : str, optional
        Only files whose name starts with this prefix (``reg_`` for cropped
        releases that keep other files beside them).

    Returns
    -------
    dict of int to Path
        Empty if the folder does not exist or holds no frames.
    """
    frames: dict[int, Path] = {}
    if not folder.is_dir():
        return frames
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if prefix is not None and not path.name.startswith(prefix):
            continue
        match = _TRAILING_NUMBER.search(path.name)
        if match:
            frames[int(match.group(1))] = path
    return frames


_CSV_COLUMNS = ("dataset", "subject", "clip", "onset", "apex", "offset", "emotion", "label")


def write_annotation_csv(records: Sequence[ClipRecord], path: Path) -> None:
    """Write records as an annotation CSV (label as class name)."""
    rows = [
        {
            "dataset": r.dataset,
            "subject": r.subject,
            "clip": r.clip,
            "onset": r.onset,
            "apex": r.apex,
            "offset": r.offset,
            "emotion": r.emotion,
            "label": r.class_name,
        }
        for r in records
    ]
    table = pd.DataFrame(rows, columns=list(_CSV_COLUMNS))
    atomic_write_text(path, table.to_csv(index=False))


def read_annotation_csv(
    path: str | Path,
    root: str | Path | None = None,
    *,
    class_names: Iterable[str] = CLASS_NAMES,
) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read an annotation CSV and discover each clip's frames.

    Parameters
    ----------
    path : str or Path
        The CSV, with columns ``subject, clip, onset, apex, offset, label``
        (``dataset`` and ``emotion`` optional; ``label`` a class name or index).
    root : str or Path, optional
        Folder holding ``<subject>/<clip>/`` frame folders; defaults to the
        CSV's folder.
    class_names : iterable of str
        The class names labels refer to.

    Returns
    -------
    records : list of ClipRecord
        Usable clips.
    issues : list of ClipIssue
        Clips skipped, each with the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"annotation file {str(path)!r} does not exist")
    root = Path(root) if root is not None else path.parent
    names = tuple(class_names)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: not a readable CSV ({exc})") from exc
    required = {"subject", "clip", "onset", "apex", "offset", "label"}
    missing = required - set(table.columns)
    if missing:
        raise AnnotationError(
            f"{path}: missing columns {sorted(missing)}; expected "
            f"{list(_CSV_COLUMNS)}, found {list(table.columns)}"
        )
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    for row_number, row in enumerate(table.to_dict("records"), start=2):
        dataset = row.get("dataset") or path.stem
        key = f"{dataset}/{row['subject']}/{row['clip']}"
        try:
            onset, apex, offset = (int(row[c]) for c in ("onset", "apex", "offset"))
        except ValueError:
            issues.append(
                ClipIssue(key, f"row {row_number}: onset/apex/offset not integers", str(path))
            )
            continue
        label_text = str(row["label"]).strip()
        if label_text in names:
            label = names.index(label_text)
        elif label_text.isdigit() and int(label_text) < len(names):
            label = int(label_text)
        else:
            issues.append(
                ClipIssue(key, f"row {row_number}: unknown label {label_text!r}", str(path))
            )
            continue
        record = ClipRecord(
            dataset=dataset,
            subject=str(row["subject"]),
            clip=str(row["clip"]),
            onset=onset,
            apex=apex,
            offset=offset,
            emotion=str(row.get("emotion") or names[label]).lower(),
            label=label,
            frames=discover_frames(root / str(row["subject"]) / str(row["clip"])),
            class_names=names,
        )
        issue = check_record(record, root / record.subject / record.clip)
        if issue is not None:
            issues.append(issue)
            continue
        records.append(record)
    return records, issues


def check_record(record: ClipRecord, folder: Path) -> ClipIssue | None:
    """Return the first problem that makes ``record`` unusable, or None.

    Checks the frame folder exists, holds frames, that onset <= apex <= offset
    and that the onset and apex frames are on disk.
    """
    if not record.frames:
        reason = "frame folder missing" if not folder.is_dir() else "no frames in folder"
        return ClipIssue(record.key, reason, str(folder), "frames")
    if not record.onset <= record.apex <= record.offset:
        return ClipIssue(
            record.key,
            f"apex {record.apex} outside onset..offset {record.onset}..{record.offset}",
            str(folder),
        )
    for name, number in (("onset", record.onset), ("apex", record.apex)):
        if number not in record.frames:
            first, last = min(record.frames), max(record.frames)
            return ClipIssue(
                record.key,
                f"{name} frame {number} not on disk (frames {first}..{last})",
                str(folder),
                "frames",
            )
    return None
