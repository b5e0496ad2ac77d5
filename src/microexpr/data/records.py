"""Clip records: the one shape every dataset reader produces.

A :class:`ClipRecord` names a micro-expression clip (dataset, subject, clip),
its onset, apex and offset frame numbers, the annotated emotion, the class
label after the protocol's mapping, and the frame files found on disk. A
:class:`ClipIssue` is a problem found with one clip, of one of the
:data:`ISSUE_KINDS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CLASS_NAMES",
    "EXPRESSION_KINDS",
    "IMAGE_SUFFIXES",
    "ISSUE_KINDS",
    "ClipIssue",
    "ClipRecord",
    "ExpressionInterval",
    "LongVideo",
    "discover_frames",
]

#: Kinds of annotated expression intervals in the long-video (spotting) datasets.
EXPRESSION_KINDS: tuple[str, ...] = ("micro", "macro")

#: The three classes of the paper's and MEGC2019's protocols, in label order.
CLASS_NAMES: tuple[str, ...] = ("negative", "positive", "surprise")

#: File suffixes recognised as frames.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})

#: Kinds of :class:`ClipIssue`, in the order a check lists them, with what each means.
ISSUE_KINDS: dict[str, str] = {
    "frame folder missing": "the clip's frame folder does not exist",
    "no frames in folder": "the clip's folder holds no image files",
    "frame not on disk": "the onset or apex frame is not among the clip's files",
    "frame unreadable": "the onset or apex file cannot be decoded",
    "apex outside onset..offset": "the sheet's apex lies outside onset..offset",
    "offset past the last frame": "the sheet's offset lies past the last frame file (kept)",
    "not a frame number": "onset, apex or offset is not a frame number ('/', blank)",
    "unknown emotion": "an emotion (or label) the mapping does not know",
    "duplicate clip": "a second row for the same clip (the first is kept)",
    "unusable clip": "a problem the dataset's reader found (no spotted apex...)",
    "not in the official list": "kept by the emotion mapping, absent from the official list",
    "label differs from the official list": "the mapped emotion and the official label differ",
    "not in the coding sheet": "in the official clip list, absent from the coding sheet",
    # long videos (spotting): one issue per sheet row of an expression interval
    "unknown expression type": "the type is neither micro- nor macro-expression",
    "offset missing": "offset 0 or blank: the apex is taken as the offset (kept)",
    "onset after offset": "the interval's onset comes after its offset",
    "interval past the last frame": "the interval runs past the video's last frame",
    "video not on disk": "no frame folder of the row's video was found",
    "unknown name": "a subject or video name the naming sheet lacks, or that does not parse",
}

_TRAILING_NUMBER = re.compile(r"(\d+)(?=\.[A-Za-z]+$)")


@dataclass
class ClipRecord:
    """One annotated micro-expression clip.

    Attributes
    ----------
    dataset : str
        Dataset name, lowercase (``casme2``, ``samm``, ``synthetic``...).
    subject : str
        Subject identifier as the dataset writes it (``sub01``, ``006``).
    clip : str
        Clip identifier as the dataset writes it (``EP02_01f``).
    onset, apex, offset : int
        Frame numbers as annotated (the numbers in the frame file names).
    emotion : str
        Annotated emotion, as written in the sheet (lowercase).
    label : int
        Class index into ``class_names`` (-1 when the protocol drops it).
    frames : dict of int to Path
        Frame number to frame file, discovered on disk.
    class_names : tuple of str
        Names of the classes ``label`` indexes.
    """

    dataset: str
    subject: str
    clip: str
    onset: int
    apex: int
    offset: int
    emotion: str
    label: int
    frames: dict[int, Path] = field(default_factory=dict, repr=False)
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def group(self) -> str:
        """Subject key unique across datasets (``dataset/subject``), used by LOSO."""
        return f"{self.dataset}/{self.subject}"

    @property
    def key(self) -> str:
        """Clip key unique across datasets (``dataset/subject/clip``)."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def class_name(self) -> str:
        """Name of the class of this clip."""
        return self.class_names[self.label]

    def frame_path(self, number: int) -> Path:
        """Return the file of frame ``number``.

        Raises
        ------
        KeyError
            If no file of that number was found on disk.
        """
        try:
            return self.frames[number]
        except KeyError:
            raise KeyError(f"{self.key}: frame {number} not found on disk") from None


