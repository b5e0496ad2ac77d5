"""CASME II: the improved spontaneous micro-expression database.

Yan, W.-J., Li, X., Wang, S.-J., Zhao, G., Liu, Y.-J., Chen, Y.-H. & Fu, X.
(2014). CASME II: An improved spontaneous micro-expression database and the
baseline evaluation. PLoS ONE 9(1), e86041.
https://doi.org/10.1371/journal.pone.0086041

Layout of a copy (the root is the folder that holds the sheet)::

    CASME2-coding-20190701.xlsx          (or the older CASME2-coding-20140508.xlsx)
    CASME2_RAW_selected/sub01/EP02_01f/img46.jpg        raw release
    Cropped/sub01/EP02_01f/reg_img46.jpg                cropped release

The sheet (Sheet1, header on row 1) has the columns Subject (``'01'`` as
text), Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units,
Estimated Emotion and, in the 2019 version, Objective Classes. The 2019
version has 255 clips of 26 subjects; one apex is ``'/'`` (sub04 EP12_01f).
Subjects are written ``sub01`` in the records, as on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import check_root, find_release, find_sheets
from microexpr.data._parsing import SheetLayout, cell_text, read_sheet
from microexpr.data.mappings import emotion_mapping

__all__ = ["Casme2", "normalise_subject"]

#: Columns of the coding sheet (both versions).
LAYOUT = SheetLayout(
    columns={
        "subject": ("Subject",),
        "clip": ("Filename",),
        "onset": ("OnsetFrame", "Onset Frame", "Onset"),
        "apex": ("ApexFrame", "Apex Frame", "Apex"),
        "offset": ("OffsetFrame", "Offset Frame", "Offset"),
        "emotion": ("Estimated Emotion", "Emotion"),
    },
    sheet_names=("Sheet1",),
)

#: Known file names of the coding sheet, most specific first.
SHEET_PATTERNS = ("CASME2-coding-*.xlsx", "CASME2-coding-*.xls", "CASME2*.xlsx", "CASME2*.csv")

#: Release -> (usual folders, frame file prefix).
RELEASES = {
    "raw": (
        (
            "CASME2_RAW_selected",
            "CASME2_RAW_selected/CASME2_RAW_selected",
            "CASME2-RAW",
            "CASME2_RAW",
        ),
        None,
    ),
    "cropped": (("Cropped", "Cropped/Cropped", "CASME2_Cropped"), "reg_"),
}


def normalise_subject(value: object) -> str:
    """Write a CASME II subject as on disk: ``'01'``, ``1`` or ``'sub1'`` -> ``'sub01'``."""
    text = cell_text(value)
    digits = text[3:] if text.lower().startswith("sub") else text
    return f"sub{int(digits):02d}" if digits.isdigit() else text


class Casme2(ClipDataset):
    """The clips of a CASME II copy.

    Parameters
    ----------
    root : str or Path
        Folder holding the coding sheet and the release folder(s).
    release : {'auto', 'raw', 'cropped'}
        Which frames: ``CASME2_RAW_selected`` (``img46.jpg``) or ``Cropped``
        (``reg_img46.jpg``); ``auto`` takes the first found, raw first.
    sheet : str or Path, optional
        The coding sheet, when it is not in ``root`` under a known name.
    mapping : mapping of str to str or None, optional
        Emotion -> class (None drops the emotion); defaults to the paper's.
    clips : mapping of (subject, clip) to int, optional
        Keep only these clips, with these labels (an official clip list).
    apex_outside : {'skip', 'keep'}
        What to do with a clip whose apex lies outside onset..offset.

    Raises
    ------
    DatasetNotFoundError
        If ``root`` holds no coding sheet or no frames folder.
    AnnotationError
        If the sheet lacks the expected columns.
    """

    name = "casme2"
    title = "CASME II"

    def __init__(
        self,
        root: str | Path,
        *,
        release: str = "auto",
        sheet: str | Path | None = None,
        mapping: Mapping[str, str | None] | None = None,
        clips: Mapping[tuple[str, str], int] | None = None,
        apex_outside: str = "skip",
    ) -> None:
        super().__init__()
        self.root = check_root(root, self.title)
        self.sheet = find_sheets(self.root, SHEET_PATTERNS, title=self.title, sheet=sheet)[0]
        rows = read_sheet(self.sheet, LAYOUT)
        subjects = {normalise_subject(r.values["subject"]) for r in rows}
        self.frames_dir, prefix = find_release(
            self.root,
            RELEASES,
            release,
            subjects,
            title=self.title,
            example="CASME2_RAW_selected/sub01/EP02_01f/img46.jpg",
        )
        raw = []
        for row in rows:
            subject = normalise_subject(row.values["subject"])
            folder = self.frames_dir / subject / cell_text(row.values["clip"])
            raw.append(RawClip.from_row(row, subject, folder, prefix=prefix))
        mapping = emotion_mapping(self.name) if mapping is None else mapping
        self.class_names = classes_of(mapping)
        self.records, self.issues, self.excluded = build_records(
            self.name,
            raw,
            mapping=mapping,
            selection=clips,
            apex_outside=apex_outside,
        )
