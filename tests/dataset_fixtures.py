"""Tiny fake copies of the real datasets, in their real on-disk layouts.

Each ``make_*`` function writes a coding sheet with the real column names and
quirks (SAMM's 13 preamble rows, an apex written '/', subjects as text '01'
or numbers) and 8x8 frames named as the release names them. Only the onset,
apex and offset frames of a clip are written (that is all the readers need).
Nothing here comes from the licensed data; the protocol builders only use the
published MEGC2019 clip identifiers that the package ships.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from microexpr.data.mappings import official_clips

Row = tuple  # (subject, clip, onset, apex, offset, emotion); frames may be '/'


@cache
def _encoded(suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix, np.full((8, 8), 128, np.uint8))
    assert ok
    return data.tobytes()


def write_frames(folder: Path, names: Iterable[str]) -> None:
    """Write one tiny image per name into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(_encoded(Path(name).suffix))


def _numbers(row: Row, skip: Iterable[int] = ()) -> list[int]:
    return [n for n in row[2:5] if isinstance(n, int) and n not in set(skip)]


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> Path:
    """Write worksheets (name, rows) to an .xlsx file."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _frames(
    base: Path,
    rows: Sequence[Row],
    folder: Callable[[Row], Path],
    name: Callable[[Row, int], str],
    missing: Iterable[str],
    drop: dict[str, set[int]] | None,
) -> None:
    missing = set(missing)
    drop = drop or {}
    for row in rows:
        if row[1] in missing:
            continue
        write_frames(
            base / folder(row), [name(row, n) for n in _numbers(row, drop.get(row[1], ()))]
        )


# --- CASME II ---------------------------------------------------------------

CASME2_ROWS: list[Row] = [
    ("01", "EP02_01f", 46, 59, 86, "happiness"),
    ("01", "EP19_05f", 396, 416, 446, "disgust"),
    ("02", "EP01_11f", 46, 91, 96, "repression"),
    ("02", "EP03_02", 131, 139, 161, "others"),
    ("04", "EP12_01f", 261, "/", 321, "disgust"),
    ("05", "EP09_05f", 11, 20, 30, "surprise"),
    ("05", "EP10_01", 100, 90, 120, "surprise"),
    ("06", "EP01_01", 1, 5, 9, "happyness"),
    ("07", "EP15_01", 10, 20, 30, "disgust"),
    ("07", "EP16_02", 10, 20, 30, "happiness"),
]
"""Quirks: 'others' (dropped), apex '/', apex outside onset..offset (EP10_01),
an unknown emotion (EP01_01); ``make_casme2`` leaves EP15_01 without a folder
and EP16_02 without its apex frame."""


def make_casme2(
    root: Path,
    rows: Sequence[Row] = CASME2_ROWS,
    *,
    release: str = "raw",
    version: str = "2019",
    missing: Iterable[str] = ("EP15_01",),
    drop: dict[str, set[int]] | None = None,
    nested: bool = False,
) -> Path:
    """Write a CASME II copy: the coding sheet and one release's frames."""
    drop = {"EP16_02": {20}} if drop is None else drop
    if version == "2019":
        header = [
            "Subject",
            "Filename",
            None,
            "OnsetFrame",
            "ApexFrame",
            "OffsetFrame",
            None,
            "Action Units",
            "Estimated Emotion",
            "Objective Classes",
        ]
        body = [[s, c, None, on, ap, off, None, "12", e, 1] for s, c, on, ap, off, e in rows]
        write_xlsx(
            root / "CASME2-coding-20190701.xlsx",
            [("Sheet1", [header, *body]), ("Sheet2", []), ("Sheet3", [])],
        )
    else:
        # the older sheet: numeric subjects, no Objective Classes column
        header = [
            "Subject",
            "Filename",
            None,
            "OnsetFrame",
            "ApexFrame",
            "OffsetFrame",
            None,
            "Action Units",
            "Estimated Emotion",
        ]
        body = [[int(s), c, None, on, ap, off, None, "4+7", e] for s, c, on, ap, off, e in rows]
        write_xlsx(root / "CASME2-coding-20140508.xlsx", [("Sheet1", [header, *body])])
    folder, prefix = ("CASME2_RAW_selected", "") if release == "raw" else ("Cropped", "reg_")
    base = root / folder / folder if nested else root / folder
    _frames(
        base,
        rows,
        lambda r: Path(f"sub{int(r[0]):02d}") / r[1],
        lambda r, n: f"{prefix}img{n}.jpg",
        missing,
        drop,
    )
    return root


# --- SAMM -------------------------------------------------------------------

