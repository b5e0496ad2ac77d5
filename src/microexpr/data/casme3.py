"""CAS(ME)^3 part A: the third Chinese Academy of Sciences micro-expression database.

Li, J., Dong, Z., Lu, S., Wang, S.-J., Yan, W.-J., Ma, Y., Liu, Y., Huang, C.
& Fu, X. (2023). CAS(ME)^3: A third generation facial spontaneous
micro-expression database with depth information and high ecological
validity. IEEE Transactions on Pattern Analysis and Machine Intelligence
45(3), 2782-2800. https://doi.org/10.1109/TPAMI.2022.3174895

Layout of a copy of part A (the root is the folder that holds the sheet)::

    cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx
    spNO.1/b/color/175.jpg          (possibly nested deeper, e.g. part_A/spNO.1/...)

The sheet has the columns Subject (``spNO.1``), Filename (the recording,
``b``), Onset, Apex, Offset (frame numbers: the jpg index), AU, Objective
class and emotion. One recording holds several micro-expressions, so the clip
identifier joins the recording and the onset frame: ``b_175``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import check_root, find_frames_dir, find_sheets, frames_not_found
from microexpr.data._parsing import SheetLayout, cell_text, read_sheet
from microexpr.data.mappings import emotion_mapping

__all__ = ["Casme3A", "normalise_subject"]

#: Columns of the coding sheet.
LAYOUT = SheetLayout(
    columns={
        "subject": ("Subject",),
        "clip": ("Filename",),
        "onset": ("Onset", "Onset Frame", "OnsetFrame"),
        "apex": ("Apex", "Apex Frame", "ApexFrame"),
        "offset": ("Offset", "Offset Frame", "OffsetFrame"),
        "emotion": ("emotion", "Estimated Emotion"),
    },
)

#: Known file names of the coding sheet, most specific first.
SHEET_PATTERNS = (
    "cas(me)3_part_A_ME_label_JpgIndex*.xlsx",
    "cas(me)3_part_A*.xlsx",
    "*part_A*label*.xlsx",
    "*part_A*label*.csv",
)


def normalise_subject(value: object) -> str:
    """Write a CAS(ME)^3 subject as on disk: ``1`` or ``'spNO.1'`` -> ``'spNO.1'``."""
    text = cell_text(value)
    return f"spNO.{int(text)}" if text.isdigit() else text


class Casme3A(ClipDataset):
    """The micro-expression clips of a CAS(ME)^3 part A copy.

    Parameters
    ----------
    root : str or Path
        Folder holding the label sheet and the subject folders (``spNO.1``...).
    sheet : str or Path, optional
        The label sheet, when it is not in ``root`` under a known name.
    modality : str
        Subfolder of each recording holding the frames (``color``; ``depth``
        holds depth maps). When absent, frames are read from the recording folder.
    mapping : mapping of str to str or None, optional
        Emotion -> class (None drops the emotion); defaults to MEGC's three classes.
    clips : mapping of (subject, clip) to int, optional
        Keep only these clips, with these labels.
    apex_outside : {'skip', 'keep'}
        What to do with a clip whose apex lies outside onset..offset.

    Raises
    ------
    DatasetNotFoundError
        If ``root`` holds no label sheet or no subject folders.
    AnnotationError
        If the sheet lacks the expected columns.
    """

    name = "casme3a"
    title = "CAS(ME)^3 part A"

    def __init__(
        self,
        root: str | Path,
        *,
        sheet: str | Path | None = None,
        modality: str = "color",
        mapping: Mapping[str, str | None] | None = None,
        clips: Mapping[tuple[str, str], int] | None = None,
        apex_outside: str = "skip",
    ) -> None:
        super().__init__()
        self.root = check_root(root, self.title)
        self.sheet = find_sheets(self.root, SHEET_PATTERNS, title=self.title, sheet=sheet)[0]
        rows = read_sheet(self.sheet, LAYOUT)
        subjects = {normalise_subject(r.values["subject"]) for r in rows}
        frames_dir = find_frames_dir(self.root, subjects, (".", "part_A", "data/part_A"))
        if frames_dir is None:
            raise frames_not_found(self.root, self.title, subjects, "spNO.1/b/color/175.jpg")
        self.frames_dir = frames_dir
        raw = []
        for row in rows:
            subject = normalise_subject(row.values["subject"])
            recording = cell_text(row.values["clip"])
            folder = frames_dir / subject / recording
            if (folder / modality).is_dir() or not folder.is_dir():
                folder = folder / modality
            clip = f"{recording}_{cell_text(row.values['onset'])}"
            raw.append(RawClip.from_row(row, subject, folder, clip=clip))
        mapping = emotion_mapping(self.name) if mapping is None else mapping
        self.class_names = classes_of(mapping)
        self.records, self.issues, self.excluded = build_records(
            self.name, raw, mapping=mapping, selection=clips, apex_outside=apex_outside
        )
