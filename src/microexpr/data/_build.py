"""Building clip records: the one validation path from a sheet row to a usable clip.

Every reader (the databases, the manifest CSV and the synthetic set's
``annotations.csv``, which is a manifest) turns its rows into
:class:`RawClip` objects and hands them to :func:`build_records`, which maps
emotions to classes, applies an official clip list, finds the frames and
checks onset, apex and offset against them. Every bad clip becomes a
:class:`~microexpr.data.records.ClipIssue` with a ``kind`` (see
:data:`~microexpr.data.records.ISSUE_KINDS`) instead of an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from microexpr._validation import check_choice
from microexpr.data._parsing import SheetRow, cell_int, cell_text
from microexpr.data.records import (
    CLASS_NAMES,
    ClipIssue,
    ClipRecord,
    ExpressionInterval,
    LongVideo,
    discover_frames,
)
from microexpr.errors import ConfigError

__all__ = [
    "APEX_OUTSIDE_CHOICES",
    "RawClip",
    "RawInterval",
    "build_long_videos",
    "build_records",
    "classes_of",
    "expression_kind",
]

#: What a reader does with a clip whose apex lies outside onset..offset.
APEX_OUTSIDE_CHOICES = ("skip", "keep")


@dataclass
class RawClip:
    """A clip as read from a sheet, before validation.

    Attributes
    ----------
    subject, clip : str
        Normalised identifiers.
    onset, apex, offset : object
        Raw cells (parsed by :func:`build_records`).
    emotion : str
        Emotion as written.
    source : str
        Where the clip was read (``'file.xlsx row 15'``).
    folder : Path
        Folder of its frames.
    prefix : str, optional
        Frame file prefix (``reg_`` for cropped releases).
    frames : dict of int to Path, optional
        Frames already discovered (SMIC); discovered in ``folder`` otherwise.
    problem : str, optional
        A problem found by the reader that makes the clip unusable (reported
        only when the protocol keeps the clip).
    """

    subject: str
    clip: str
    onset: object
    apex: object
    offset: object
    emotion: str
    source: str
    folder: Path
    prefix: str | None = None
    frames: dict[int, Path] | None = None
    problem: str | None = None

    @classmethod
    def from_row(
        cls,
        row: SheetRow,
        subject: str,
        folder: Path,
        *,
        clip: str | None = None,
        prefix: str | None = None,
    ) -> RawClip:
        """A clip from a sheet row with the canonical fields, its frames in ``folder``.

        ``subject`` is the row's subject as the dataset's reader normalises it;
        ``clip`` overrides the row's clip name (CAS(ME)^3 names clips by
        recording and onset).
        """
        return cls(
            subject=subject,
            clip=cell_text(row.values["clip"]) if clip is None else clip,
            onset=row.values["onset"],
            apex=row.values["apex"],
            offset=row.values["offset"],
            emotion=cell_text(row.values["emotion"]),
            source=row.source,
            folder=folder,
            prefix=prefix,
        )


def classes_of(mapping: Mapping[str, str | None]) -> tuple[str, ...]:
    """Class names a mapping targets: ``CLASS_NAMES`` when it fits, else its own, sorted."""
    targets = {v for v in mapping.values() if v is not None}
    return CLASS_NAMES if targets <= set(CLASS_NAMES) else tuple(sorted(targets))


def build_records(
    dataset: str,
    clips: Iterable[RawClip],
    *,
    mapping: Mapping[str, str | None],
    class_names: Sequence[str] | None = None,
    selection: Mapping[tuple[str, str], int] | None = None,
    apex_outside: str = "skip",
    term: str = "emotion",
) -> tuple[list[ClipRecord], list[ClipIssue], list[str]]:
    """Validate raw clips into records; every bad clip becomes an issue.

    Parameters
    ----------
    dataset : str
        Dataset name of the records.
    clips : iterable of RawClip
        The clips read from the sheet.
    mapping : mapping of str to str or None
        Lowercase emotion -> class name, or None for emotions the protocol drops.
    class_names : sequence of str, optional
        The classes labels index; by default :func:`classes_of` ``mapping``.
    selection : mapping of (subject, clip) to int, optional
        An official clip list: only these clips are kept, with these labels.
    apex_outside : {'skip', 'keep'}
        Whether a clip whose apex lies outside onset..offset is skipped or kept
        (it is reported either way).
    term : str
        What the mapped column is called in messages (``emotion``, ``label``).

    Returns
    -------
    records : list of ClipRecord
        Usable clips, in sheet order.
    issues : list of ClipIssue
        One per problem; a clip can have more than one (kept clips too, when
        the problem does not stop its use).
    excluded : list of str
        Keys of the clips left out by the protocol, not by a problem (dropped
        emotions, clips absent from ``selection``).
    """
    check_choice(apex_outside, "apex_outside", APEX_OUTSIDE_CHOICES)
    mapping = {k.strip().lower(): v for k, v in mapping.items()}
    names = classes_of(mapping) if class_names is None else tuple(class_names)
    strays = sorted({v for v in mapping.values() if v is not None and v not in names})
    if strays:
        raise ConfigError(f"mapping targets {strays}, which are not among class_names {names}")
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    excluded: list[str] = []
    seen: set[tuple[str, str]] = set()
    listed: dict[tuple[Path, str | None], dict[int, Path]] = {}
    for raw in clips:
        key = f"{dataset}/{raw.subject}/{raw.clip}"
        ident = (raw.subject, raw.clip)
        if ident in seen:
            issues.append(
                ClipIssue(
                    key, f"{raw.source}: duplicate clip, first row kept", kind="duplicate clip"
                )
            )
            continue
        seen.add(ident)
        emotion = raw.emotion.strip().lower()
        if emotion in mapping:
            mapped = mapping[emotion]
        else:
            mapped = None
            if selection is None or ident in selection:
                known = ", ".join(sorted(mapping))
                reason = f"{raw.source}: unknown {term} {raw.emotion!r} (known: {known})"
                if selection is None:
                    issues.append(ClipIssue(key, reason, kind="unknown emotion"))
                    continue
                issues.append(
                    ClipIssue(key, reason + "; the official label is used", kind="unknown emotion")
                )
        if selection is not None:
            if ident not in selection:
                excluded.append(key)
                if mapped is not None:
                    issues.append(
                        ClipIssue(
                            key,
                            f"{raw.source}: emotion {emotion!r} is kept by the protocol but "
                            "the clip is not in the official clip list; excluded",
                            stage="protocol",
                            kind="not in the official list",
                        )
                    )
                continue
            label = selection[ident]
            if mapped is not None and mapped != names[label]:
                issues.append(
                    ClipIssue(
                        key,
                        f"{raw.source}: emotion {emotion!r} maps to {mapped}, the official "
                        f"list says {names[label]}; the official label is used",
                        stage="protocol",
                        kind="label differs from the official list",
                    )
                )
        elif mapped is None:
            excluded.append(key)
            continue
        else:
            label = names.index(mapped)
        if raw.problem is not None:
            issues.append(
                ClipIssue(
                    key, f"{raw.source}: {raw.problem}", str(raw.folder), kind="unusable clip"
                )
            )
            continue
        onset, apex, offset = cell_int(raw.onset), cell_int(raw.apex), cell_int(raw.offset)
        if onset is None or apex is None or offset is None:
            bad = [
                f"{n} {cell_text(getattr(raw, n))!r}"
                for n, v in (("onset", onset), ("apex", apex), ("offset", offset))
                if v is None
            ]
            reason = f"{raw.source}: {', '.join(bad)} is not a frame number"
            issues.append(ClipIssue(key, reason, kind="not a frame number"))
            continue
        frames = raw.frames
        if frames is None:
            # CAS(ME)^3 codes several clips in one recording folder: list it once
            where = (raw.folder, raw.prefix)
            if where not in listed:
                listed[where] = discover_frames(raw.folder, prefix=raw.prefix)
            frames = listed[where]
        folder = str(raw.folder)
        if not frames:
            reason = "frame folder missing" if not raw.folder.is_dir() else "no frames in folder"
            issues.append(ClipIssue(key, reason, folder, "frames", reason))
            continue
        if not onset <= apex <= offset:
            keep = apex_outside == "keep"
            issues.append(
                ClipIssue(
                    key,
                    f"{raw.source}: apex {apex} outside onset..offset {onset}..{offset}"
                    + ("; kept (apex_outside='keep')" if keep else ""),
                    folder,
                    kind="apex outside onset..offset",
                )
            )
            if not keep:
                continue
        missing = [(n, v) for n, v in (("onset", onset), ("apex", apex)) if v not in frames]
        if missing:
            name, number = missing[0]
            issues.append(
                ClipIssue(
                    key,
                    f"{name} frame {number} not on disk (frames {min(frames)}..{max(frames)})",
                    folder,
                    "frames",
                    "frame not on disk",
                )
            )
            continue
        if offset > max(frames):
            issues.append(
                ClipIssue(
                    key,
                    f"offset {offset} past the last frame on disk {max(frames)}; kept "
                    "(only the onset and apex frames are used)",
                    folder,
                    "frames",
                    "offset past the last frame",
                )
            )
        records.append(
            ClipRecord(
                dataset=dataset,
                subject=raw.subject,
                clip=raw.clip,
                onset=onset,
                apex=apex,
                offset=offset,
                emotion=emotion,
                label=label,
                frames=frames,
                class_names=names,
            )
        )
    if selection is not None:
        for subject, clip in selection:
            if (subject, clip) not in seen:
                issues.append(
                    ClipIssue(
                        f"{dataset}/{subject}/{clip}",
                        "in the official clip list but not in the coding sheet",
                        stage="protocol",
                        kind="not in the coding sheet",
                    )
                )
    return records, issues, excluded


@dataclass
class RawInterval:
    """An expression interval as read from a long-video sheet, before validation.

    Attributes
    ----------
    subject, video : str
        Subject and video folder names (as on disk).
    name : str
        The row's own name (``anger1_1``, ``006_1_2``).
    onset, apex, offset : object
        Raw cells.
    kind : str
        The type as written (``micro-expression``, ``Micro - 1/2``, ``Macro``).
    source : str
        Where it was read (``'file.xlsx row 15'``).
    folder : Path
        Folder of the video's frames.
    problem : str, optional
        A problem the reader found (a name missing from the naming sheet):
        the row is skipped and reported with ``problem_kind``.
    problem_kind : str
        The issue kind of ``problem``.
    """

    subject: str
    video: str
    name: str
    onset: object
    apex: object
    offset: object
    kind: str
    source: str
    folder: Path
    problem: str | None = None
    problem_kind: str = "unknown name"


def expression_kind(text: object) -> str | None:
    """``micro`` or ``macro`` from a sheet's type cell, None when it is neither.

    ``micro-expression``, ``Micro - 1/2``, ``MICRO`` -> ``micro``;
    ``macro-expression``, ``Macro`` -> ``macro``.
    """
    key = cell_text(text).lower().replace(" ", "")
    for kind in ("micro", "macro"):
        if key.startswith(kind):
            return kind
    return None


def _frame_or_none(value: object) -> int | None:
    # 0, negative or blank: not given (the sheets write a missing frame as 0)
    number = cell_int(value)
    return number if number is not None and number > 0 else None


def build_long_videos(
    dataset: str,
    intervals: Iterable[RawInterval],
    *,
    fps: float,
    videos_on_disk: Iterable[tuple[str, str, Path]] = (),
) -> tuple[list[LongVideo], list[ClipIssue]]:
    """Validate the rows of a long-video sheet into videos with their expression intervals.

    Rules, each bad row becoming a :class:`~microexpr.data.records.ClipIssue`
    whose ``key`` is ``dataset/subject/video/name``:

    - a type neither micro nor macro: skipped (``unknown expression type``);
    - an onset that is not a frame number: skipped (``not a frame number``);
    - an apex of 0 or blank is missing (kept: the MEGC rule scores onset..offset);
    - an offset of 0 or blank: the apex is the offset, as the MEGC baselines
      read the CAS(ME)^2 sheet (kept, ``offset missing``); skipped when the
      apex is missing too;
    - onset after offset: skipped;
    - an apex outside onset..offset: kept and reported;
    - no frames of the video on disk: skipped (``video not on disk``);
    - an interval starting past the last frame: skipped; one ending past it:
      cut at the last frame and reported (``interval past the last frame``);
    - a second row with the same video, kind, onset and offset: skipped.

    Parameters
    ----------
    dataset : str
        Dataset name of the videos.
    intervals : iterable of RawInterval
    fps : float
        Frame rate of the recordings.
    videos_on_disk : iterable of (subject, video, folder)
        Videos found on disk; those without an annotated interval are kept
        (the MEGC protocol spots over every video: anything spotted there is
        a false positive).

    Returns
    -------
    videos : list of LongVideo
        Sorted by subject and video.
    issues : list of ClipIssue
    """
    videos: dict[tuple[str, str], LongVideo] = {}
    missing: set[tuple[str, str]] = set()
    issues: list[ClipIssue] = []
    seen: set[tuple[str, str, str, int, int]] = set()

    def video_of(subject: str, name: str, folder: Path) -> LongVideo | None:
        ident = (subject, name)
        if ident in missing:
            return None
        if ident not in videos:
            frames = discover_frames(folder)
            if not frames:
                missing.add(ident)
                return None
            videos[ident] = LongVideo(dataset, subject, name, folder, float(fps), frames)
        return videos[ident]

    for subject, name, folder in videos_on_disk:
        video_of(subject, name, folder)
    for raw in intervals:
        key = f"{dataset}/{raw.subject}/{raw.video}/{raw.name}"
        where = f"{raw.source}: "
        if raw.problem is not None:
            issues.append(ClipIssue(key, where + raw.problem, kind=raw.problem_kind))
            continue
        kind = expression_kind(raw.kind)
        if kind is None:
            issues.append(
                ClipIssue(
                    key,
                    where + f"type {cell_text(raw.kind)!r} is neither a micro- nor a "
                    "macro-expression; skipped",
                    kind="unknown expression type",
                )
            )
            continue
        onset, apex = _frame_or_none(raw.onset), _frame_or_none(raw.apex)
        offset = _frame_or_none(raw.offset)
        if onset is None:
            issues.append(
                ClipIssue(
                    key,
                    where + f"onset {cell_text(raw.onset)!r} is not a frame number; skipped",
                    kind="not a frame number",
                )
            )
            continue
        if offset is None:
            if apex is None:
                issues.append(
                    ClipIssue(
                        key,
                        where + f"offset {cell_text(raw.offset)!r} and apex "
                        f"{cell_text(raw.apex)!r}: no end frame; skipped",
                        kind="not a frame number",
                    )
                )
                continue
            issues.append(
                ClipIssue(
                    key,
                    where + f"offset {cell_text(raw.offset)!r} missing: the apex {apex} is "
                    "taken as the offset (as the MEGC baselines do); kept",
                    kind="offset missing",
                )
            )
            offset = apex
        if onset > offset:
            issues.append(
                ClipIssue(
                    key,
                    where + f"onset {onset} after offset {offset}; skipped",
                    kind="onset after offset",
                )
            )
            continue
        if apex is not None and not onset <= apex <= offset:
            issues.append(
                ClipIssue(
                    key,
                    where + f"apex {apex} outside onset..offset {onset}..{offset}; kept "
                    "(the spotting score uses onset..offset only)",
                    kind="apex outside onset..offset",
                )
            )
        video = video_of(raw.subject, raw.video, raw.folder)
        if video is None:
            issues.append(
                ClipIssue(
                    key,
                    where + "no frames of this video on disk; skipped",
                    str(raw.folder),
                    "frames",
                    "video not on disk",
                )
            )
            continue
        last = max(video.frames)
        if onset > last:
            issues.append(
                ClipIssue(
                    key,
                    where + f"onset {onset} past the last frame {last}; skipped",
                    str(raw.folder),
                    "frames",
                    "interval past the last frame",
                )
            )
            continue
        if offset > last:
            issues.append(
                ClipIssue(
                    key,
                    where + f"offset {offset} past the last frame {last}; cut at {last}",
                    str(raw.folder),
                    "frames",
                    "interval past the last frame",
                )
            )
            offset = last
        ident = (raw.subject, raw.video, kind, onset, offset)
        if ident in seen:
            issues.append(
                ClipIssue(key, where + "duplicate interval; skipped", kind="duplicate clip")
            )
            continue
        seen.add(ident)
        video.intervals.append(ExpressionInterval(onset, apex, offset, kind, raw.name, raw.source))
    return [videos[k] for k in sorted(videos)], issues