SAMM_ROWS: list[Row] = [
    ("006", "006_1_2", 5562, 5588, 5632, "Anger"),
    ("006", "006_1_3", 3912, 3948, 3988, "Happiness"),
    ("007", "007_3_1", 100, 120, 140, "Other"),
    ("011", "011_2_1", 2000, 2010, 2030, "Surprise"),
    ("028", "028_4_1", 1071, 1143, 1134, "Contempt"),
    ("032", "032_3_1", 4896, 1930, 4970, "Anger"),
    ("033", "033_1_1", 10, 20, 30, "Fear"),
]
"""Quirks: 'Other' (dropped), two apexes outside onset..offset (as in v2)."""

_SAMM_PREAMBLE = [
    ["SAMM Dataset - Master FACS Codes", None, None, None, "(Note to the users: please cite)"],
    [],
    ["9/9/17 - New updates with Emotional and Objective Classes."],
    [None, None, None, None, "(Note to the users: if you're using the emotional classes)"],
    [],
    ["Symbol Key:"],
    ['"/" = or'],
    ['"?" = some AU\'s continue for a while and have unclear offset'],
    [],
    ["AU Help:"],
    ['"L2 or R2" = Unilateral AU 2'],
    ['"A2" = Asymmetric AU 2'],
    [],
]
_SAMM_HEADER = [
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
]


def make_samm(
    root: Path,
    rows: Sequence[Row] = SAMM_ROWS,
    *,
    preamble: bool = True,
    digits: int = 5,
    missing: Iterable[str] = (),
    drop: dict[str, set[int]] | None = None,
    under_samm: bool = True,
) -> Path:
    """Write a SAMM copy: the v2 sheet (13 preamble rows) or a one-header sheet."""
    body = []
    for i, (s, c, on, ap, off, e) in enumerate(rows, start=15):
        body.append([s, c, 1, on, ap, off, f"=SUM(F{i}-D{i})+1", "Micro - 1/2", "4+7", e, 3, None])
    sheet = [*(_SAMM_PREAMBLE if preamble else []), _SAMM_HEADER, *body]
    name = "SAMM_Micro_FACS_Codes_v2.xlsx" if preamble else "SAMM_Micro_FACS_Codes.xlsx"
    write_xlsx(root / name, [("MICRO_ONLY" if preamble else "Sheet1", sheet)])
    base = root / "SAMM" if under_samm else root
    _frames(
        base,
        rows,
        lambda r: Path(r[0]) / r[1],
        lambda r, n: f"{r[0]}_{n:0{digits}d}.jpg",
        missing,
        drop,
    )
    return root


# --- CASME (I) --------------------------------------------------------------

CASME_ROWS: list[Row] = [
    (1, "EP01_5", 113, 120, 140, "disgust"),
    (1, "EP02_1", 10, 18, 30, "happiness"),
    (2, "EP03_2", 50, 60, 70, "surprise"),
    (2, "EP04_3", 50, 60, 70, "tense"),
    (3, "EP05_1", 5, 9, 12, "repression"),
]


def make_casme(
    root: Path,
    rows: Sequence[Row] = CASME_ROWS,
    *,
    release: str = "raw",
    folder: str | None = None,
    sections: bool = False,
) -> Path:
    """Write a CASME copy: sheet(s) with OnsetF/ApexF1/ApexF2/OffsetF and frames."""
    header = [
        "Subject",
        "Filename",
        "OnsetF",
        "ApexF1",
        "ApexF2",
        "OffsetF",
        "Duration",
        "AU",
        "Emotion",
    ]
    body = [[s, c, on, ap, None, off, None, "4", e] for s, c, on, ap, off, e in rows]
    if sections:
        half = len(body) // 2
        write_xlsx(root / "CASME_A_Section.xlsx", [("Sheet1", [header, *body[:half]])])
        write_xlsx(root / "CASME_B_Section.xlsx", [("Sheet1", [header, *body[half:]])])
    else:
        write_xlsx(root / "CASME_coding.xlsx", [("Sheet1", [header, *body])])
    prefix = "" if release == "raw" else "reg_"
    folder = folder or ("CASME_raw_selected" if release == "raw" else "CASME_cropped_selected")
    _frames(
        root / folder,
        rows,
        lambda r: Path(f"sub{int(r[0]):02d}") / r[1],
        lambda r, n: f"{prefix}{r[1]}-{n}.jpg",
        (),
        None,
    )
    return root


# --- SMIC-HS ----------------------------------------------------------------

SMIC_CLIPS = [
    ("s1", "negative", "s1_ne_01", 1000, 5),
    ("s1", "positive", "s1_po_01", 2000, 4),
    ("s2", "surprise", "s2_sur_01", 300, 7),
    ("s3", "negative", "s3_ne_02", 50, 0),
]
"""(subject folder, class folder, clip folder, first frame, frame count); the
last clip has an empty folder."""


