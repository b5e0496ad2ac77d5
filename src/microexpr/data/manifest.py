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
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from microexpr.data._sheets import (
    ClipDataset,
    RawClip,
    SheetLayout,
    build_records,
    cell_text,
    read_sheet,
)
from microexpr.data.records import CLASS_NAMES
from microexpr.errors import DatasetNotFoundError

__all__ = ["MANIFEST_NAME", "Manifest"]

#: File name looked for when the root is a folder.
MANIFEST_NAME = "manifest.csv"

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
            folder = path.parent / (frames_dir or f"{subject}/{clip}")
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
