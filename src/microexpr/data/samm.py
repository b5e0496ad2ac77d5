"""SAMM: the spontaneous actions and micro-movements database.

Davison, A. K., Lansley, C., Costen, N., Tan, K. & Yap, M. H. (2018). SAMM: A
spontaneous micro-facial movement dataset. IEEE Transactions on Affective
Computing 9(1), 116-129. https://doi.org/10.1109/TAFFC.2016.2573832
Emotion and objective classes: Davison, A. K., Merghani, W. & Yap, M. H.
(2018). Objective classes for micro-facial expression recognition. Journal
of Imaging 4(10), 119 (arXiv:1708.07549).

Layout of a copy (the root is the folder that holds the sheet)::

    SAMM_Micro_FACS_Codes_v2.xlsx
    SAMM/006/006_1_2/006_05562.jpg      (or 006/006_1_2/... directly under the root)

The v2 sheet (worksheet MICRO_ONLY) starts with 13 rows of notes, its header
is on row 14: Subject (``'006'``), Filename, Inducement Code, Onset Frame,
Apex Frame, Offset Frame, Duration, Micro, Action Units, Estimated Emotion,
Objective Classes, Notes; 159 clips of 29 subjects. Other versions put the
header on row 1; both are read (the header row is searched). Frame numbers
are zero-padded to 4 or 5 digits. Two clips of v2 have their apex outside
onset..offset (028_4_1, 032_3_1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import check_root, find_frames_dir, find_sheets, frames_not_found
from microexpr.data._parsing import SheetLayout, cell_text, read_sheet
from microexpr.data.mappings import emotion_mapping

__all__ = ["Samm", "normalise_subject"]

#: Columns of the coding sheet.
LAYOUT = SheetLayout(
    columns={
        "subject": ("Subject",),
        "clip": ("Filename",),
        "onset": ("Onset Frame", "OnsetFrame", "Onset"),
        "apex": ("Apex Frame", "ApexFrame", "Apex"),
        "offset": ("Offset Frame", "OffsetFrame", "Offset"),
        "emotion": ("Estimated Emotion", "Emotion"),
    },
    sheet_names=("MICRO_ONLY",),
)

#: Known file names of the coding sheet, most specific first.
SHEET_PATTERNS = (
    "SAMM_Micro_FACS_Codes*.xlsx",
    "SAMM_Micro_FACS_Codes*.xls",
    "SAMM*.xlsx",
    "SAMM*.csv",
)


def normalise_subject(value: object) -> str:
    """Write a SAMM subject as on disk: ``6`` or ``'6'`` -> ``'006'``."""
    text = cell_text(value)
    return f"{int(text):03d}" if text.isdigit() else text


class Samm(ClipDataset):
    """The clips of a SAMM copy.

    Parameters
    ----------
    root : str or Path
        Folder holding the coding sheet and the subject folders (directly or
        in a ``SAMM`` folder).
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
        If ``root`` holds no coding sheet or no subject folders.
    AnnotationError
        If the sheet lacks the expected columns.
    """

    name = "samm"
    title = "SAMM"

    def __init__(
        self,
        root: str | Path,
        *,
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
        frames_dir = find_frames_dir(self.root, subjects, ("SAMM", ".", "SAMM/SAMM"))
        if frames_dir is None:
            raise frames_not_found(
                self.root, self.title, subjects, "SAMM/006/006_1_2/006_05562.jpg"
            )
        self.frames_dir = frames_dir
        raw = []
        for row in rows:
            subject = normalise_subject(row.values["subject"])
            folder = frames_dir / subject / cell_text(row.values["clip"])
            raw.append(RawClip.from_row(row, subject, folder))
        mapping = emotion_mapping(self.name) if mapping is None else mapping
        self.class_names = classes_of(mapping)
        self.records, self.issues, self.excluded = build_records(
            self.name, raw, mapping=mapping, selection=clips, apex_outside=apex_outside
        )
