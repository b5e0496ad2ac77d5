"""SAMM Long Videos: the long recordings of SAMM with macro- and micro-movements (MEGC spotting).

Yap, C. H., Kendrick, C. & Yap, M. H. (2020). SAMM Long Videos: A
spontaneous facial micro- and macro-expressions dataset. 15th IEEE
International Conference on Automatic Face and Gesture Recognition (FG 2020),
771-776. https://doi.org/10.1109/FG47880.2020.00029

Layout of a copy (the root is the folder that holds the sheet)::

    SAMM_LongVideos_V3_Release.xlsx     (or _V2_, _V1_)
    SAMM_longvideos/006_1/006_1_0001.jpg      (200 fps; or 006_1/... directly under the root)

The sheet starts with rows of notes (title, description, legend); the
table's header row follows (the tenth row in the published V2 and V3
sheets, found by its columns here): Subject (``6`` or ``'006'``), Filename
(``006_1_2``: subject, video, expression number), Inducement Code, Onset,
Apex, Offset, Duration, Type (``Micro - 1/2`` or ``Macro``), Action Units,
Notes. The video folder is the filename's first two parts (``006_1``); its
frames are numbered in their names from 1 (``006_1_0001.jpg``), as the
sheet numbers them.

Quirks handled (each reported with its sheet row, never silently):

- notes above the header row (searched within the first 30 rows); a copy
  whose header is worded otherwise is read by position, as the MEGC
  baselines read it (Subject, Filename, Inducement Code, Onset, Apex, Offset,
  Duration, Type in columns 1-8), from the first row holding a filename;
- apex ``0``, ``-1`` or blank: not annotated (onset..offset is still scored);
- offset ``0``, ``-1`` or blank: the apex is the offset (as for CAS(ME)^2);
- the type written ``Micro - 1/2``, ``Micro-1/2``, ``micro``, ``Macro``
  (anything else is reported and skipped);
- a subject written as a number (``6`` for ``006``), a filename with stray
  spaces, or a filename that is not ``SUBJECT_VIDEO_N`` (skipped).
"""

from __future__ import annotations

import re
from pathlib import Path

from microexpr.data._base import LongVideoDataset
from microexpr.data._build import RawInterval, build_long_videos
from microexpr.data._locate import check_root, find_frames_dir, find_sheets, frames_not_found
from microexpr.data._parsing import SheetLayout, SheetRow, cell_text, read_workbook, table_rows
from microexpr.errors import AnnotationError

__all__ = ["SammLongVideos"]

#: Columns of the sheet's table.
LAYOUT = SheetLayout(
    columns={
        "subject": ("Subject",),
        "clip": ("Filename",),
        "onset": ("Onset", "Onset Frame"),
        "apex": ("Apex", "Apex Frame"),
        "offset": ("Offset", "Offset Frame"),
        "type": ("Type",),
    },
)

#: Known file names of the sheet, most specific first.
SHEET_PATTERNS = (
    "SAMM_LongVideos*.xlsx",
    "SAMM_LongVideos*.xls",
    "SAMM_LongVideos*.csv",
    "SAMMLV*.xlsx",
    "*LongVideos*.xlsx",
)

_FILENAME = re.compile(r"^(\d+)_(\d+)(?:_\d+)?$")
_VIDEO_FOLDER = re.compile(r"^\d{3}_\d+$")


def video_of(filename: object) -> tuple[str, str] | None:
    """``'006_1_2'`` -> ``('006', '006_1')``; ``'6_1_2 '`` -> ``('006', '006_1')``; else None."""
    match = _FILENAME.match(cell_text(filename).replace(" ", ""))
    if match is None:
        return None
    subject = f"{int(match.group(1)):03d}"
    return subject, f"{subject}_{int(match.group(2))}"


#: Column of each field when the header is not recognised (the MEGC baselines' positions).
_POSITIONS = {"subject": 0, "clip": 1, "onset": 3, "apex": 4, "offset": 5, "type": 7}


def _rows_by_position(
    sheets: list[tuple[str, list[tuple[object, ...]]]], file: str
) -> list[SheetRow] | None:
    """The table read by position, from the first row whose second cell is a filename."""
    for name, cells in sheets:
        where = file if len(sheets) == 1 else f"{file} sheet {name!r}"
        start = next(
            (i for i, row in enumerate(cells) if len(row) > 7 and video_of(row[1]) is not None),
            None,
        )
        if start is None:
            continue
        return [
            SheetRow(
                f"{where} row {number}",
                {f: (row[i] if i < len(row) else None) for f, i in _POSITIONS.items()},
            )
            for number, row in enumerate(cells[start:], start=start + 1)
            if any(cell_text(c) for c in row)
        ]
    return None


class SammLongVideos(LongVideoDataset):
    """The long videos of a SAMM Long Videos copy and their expression intervals.

    Parameters
    ----------
    root : str or Path
        Folder holding the sheet and the video folders (directly or in
        ``SAMM_longvideos``).
    sheet : str or Path, optional
        The sheet, when it is not in ``root`` under a known name.

    Raises
    ------
    DatasetNotFoundError
        If ``root`` holds no sheet or no video folders.
    AnnotationError
        If no worksheet has the expected columns.
    """

    name = "samm_lv"
    title = "SAMM Long Videos"
    fps = 200.0

    def __init__(self, root: str | Path, *, sheet: str | Path | None = None) -> None:
        super().__init__()
        self.root = check_root(root, self.title)
        self.sheet = find_sheets(self.root, SHEET_PATTERNS, title=self.title, sheet=sheet)[0]
        rows = None
        sheets = read_workbook(self.sheet)
        for name, cells in sheets:
            where = self.sheet.name if len(sheets) == 1 else f"{self.sheet.name} sheet {name!r}"
            rows = table_rows(cells, LAYOUT, where)
            if rows is not None:
                break
        if rows is None:
            rows = _rows_by_position(sheets, self.sheet.name)
        if rows is None:
            raise AnnotationError(
                f"{self.sheet}: expected a header row with the columns {LAYOUT.expected()} "
                "within the first 30 rows of a worksheet, or rows with a filename such as "
                "006_1_2 in column 2"
            )
        names = {v[1] for r in rows if (v := video_of(r.values["clip"])) is not None}
        frames_dir = find_frames_dir(
            self.root, names, ("SAMM_longvideos", "SAMM_LongVideos", "SAMM_LongVideos_V3_Release")
        )
        if frames_dir is None:
            raise frames_not_found(
                self.root, self.title, names, "SAMM_longvideos/006_1/006_1_0001.jpg"
            )
        self.frames_dir = frames_dir
        found = [
            (p.name.split("_")[0], p.name, p)
            for p in sorted(frames_dir.iterdir())
            if p.is_dir() and _VIDEO_FOLDER.match(p.name)
        ]
        raws = []
        for row in rows:
            clip = cell_text(row.values["clip"])
            ident = video_of(clip)
            problem = None
            if ident is None:
                problem = f"filename {clip!r} is not SUBJECT_VIDEO_N (006_1_2); skipped"
                subject = cell_text(row.values["subject"])
                ident = (subject, clip)
            raws.append(
                RawInterval(
                    subject=ident[0],
                    video=ident[1],
                    name=clip,
                    onset=row.values["onset"],
                    apex=row.values["apex"],
                    offset=row.values["offset"],
                    kind=cell_text(row.values["type"]),
                    source=row.source,
                    folder=frames_dir / ident[1],
                    problem=problem,
                )
            )
        self.videos, self.issues = build_long_videos(
            self.name, raws, fps=self.fps, videos_on_disk=found
        )
