"""SMIC-HS: the spontaneous micro-expression database, high-speed camera part.

Li, X., Pfister, T., Huang, X., Zhao, G. & Pietikainen, M. (2013). A
spontaneous micro-expression database: Inducement, collection and baseline.
10th IEEE International Conference on Automatic Face and Gesture Recognition
(FG 2013). https://doi.org/10.1109/FG.2013.6553717

Layout of a copy (the root is the ``HS`` folder or a folder above it)::

    HS/s1/micro/negative/s1_ne_01/reg_image012345.bmp
    HS/s1/micro/positive/s1_po_01/...
    HS/s1/micro/surprise/s1_sur_01/...

There is no coding sheet: each clip folder holds the frames from onset to
offset, and the folder above it is the clip's class (SMIC keeps its own
negative/positive/surprise labels). SMIC has no apex annotation: the middle
frame is used by default, or a spotted apex given per clip. Subjects are
written ``s01`` in the records (``s1`` on disk) and clips ``s01_ne_01``, as
in the MEGC2019 clip list.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from microexpr._validation import check_choice
from microexpr.data._base import ClipDataset
from microexpr.data._build import RawClip, build_records, classes_of
from microexpr.data._locate import check_root
from microexpr.data.mappings import emotion_mapping
from microexpr.data.records import discover_frames
from microexpr.errors import AnnotationError, ConfigError, DatasetNotFoundError

__all__ = ["Smic", "normalise_clip", "normalise_subject", "read_spotted_apex"]

_SUBJECT = re.compile(r"^s(\d+)$", re.IGNORECASE)
_CLIP = re.compile(r"^s(\d+)(_.*)$", re.IGNORECASE)


def normalise_subject(value: str) -> str:
    """Write a SMIC subject with two digits: ``'s1'`` -> ``'s01'``."""
    match = _SUBJECT.match(value.strip())
    return f"s{int(match.group(1)):02d}" if match else value.strip()


def normalise_clip(value: str) -> str:
    """Write a SMIC clip with a two-digit subject: ``'s1_ne_01'`` -> ``'s01_ne_01'``."""
    match = _CLIP.match(value.strip())
    return f"s{int(match.group(1)):02d}{match.group(2)}" if match else value.strip()


def read_spotted_apex(path: str | Path) -> dict[tuple[str, str], int]:
    """Read spotted apex frames from a CSV with columns ``subject, clip, apex``.

    Returns
    -------
    dict of (subject, clip) to int
        Normalised identifiers (``s01``, ``s01_ne_01``) to apex frame number.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist.
    AnnotationError
        If a column is missing or an apex is not a frame number.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"spotted apex file {str(path)!r} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if not {"subject", "clip", "apex"} <= set(columns):
            raise AnnotationError(
                f"{path}: expected the columns 'subject', 'clip', 'apex'; found {columns}"
            )
        result = {}
        for number, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not row["apex"].isdigit():
                raise AnnotationError(
                    f"{path} row {number}: apex {row['apex']!r} is not a frame number"
                )
            ident = (normalise_subject(row["subject"]), normalise_clip(row["clip"]))
            result[ident] = int(row["apex"])
    return result


def _find_hs(root: Path, max_depth: int = 3) -> Path | None:
    """Find the folder whose ``s*/micro`` folders hold the clips (``HS``), breadth first."""

    def holds(folder: Path) -> bool:
        return any((child / "micro").is_dir() for child in folder.glob("[sS]*"))

    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    if (root / "HS").is_dir():
        queue.appendleft((root / "HS", 0))
    while queue:
        folder, depth = queue.popleft()
        if holds(folder):
            return folder
        if depth < max_depth:
            queue.extend((c, depth + 1) for c in sorted(folder.iterdir()) if c.is_dir())
    return None


class Smic(ClipDataset):
    """The micro-expression clips of a SMIC-HS copy.

    Parameters
    ----------
    root : str or Path
        The ``HS`` folder, or a folder above it.
    apex : {'middle', 'spotted'}
        ``middle``: the middle frame on disk (the lower one of two); ``spotted``:
        the frame given by ``spotted`` for each clip.
    spotted : str, Path or mapping of (subject, clip) to int, optional
        Spotted apex frames (a CSV read by :func:`read_spotted_apex`, or the
        mapping itself); required when ``apex='spotted'``. A clip without one
        is reported and skipped.
    mapping : mapping of str to str or None, optional
        Class folder name -> class; defaults to SMIC's own three classes.
    clips : mapping of (subject, clip) to int, optional
        Keep only these clips, with these labels (an official clip list).

    Raises
    ------
    DatasetNotFoundError
        If no ``HS/s*/micro`` folders are found under ``root``.
    ConfigError
        If ``apex`` is not a known choice, or ``spotted`` is missing.
    """

    name = "smic"
    title = "SMIC-HS"

    def __init__(
        self,
        root: str | Path,
        *,
        apex: str = "middle",
        spotted: str | Path | Mapping[tuple[str, str], int] | None = None,
        mapping: Mapping[str, str | None] | None = None,
        clips: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        super().__init__()
        check_choice(apex, "apex", ["middle", "spotted"])
        if apex == "spotted" and spotted is None:
            raise ConfigError("apex='spotted' needs spotted=PATH (a CSV subject,clip,apex)")
        spotted_apex: Mapping[tuple[str, str], int] = {}
        if isinstance(spotted, (str, Path)):
            spotted_apex = read_spotted_apex(spotted)
        elif spotted is not None:
            spotted_apex = {
                (normalise_subject(s), normalise_clip(c)): a for (s, c), a in spotted.items()
            }
        self.root = check_root(root, self.title)
        hs = _find_hs(self.root)
        if hs is None:
            raise DatasetNotFoundError(
                f"{self.root} does not look like a SMIC-HS copy: expected clip folders such "
                "as HS/s1/micro/negative/s1_ne_01/reg_image012345.bmp under it"
            )
        self.frames_dir = hs
        raw = []
        subject_dirs = [d for d in hs.glob("[sS]*") if (d / "micro").is_dir()]
        for subject_dir in sorted(subject_dirs, key=lambda d: normalise_subject(d.name)):
            subject = normalise_subject(subject_dir.name)
            for class_dir in sorted(p for p in (subject_dir / "micro").iterdir() if p.is_dir()):
                for clip_dir in sorted(p for p in class_dir.iterdir() if p.is_dir()):
                    clip = normalise_clip(clip_dir.name)
                    frames = discover_frames(clip_dir)
                    numbers = sorted(frames)
                    onset = numbers[0] if numbers else None
                    offset = numbers[-1] if numbers else None
                    problem = None if numbers else "no frames in folder"
                    if apex == "middle":
                        apex_frame = numbers[(len(numbers) - 1) // 2] if numbers else None
                    else:
                        apex_frame = spotted_apex.get((subject, clip))
                        if apex_frame is None and problem is None:
                            problem = "no spotted apex given for this clip"
                    raw.append(
                        RawClip(
                            subject=subject,
                            clip=clip,
                            onset=onset,
                            apex=apex_frame,
                            offset=offset,
                            emotion=class_dir.name,
                            source=f"{class_dir.name}/{clip_dir.name}",
                            folder=clip_dir,
                            frames=frames,
                            problem=problem,
                        )
                    )
        mapping = emotion_mapping(self.name) if mapping is None else mapping
        self.class_names = classes_of(mapping)
        self.records, self.issues, self.excluded = build_records(
            self.name, raw, mapping=mapping, selection=clips, apex_outside="skip"
        )
