"""CAS(ME)^2: long videos with macro- and micro-expressions (MEGC spotting).

Qu, F., Wang, S.-J., Yan, W.-J., Li, H., Wu, S. & Fu, X. (2018). CAS(ME)^2:
A database for spontaneous macro-expression and micro-expression spotting
and recognition. IEEE Transactions on Affective Computing 9(4), 424-436.
https://doi.org/10.1109/TAFFC.2017.2654440

The MEGC spotting challenges (2020-2022) use its long videos; the MEGC code
calls it ``CASME_sq``, and so do we (``casme_sq``: CASME II is ``casme2``).

Layout of a copy (the root is the folder that holds the sheet)::

    CAS(ME)^2code_final.xlsx      (or "CAS(ME)^2code_final(Updated).xlsx")
    rawpic/s15/15_0101disgustingteeth/img1.jpg     (30 fps, frames numbered from 1)

The coding sheet has three worksheets and no header row:

1. the codes, one expression a row, by position: participant number
   (``1``), expression name (``anger1_1``: the video's name ``anger1``, then
   the expression's number in it), onset, apex, offset, action units,
   estimated emotion, express type (``micro-expression`` or
   ``macro-expression``), self-reported emotion;
2. a naming sheet mapping the participant number to the subject folder
   (``1`` -> ``s15``: column 3 -> column 2);
3. a naming sheet mapping the video name to its code (``anger1`` ->
   ``0401``: column 2 -> column 1, the code written as text with its zero).

A video's folder is ``<subject number>_<code><description>`` in the subject
folder (``s15/15_0101disgustingteeth``): it is found by its code.

Quirks handled (each reported with its sheet row, never silently):

- apex ``0``: not annotated (the interval onset..offset is still scored);
- offset ``0``: not annotated; the apex is taken as the offset, as the
  MEGC baselines read this sheet (SoftNet, MEAN); both ``0``: skipped;
- the video code read as a number (``101`` for ``0101``): padded to 4 digits;
- names with stray spaces or capitals (``Anger1_1 ``): normalised;
- a header row, if a copy has one: skipped;
- a participant or video name missing from the naming sheets: skipped.

The naming sheets are recognised by their content (a column of ``s15``-like
subject folders; a column of 3-4 digit video codes beside names), then by
position as published.
"""

from __future__ import annotations

import re
from pathlib import Path

from microexpr.data._base import LongVideoDataset
from microexpr.data._build import RawInterval, build_long_videos, expression_kind
from microexpr.data._locate import check_root, find_frames_dir, find_sheets, frames_not_found
from microexpr.data._parsing import cell_int, cell_text, header_key, read_workbook
from microexpr.errors import AnnotationError

__all__ = ["CasmeSq"]

#: Known file names of the coding sheet, most specific first.
SHEET_PATTERNS = (
    "CAS(ME)^2code_final*.xlsx",
    "CAS(ME)2code_final*.xlsx",
    "*code_final*.xlsx",
    "CASME_sq*.xlsx",
    "*code_final*.xls",
)

#: Columns of the code worksheet, by position.
_SUBJECT, _NAME, _ONSET, _APEX, _OFFSET, _TYPE = 0, 1, 2, 3, 4, 7

_SUBJECT_FOLDER = re.compile(r"^s\d+$", re.IGNORECASE)
_VIDEO_CODE = re.compile(r"^\d{3,4}$")
_VIDEO_NAME = re.compile(r"^[a-z]+\d*$")

Rows = list[tuple[object, ...]]


def _cell(row: tuple[object, ...], index: int) -> object:
    return row[index] if index < len(row) else None


def _video_code(value: object) -> str:
    # the code is text ("0101") in the published sheet; a copy re-saved may hold 101
    text = cell_text(value)
    return text.zfill(4) if text.isdigit() else text


def _video_name(clip: str) -> str:
    """``'Anger1_1 '`` -> ``'anger1'`` (the video's name, before the expression number)."""
    return clip.strip().lower().split("_")[0]


