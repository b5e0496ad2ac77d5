"""A manifest CSV: the clips of a user's own recordings, in microexpr's terms.

For data that is not one of the public databases, write one CSV row per clip::

    subject,clip,onset,apex,offset,label[,dataset][,emotion][,frames_dir]
    p01,take3,120,131,150,positive,lab2025,joy,p01/take3/frames

``label`` is a class name (``negative``, ``positive``, ``surprise`` unless
other ``class_names`` are given) or its index. ``frames_dir`` is relative to
the manifest's folder (or absolute) and defaults to ``<subject>/<clip>``;
frames are found there with their numbers parsed from the file names.
``dataset`` defaults to ``custom``; it keeps subjects of different
collections apart in leave-one-subject-out folds.

The synthetic set's ``annotations.csv`` (written by
:func:`write_annotation_csv`) is such a manifest; :class:`Synthetic` and
:func:`read_annotation_csv` read it with the same reader, through the one
validation path of every dataset (:func:`microexpr.data._build.build_records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from microexpr._io import atomic_write_text
from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records
from microexpr.data._parsing import SheetLayout, cell_text, read_sheet
from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord
from microexpr.errors import DatasetNotFoundError

__all__ = [
    "ANNOTATION_COLUMNS",
    "MANIFEST_NAME",
    "Manifest",
    "Synthetic",
    "read_annotation_csv",
    "write_annotation_csv",
]

#: File name looked for when the root is a folder.
MANIFEST_NAME = "manifest.csv"

#: File name of the synthetic set's manifest.
ANNOTATIONS_NAME = "annotations.csv"

#: Columns of a manifest.
LAYOUT = SheetLayout(
    columns={
        "subject": ("subject",),
        "clip": ("clip",),
        "onset": ("onset",),
        "apex": ("apex",),
        "offset": ("offset",),
        "label": ("label",),
    },
    optional={"dataset": ("dataset",), "emotion": ("emotion",), "frames_dir": ("frames_dir",)},
)


class Manifest(ClipDataset):
    """The clips listed in a manifest CSV.

    Parameters
    ----------
    root : str or Path
        The manifest CSV, or a folder holding ``manifest.csv``.
    class_names : sequence of str
        The classes ``label`` names (or indexes).
    dataset : str
        Dataset name of rows without a ``dataset`` value.
    apex_outside : {'skip', 'keep'}
        What to do with a clip whose apex lies outside onset..offset.
    frames_root : str or Path, optional
        Folder ``frames_dir`` (and ``<subject>/<clip>``) are relative to;
        the manifest's folder by default.

    Raises
    ------
    DatasetNotFoundError
        If there is no manifest at ``root``.
    AnnotationError
        If the manifest lacks a required column.
    """

    name = "manifest"
    title = "manifest"

    def __init__(
        self,
        root: str | Path,
        *,
        class_names: Sequence[str] = CLASS_NAMES,
        dataset: str = "custom",
        apex_outside: str = "skip",
        frames_root: str | Path | None = None,
    ) -> None:
        super().__init__()
        path = Path(root).expanduser()
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.is_file():
            raise DatasetNotFoundError(
                f"manifest {str(path)!r} does not exist: expected a CSV with the columns "
                "subject, clip, onset, apex, offset, label (or a folder holding manifest.csv)"
            )
        self.path = path
        base = path.parent if frames_root is None else Path(frames_root).expanduser()
        self.class_names = tuple(class_names)
        mapping: dict[str, str | None] = {n.lower(): n for n in self.class_names}
        mapping.update({str(i): n for i, n in enumerate(self.class_names)})
        groups: dict[str, list[RawClip]] = {}
        emotions: dict[str, str] = {}
        for row in read_sheet(path, LAYOUT):
            values = row.values
            subject, clip = cell_text(values["subject"]), cell_text(values["clip"])
            name = cell_text(values.get("dataset")) or dataset
            label = cell_text(values["label"])
            frames_dir = cell_text(values.get("frames_dir"))
            folder = base / (frames_dir or f"{subject}/{clip}")
            emotions[f"{name}/{subject}/{clip}"] = cell_text(values.get("emotion")) or label
            groups.setdefault(name, []).append(
                RawClip(
                    subject=subject,
                    clip=clip,
                    onset=values["onset"],
                    apex=values["apex"],
                    offset=values["offset"],
                    emotion=label,
                    source=row.source,
                    folder=folder,
                )
            )
        for name, raw in groups.items():
            records, issues, excluded = build_records(
                name,
                raw,
                mapping=mapping,
                class_names=self.class_names,
                apex_outside=apex_outside,
                term="label",
            )
            for record in records:
                record.emotion = emotions[record.key].lower()
            self.records += records
            self.issues += issues
            self.excluded += excluded


class Synthetic(Manifest):
    """Clips of the synthetic generator: ``root/annotations.csv``, a manifest.

    Parameters
    ----------
    root : str or Path
        Folder holding ``annotations.csv`` (or the CSV itself).
    """

    name = "synthetic"
    title = "synthetic"

    def __init__(self, root: str | Path) -> None:
        path = Path(root).expanduser()
        if path.is_dir():
            path = path / ANNOTATIONS_NAME
        super().__init__(path, dataset="synthetic")


#: Columns :func:`write_annotation_csv` writes.
ANNOTATION_COLUMNS = ("dataset", "subject", "clip", "onset", "apex", "offset", "emotion", "label")


def write_annotation_csv(records: Sequence[ClipRecord], path: str | Path) -> None:
    """Write records as a manifest CSV (label as class name), atomically.

    Parameters
    ----------
    records : sequence of ClipRecord
        Clips whose frames lie in ``<subject>/<clip>/`` beside the CSV.
    path : str or Path
        The CSV to write.
    """
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
    import pandas as pd  # imported when used: `microexpr --help` starts faster

    table = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
    atomic_write_text(path, table.to_csv(index=False))


def read_annotation_csv(
    path: str | Path,
    root: str | Path | None = None,
    *,
    class_names: Iterable[str] = CLASS_NAMES,
) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read a manifest CSV and discover each clip's frames (see :class:`Manifest`).

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
    reader = Manifest(path, class_names=tuple(class_names), dataset=path.stem, frames_root=root)
    return reader.records, reader.issues
