"""Tiny fake copies of the long-video datasets (CAS(ME)^2, SAMM Long Videos), with their quirks.

The sheets are written with pandas in the published layouts (see
``microexpr.data.casme_sq`` and ``microexpr.data.samm_lv``); every quirk the
readers handle has a row here, listed in ``CASME_SQ_ROWS`` / ``SAMM_LV_ROWS``
with what the reader must do with it. Frames are tiny grey JPEGs, or the
caller's own images (``frames``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

FrameMaker = Callable[[int], np.ndarray]


def _grey(_: int) -> np.ndarray:
    return np.full((8, 8), 128, np.uint8)


def write_frames(folder: Path, names: Sequence[str], make: FrameMaker = _grey) -> None:
    """Write one image per name (``make(i)`` gives the i-th, 0-based)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), make(i))


#: Code rows of the fake CAS(ME)^2 sheet, and what the reader does with each.
#: Columns by position: participant, name, onset, apex, offset, AUs, emotion, type, self-report.
CASME_SQ_ROWS: list[tuple[tuple[object, ...], str]] = [
    ((1, "disgust1_1", 10, 15, 20, "4", "disgust", "micro-expression", "disgust"), "micro 10-20"),
    (
        (1, "disgust1_2", 30, 0, 50, "4+9", "disgust", "macro-expression", "d"),
        "macro 30-50, no apex",
    ),
    ((1, "anger1_1", 5, 8, 0, "4", "anger", "micro-expression", "a"), "micro 5-8, offset missing"),
    ((1, "anger1_2", 12, 0, 0, "4", "anger", "macro-expression", "a"), "skipped: no end"),
    ((2, " Disgust1_1 ", 3, 4, 6, "4", "disgust", "micro-expression", "d"), "micro 3-6 in s16"),
    ((3, "disgust1_1", 3, 4, 6, "4", "disgust", "micro-expression", "d"), "skipped: participant"),
    ((1, "happy9_1", 3, 4, 6, "12", "happy", "micro-expression", "h"), "skipped: video name"),
    (
        (1, "disgust1_3", 40, 45, 35, "4", "disgust", "micro-expression", "d"),
        "skipped: onset>offset",
    ),
    ((1, "disgust1_4", 55, 58, 70, "4", "disgust", "macro-expression", "d"), "macro 55-60, cut"),
    ((1, "disgust1_5", 2, 3, 4, "4", "disgust", "others", "d"), "skipped: type"),
]


def make_casme_sq(
    root: Path,
    *,
    rows: Sequence[tuple[object, ...]] | None = None,
    videos: dict[str, int] | None = None,
    frames: FrameMaker = _grey,
) -> Path:
    """A fake CAS(ME)^2 copy: ``CAS(ME)^2code_final.xlsx`` and ``rawpic``.

    ``videos``: folder ``s15/15_0101disgustingteeth`` -> number of frames
    (``img1.jpg`` ...); by default four videos, one of them never annotated.
    """
    codes = [r for r, _ in CASME_SQ_ROWS] if rows is None else list(rows)
    # the naming sheets as published: subject sheet (col 3 -> col 2), video sheet (col 1 <- col 2)
    subjects = pd.DataFrame([[101, "s15", 1], [102, "s16", 2]])
    # one code as text with its zero, one as a number (a re-saved copy)
    video_names = pd.DataFrame([["0101", "disgust1"], [401, "anger1"], ["0502", "happy2"]])
    sheet = root / "CAS(ME)^2code_final.xlsx"
    root.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(sheet) as writer:
        pd.DataFrame(codes).to_excel(writer, sheet_name="Sheet1", header=False, index=False)
        subjects.to_excel(writer, sheet_name="naming rule2", header=False, index=False)
        video_names.to_excel(writer, sheet_name="naming rule1", header=False, index=False)
    if videos is None:
        videos = {
            "s15/15_0101disgustingteeth": 60,
            "s15/15_0401girlcrashing": 20,
            "s16/16_0101disgustingteeth": 10,
            "s16/16_0502funnyerrors": 5,
        }
    for folder, n in videos.items():
        write_frames(root / "rawpic" / folder, [f"img{i}.jpg" for i in range(1, n + 1)], frames)
    return root


#: Table rows of the fake SAMM Long Videos sheet, and what the reader does with each.
#: Columns: Subject, Filename, Inducement Code, Onset, Apex, Offset, Duration, Type, AUs, Notes.
SAMM_LV_ROWS: list[tuple[tuple[object, ...], str]] = [
    ((6, "006_1_1", 1, 10, 20, 30, 21, "Micro - 1/2", "12", None), "micro 10-30"),
    (("006", "006_1_2", 1, 40, -1, 90, 51, "Macro", "12+6", None), "macro 40-90, no apex"),
    (("006", " 006_1_3", 1, 100, 105, 0, None, "Micro-1/2", "4", None), "micro 100-105"),
    (("007", "7_2_1", 2, 5, 6, 9, 5, "micro", "1", "odd name"), "micro 5-9 in 007_2"),
    (("007", "007-2-2", 2, 5, 6, 9, 5, "Macro", "1", None), "skipped: filename"),
    (("007", "007_2_3", 2, 50, 55, 45, None, "Macro", "1", None), "skipped: onset>offset"),
    (("007", "007_3_1", 3, 1, 2, 3, 3, "Micro - 1/2", "1", None), "skipped: not on disk"),
    (("006", "006_1_4", 1, 10, 0, 0, None, "Macro", "1", None), "skipped: no end"),
    (("006", "006_1_5", 1, 10, 12, 20, 11, "Other", "1", None), "skipped: type"),
]

SAMM_LV_HEADER = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
)


def make_samm_lv(
    root: Path,
    *,
    rows: Sequence[tuple[object, ...]] | None = None,
    videos: dict[str, int] | None = None,
    frames: FrameMaker = _grey,
    notes: int = 9,
) -> Path:
    """A fake SAMM Long Videos copy: the V3 sheet (``notes`` rows above the header) and frames.

    ``videos``: folder ``006_1`` -> number of frames (``006_1_0001.jpg`` ...).
    """
    table = [r for r, _ in SAMM_LV_ROWS] if rows is None else list(rows)
    cells: list[tuple[object, ...]] = [("SAMM Long Videos",)]
    cells += [(f"note {i}: frame numbers start at 1",) for i in range(1, notes)]
    cells += [SAMM_LV_HEADER, *table]
    width = len(SAMM_LV_HEADER)
    frame = pd.DataFrame([list(r) + [None] * (width - len(r)) for r in cells], dtype=object)
    root.mkdir(parents=True, exist_ok=True)
    frame.to_excel(
        root / "SAMM_LongVideos_V3_Release.xlsx",
        sheet_name="FACS_Movement_Only",
        header=False,
        index=False,
    )
    if videos is None:
        videos = {"006_1": 120, "007_2": 60}
    for folder, n in videos.items():
        names = [f"{folder}_{i:04d}.jpg" for i in range(1, n + 1)]
        write_frames(root / "SAMM_longvideos" / folder, names, frames)
    return root