def _column(rows: Rows, pattern: re.Pattern[str]) -> int | None:
    # the column in which most cells match the pattern (at least one)
    counts: dict[int, int] = {}
    for row in rows:
        for i, value in enumerate(row):
            if pattern.match(cell_text(value).lower()):
                counts[i] = counts.get(i, 0) + 1
    return max(counts, key=lambda i: counts[i]) if counts else None


def _subject_map(rows: Rows) -> dict[int, str] | None:
    """Participant number -> subject folder (``1`` -> ``'s15'``), or None if not this sheet."""
    folder_col = _column(rows, _SUBJECT_FOLDER)
    if folder_col is None:
        return None
    # the participant number: another column of small integers (published: the third)
    number_cols = [
        i
        for i in range(max(len(r) for r in rows))
        if i != folder_col and sum(cell_int(_cell(r, i)) is not None for r in rows) >= len(rows) / 2
    ]
    if not number_cols:
        return None
    number_col = 2 if 2 in number_cols else number_cols[-1]
    out = {}
    for row in rows:
        number, folder = cell_int(_cell(row, number_col)), cell_text(_cell(row, folder_col))
        if number is not None and _SUBJECT_FOLDER.match(folder):
            out[number] = folder.lower()
    return out or None


def _video_map(rows: Rows) -> dict[str, str] | None:
    """Video name -> code (``'anger1'`` -> ``'0401'``), or None if not this sheet."""
    code_col = _column(rows, _VIDEO_CODE)
    name_col = _column(rows, _VIDEO_NAME)
    if code_col is None or name_col is None or code_col == name_col:
        return None
    out = {}
    for row in rows:
        code, name = _video_code(_cell(row, code_col)), cell_text(_cell(row, name_col)).lower()
        if _VIDEO_CODE.match(code) and _VIDEO_NAME.match(name):
            out[name] = code
    return out or None


def _is_code_sheet(rows: Rows) -> bool:
    return sum(expression_kind(_cell(r, _TYPE)) is not None for r in rows) > 0


def read_coding_sheet(
    path: Path,
) -> tuple[list[tuple[str, tuple[object, ...]]], dict[int, str], dict[str, str]]:
    """Read the three worksheets of a CAS(ME)^2 coding sheet.

    Returns
    -------
    codes : list of (source, row)
        The expression rows, with ``'file.xlsx sheet ... row N'``.
    subjects : dict of int to str
        Participant number -> subject folder.
    videos : dict of str to str
        Video name -> video code.

    Raises
    ------
    AnnotationError
        If no worksheet holds the codes or a naming sheet is missing.
    """
    sheets = read_workbook(path)
    code_sheet = next(((n, r) for n, r in sheets if _is_code_sheet(r)), None)
    if code_sheet is None:
        raise AnnotationError(
            f"{path}: no worksheet holds CAS(ME)^2 codes (participant, name, onset, apex, "
            "offset, action units, emotion, type 'micro-expression'/'macro-expression' "
            f"in columns 1-8); worksheets: {', '.join(n for n, _ in sheets)}"
        )
    subjects = videos = None
    for name, rows in sheets:
        if name == code_sheet[0] or not rows:
            continue
        # a sheet of s15-like folders is the subject sheet (s15 also looks like a video name)
        found = _subject_map(rows)
        if found is not None:
            subjects = subjects or found
        else:
            videos = videos or _video_map(rows)
    if subjects is None or videos is None:
        lacking = " and ".join(
            what
            for what, found in (
                ("the subject naming sheet (participant number -> s15)", subjects),
                ("the video naming sheet (video code 0101 -> anger1)", videos),
            )
            if found is None
        )
        raise AnnotationError(f"{path}: lacks {lacking}; the published sheet has both")
    codes = []
    for number, row in enumerate(code_sheet[1], start=1):
        if not cell_text(_cell(row, _SUBJECT)) and not cell_text(_cell(row, _NAME)):
            continue
        if header_key(_cell(row, _ONSET)).startswith("onset"):
            continue  # a header row added to a copy
        codes.append((f"{path.name} sheet {code_sheet[0]!r} row {number}", row))
    return codes, subjects, videos