@dataclass(frozen=True)
class ClipIssue:
    """A problem found with one clip (or one row of a sheet).

    Attributes
    ----------
    key : str
        Clip key ``dataset/subject/clip`` (or a sheet row when there is no clip).
    reason : str
        What is wrong, in one sentence.
    path : str
        The file or folder concerned, when there is one.
    stage : str
        Where it was found: ``annotation``, ``frames``, ``face``, ``flow``...
    kind : str
        What kind of problem, one of :data:`ISSUE_KINDS` for the problems
        the dataset readers find ('' for others); checks group by it.
    """

    key: str
    reason: str
    path: str = ""
    stage: str = "annotation"
    kind: str = ""

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"[{self.stage}] {self.key}: {self.reason}{where}"


@dataclass(frozen=True)
class ExpressionInterval:
    """One annotated expression in a long video (the spotting ground truth).

    Attributes
    ----------
    onset, offset : int
        First and last frame, both inclusive, as numbered in the frame files.
    apex : int or None
        Apex frame; None where the sheet leaves it out (0 or blank).
    kind : str
        ``micro`` or ``macro`` (:data:`EXPRESSION_KINDS`).
    name : str
        The row's own name (``anger1_1``, ``006_1_2``).
    source : str
        Where it was read (``'file.xlsx row 15'``).
    """

    onset: int
    apex: int | None
    offset: int
    kind: str
    name: str = ""
    source: str = ""

    @property
    def frames(self) -> tuple[int, int]:
        """``(onset, offset)``, the interval the MEGC rule scores."""
        return (self.onset, self.offset)


@dataclass
class LongVideo:
    """A long video of a spotting dataset: its frames and its annotated expressions.

    Attributes
    ----------
    dataset : str
        ``casme2_lv`` or ``samm_lv``.
    subject : str
        Subject folder (``s15``, ``006``).
    video : str
        Video folder (``15_0101disgustingteeth``, ``006_1``).
    folder : Path
        Folder of its frames.
    fps : float
        Frame rate of the recording.
    frames : dict of int to Path
        Frame number -> file, as numbered in the file names.
    intervals : list of ExpressionInterval
        Usable annotated expressions, in sheet order.
    """

    dataset: str
    subject: str
    video: str
    folder: Path
    fps: float
    frames: dict[int, Path] = field(default_factory=dict, repr=False)
    intervals: list[ExpressionInterval] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Video key ``dataset/subject/video``."""
        return f"{self.dataset}/{self.subject}/{self.video}"

    def intervals_of(self, kind: str) -> list[tuple[int, int]]:
        """``(onset, offset)`` of the intervals of one kind (``micro``/``macro``)."""
        return [i.frames for i in self.intervals if i.kind == kind]


def discover_frames(folder: Path, *, prefix: str | None = None) -> dict[int, Path]:
    """Map frame numbers to image files in ``folder``.

    The frame number is the last run of digits before the suffix, of any
    padding width (``img46.jpg``, ``006_05562.jpg``, ``reg_image012345.bmp``).

    Parameters
    ----------
    folder : Path
        Folder holding the frames of one clip.
    prefix : str, optional
        Only files whose name starts with this prefix (``reg_`` for cropped
        releases that keep other files beside them).

    Returns
    -------
    dict of int to Path
        Empty if the folder does not exist or holds no frames.
    """
    frames: dict[int, Path] = {}
    if not folder.is_dir():
        return frames
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if prefix is not None and not path.name.startswith(prefix):
            continue
        match = _TRAILING_NUMBER.search(path.name)
        if match:
            frames[int(match.group(1))] = path
    return frames