def make_smic(root: Path, clips: Sequence[tuple] = SMIC_CLIPS, *, hs: str = "HS") -> Path:
    """Write a SMIC-HS copy: ``HS/s1/micro/<class>/<clip>/reg_image0xxxxx.bmp``."""
    for subject, emotion, clip, first, count in clips:
        folder = root / hs / subject / "micro" / emotion / clip
        folder.mkdir(parents=True, exist_ok=True)
        write_frames(folder, [f"reg_image{n:06d}.bmp" for n in range(first, first + count)])
    (root / hs / "s1" / "non_micro").mkdir(parents=True, exist_ok=True)
    return root


# --- CAS(ME)^3 part A -------------------------------------------------------

CASME3_ROWS: list[Row] = [
    ("spNO.1", "b", 175, 190, 210, "happy"),
    ("spNO.1", "b", 400, 410, 430, "disgust"),
    ("spNO.2", "a", 30, 40, 55, "surprise"),
    ("spNO.2", "c", 30, 40, 55, "others"),
]


def make_casme3a(root: Path, rows: Sequence[Row] = CASME3_ROWS) -> Path:
    """Write a CAS(ME)^3 part A copy: the label sheet and ``spNO.1/b/color/175.jpg``."""
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    body = [[s, c, on, ap, off, "12", 1, e] for s, c, on, ap, off, e in rows]
    write_xlsx(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", [("Sheet1", [header, *body])])
    _frames(
        root / "part_A",
        rows,
        lambda r: Path(r[0]) / r[1] / "color",
        lambda r, n: f"{n}.jpg",
        (),
        None,
    )
    return root


# --- composites -------------------------------------------------------------

_CASME2_EMOTION = {0: ("disgust", "repression"), 1: ("happiness",), 2: ("surprise",)}
_SAMM_EMOTION = {
    0: ("Anger", "Contempt", "Disgust", "Fear", "Sadness"),
    1: ("Happiness",),
    2: ("Surprise",),
}
_SMIC_CLASS = {0: "negative", 1: "positive", 2: "surprise"}


def _official_rows(dataset: str, emotions: dict[int, tuple[str, ...]]) -> list[Row]:
    rows = []
    for i, ((subject, clip), label) in enumerate(sorted(official_clips(dataset).items())):
        choices = emotions[label]
        rows.append((subject, clip, 10, 15, 20, choices[i % len(choices)]))
    return rows


def make_megc_casme2(root: Path) -> Path:
    """A CASME II copy holding the 145 official clips, 'others' clips and one extra surprise."""
    rows = [
        (s[3:], c, on, ap, off, e)
        for s, c, on, ap, off, e in _official_rows("casme2", _CASME2_EMOTION)
    ]
    rows += [
        ("01", "EP03_02", 10, 15, 20, "others"),
        ("26", "EP01_01", 10, 15, 20, "others"),
        ("24", "EP07_01", 10, 15, 20, "surprise"),
    ]
    return make_casme2(root, rows, missing=(), drop={})


def make_megc_samm(root: Path) -> Path:
    """A SAMM copy holding the 133 official clips (one with its apex past the offset)."""
    rows = _official_rows("samm", _SAMM_EMOTION)
    rows = [
        (s, c, 1071, 1143, 1134, e) if c == "028_4_1" else (s, c, 5010, 5015, 5020, e)
        for s, c, on, ap, off, e in rows
    ]
    rows += [("025", "025_1_1", 10, 15, 20, "Other"), ("006", "006_9_9", 10, 15, 20, "Other")]
    return make_samm(root, rows)


def make_megc_smic(root: Path) -> Path:
    """A SMIC-HS copy holding the 164 official clips, with un-padded folder names (s1)."""
    clips = []
    for (subject, clip), label in sorted(official_clips("smic").items()):
        number = str(int(subject[1:]))
        clips.append((f"s{number}", _SMIC_CLASS[label], f"s{number}{clip[3:]}", 100, 3))
    return make_smic(root, clips)


CASME_PAPER = {"negative": 82, "positive": 7, "surprise": 15}


def make_paper_casme(root: Path) -> Path:
    """A CASME copy with the paper's 104 kept clips over 15 subjects, plus dropped ones."""
    emotions = (
        ["disgust"] * 50
        + ["repression"] * 28
        + ["sadness"] * 4
        + ["happiness"] * 7
        + ["surprise"] * 15
        + ["contempt", "fear", "tense", "tense"]
    )
    rows = [(i % 15 + 1, f"EP{i:02d}_1", 10, 15, 20, e) for i, e in enumerate(emotions)]
    return make_casme(root, rows)


def make_partial_casme2(root: Path, keep: Sequence[str] = ("01", "02")) -> Path:
    """The copy of :func:`make_megc_casme2` with the frames of subjects ``keep`` only.

    As a user's half-copied CASME II: the whole coding sheet, most frame folders missing.
    """
    make_megc_casme2(root)
    base = root / "CASME2_RAW_selected"
    for folder in base.iterdir():
        if folder.name not in {f"sub{s}" for s in keep}:
            for path in sorted(folder.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            folder.rmdir()
    return root