class CasmeSq(LongVideoDataset):
    """The long videos of a CAS(ME)^2 copy and their expression intervals.

    Parameters
    ----------
    root : str or Path
        Folder holding the coding sheet and ``rawpic``.
    sheet : str or Path, optional
        The coding sheet, when it is not in ``root`` under a known name.

    Raises
    ------
    DatasetNotFoundError
        If ``root`` holds no coding sheet or no subject folders.
    AnnotationError
        If the sheet lacks its worksheets.
    """

    name = "casme_sq"
    title = "CAS(ME)^2"
    fps = 30.0

    def __init__(self, root: str | Path, *, sheet: str | Path | None = None) -> None:
        super().__init__()
        self.root = check_root(root, self.title)
        self.sheet = find_sheets(self.root, SHEET_PATTERNS, title=self.title, sheet=sheet)[0]
        codes, subjects, video_codes = read_coding_sheet(self.sheet)
        frames_dir = find_frames_dir(
            self.root, set(subjects.values()), ("rawpic", "CAS(ME)^2/rawpic", "CASME_sq/rawpic")
        )
        if frames_dir is None:
            raise frames_not_found(
                self.root,
                self.title,
                subjects.values(),
                "rawpic/s15/15_0101disgustingteeth/img1.jpg",
            )
        self.frames_dir = frames_dir
        on_disk = {
            p.name.lower(): p
            for p in frames_dir.iterdir()
            if p.is_dir() and _SUBJECT_FOLDER.match(p.name)
        }
        found = [
            (folder.name, video.name, video)
            for _, folder in sorted(on_disk.items())
            for video in sorted(folder.iterdir())
            if video.is_dir()
        ]
        raws = []
        for source, row in codes:
            clip = cell_text(_cell(row, _NAME))
            number = cell_int(_cell(row, _SUBJECT))
            subject = subjects.get(number) if number is not None else None
            video_name = _video_name(clip)
            code = video_codes.get(video_name)
            problem = None
            folder = frames_dir
            video = video_name
            if subject is None:
                problem = (
                    f"participant {cell_text(_cell(row, _SUBJECT))!r} is not in the subject "
                    f"naming sheet (known: {', '.join(str(k) for k in sorted(subjects))}); skipped"
                )
                subject = cell_text(_cell(row, _SUBJECT))
            elif code is None:
                problem = (
                    f"video name {video_name!r} (from {clip!r}) is not in the video naming "
                    "sheet; skipped"
                )
            else:
                subject_dir = on_disk.get(subject, frames_dir / subject)
                folder = _video_folder(subject_dir, code)
                video = folder.name
                subject = subject_dir.name
            raws.append(
                RawInterval(
                    subject=subject,
                    video=video,
                    name=clip.strip(),
                    onset=_cell(row, _ONSET),
                    apex=_cell(row, _APEX),
                    offset=_cell(row, _OFFSET),
                    kind=cell_text(_cell(row, _TYPE)),
                    source=source,
                    folder=folder,
                    problem=problem,
                )
            )
        self.videos, self.issues = build_long_videos(
            self.name, raws, fps=self.fps, videos_on_disk=found
        )


def _video_folder(subject_dir: Path, code: str) -> Path:
    """The folder of video ``code`` (``0101``) in a subject folder: ``15_0101disgustingteeth``."""
    pattern = re.compile(rf"^\d+_{re.escape(code)}(\D|$)")
    if subject_dir.is_dir():
        for folder in sorted(subject_dir.iterdir()):
            if folder.is_dir() and pattern.match(folder.name):
                return folder
    number = subject_dir.name[1:]
    return subject_dir / f"{number}_{code}"
