"""CASME: the Chinese Academy of Sciences micro-expression database (CASME I).

Yan, W.-J., Wu, Q., Liu, Y.-J., Wang, S.-J. & Fu, X. (2013). CASME database:
A dataset of spontaneous micro-expressions collected from neutralized faces.
10th IEEE International Conference on Automatic Face and Gesture Recognition
(FG 2013). https://doi.org/10.1109/FG.2013.6553799

Layout of a copy (the root is the folder that holds the sheet(s))::

    CASME_*.xlsx                        coding sheet(s); CASME comes in two
                                        sections (A and B), each may have its own
    <release>/sub01/EP01_5/EP01_5-113.jpg       raw release
    <release>/sub01/EP01_5/reg_EP01_5-113.jpg   cropped release

The sheet has the columns Subject, Filename, OnsetF, ApexF1, ApexF2, OffsetF
and Emotion. ``ApexF1`` is the apex used (``ApexF2``, when filled, marks the
end of an apex plateau). The release folder is found by looking for the
subject folders; the release is told apart by its file names (``reg_``).
All sheets found in the root are read and their rows joined.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import check_root, find_release, find_sheets
from microexpr.data._parsing import SheetLayout, cell_text, read_sheet
from microexpr.data.mappings import emotion_mapping

__all__ = ["Casme", "normalise_subject"]

#: Columns of the coding sheet.
LAYOUT = SheetLayout(
    columns={
        "subject": ("Subject",),
        "clip": ("Filename",),
        "onset": ("OnsetF", "Onset Frame", "OnsetFrame"),
        "apex": ("ApexF1", "ApexF", "Apex Frame", "ApexFrame"),
        "offset": ("OffsetF", "Offset Frame", "OffsetFrame"),
        "emotion": ("Emotion", "Estimated Emotion"),
    },
)

#: Known file names of the coding sheet(s), most specific first.
SHEET_PATTERNS = ("CASME_*.xlsx", "CASME_*.xls", "CASME*.xlsx", "CASME*.xls", "CASME*.csv")

#: Release -> (usual folders, frame file prefix).
RELEASES = {
    "raw": (("CASME_raw_selected", "CASME_RAW_selected", "raw"), None),
    "cropped": (("CASME_cropped_selected", "Cropped", "cropped"), "reg_"),
}


def normalise_subject(value: object) -> str:
    """Write a CASME subject as on disk: ``1``, ``'01'`` or ``'sub1'`` -> ``'sub01'``."""
    text = cell_text(value)
    digits = text[3:] if text.lower().startswith("sub") else text
    return f"sub{int(digits):02d}" if digits.isdigit() else text


class Casme(ClipDataset):
    """The clips of a CASME (I) copy.

    Parameters
    ----------
    root : str or Path
        Folder holding the coding sheet(s) and the release folder.
    release : {'auto', 'raw', 'cropped'}
        Which frames: raw (``EP01_5-113.jpg``) or cropped (``reg_EP01_5-113.jpg``).
    sheet : str or Path, optional
        The coding sheet, when it is not in ``root`` under a known name.
    mapping : mapping of str to str or None, optional
        Emotion -> class (None drops the emotion); defaults to the paper's.
    clips : mapping of (subject, clip) to int, optional
        Keep only these clips, with these labels.
    apex_outside : {'skip', 'keep'}
        What to do with a clip whose apex lies outside onset..offset.

    Raises
    ------
    DatasetNotFoundError
        If ``root`` holds no coding sheet or no frames folder.
    AnnotationError
        If a sheet lacks the expected columns.
    """

    name = "casme"
    title = "CASME"

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
        self.sheets = find_sheets(self.root, SHEET_PATTERNS, title=self.title, sheet=sheet)
        rows = [row for path in sorted(self.sheets) for row in read_sheet(path, LAYOUT)]
        subjects = {normalise_subject(r.values["subject"]) for r in rows}
        self.frames_dir, prefix = find_release(
            self.root,
            RELEASES,
            release,
            subjects,
            title=self.title,
            example="CASME_raw_selected/sub01/EP01_5/EP01_5-113.jpg",
        )
        raw = []
        for row in rows:
            subject = normalise_subject(row.values["subject"])
            folder = self.frames_dir / subject / cell_text(row.values["clip"])
            raw.append(RawClip.from_row(row, subject, folder, prefix=prefix))
        mapping = emotion_mapping(self.name) if mapping is None else mapping
        self.class_names = classes_of(mapping)
        self.records, self.issues, self.excluded = build_records(
            self.name, raw, mapping=mapping, selection=clips, apex_outside=apex_outside
        )
