"""The MEGC spotting protocol on a long-video dataset: spot over every video, score, report.

:func:`spot_long_videos` reads a long-video dataset you own (CAS(ME)^2 or
SAMM Long Videos, :func:`~microexpr.data.load_long_videos`), runs the
streaming :class:`~microexpr.inference.spotting.Spotter` over the frames of
every video (image folders, read one at a time), and scores the spotted
intervals against the annotated ones with the MEGC rule
(:mod:`~microexpr.evaluation.spotting_metrics`: a hit when the temporal IoU
is >= 0.5, one-to-one matching).

What counts as a micro and a macro prediction: the spotter reports
candidates no longer than ``max_duration_s`` (0.5 s, the micro-expression
limit) and lists the movements it rejects as not micro-expressions (too
long, or the face did not come back) in ``Spotter.dropped_long``. The
candidates are the micro predictions, the rejected movements the macro
predictions, each scored against the annotated intervals of its kind: the
macro score measures that by-product, not a macro-expression spotter. The
overall score sums the micro and macro counts (TP, spotted, annotated)
before computing precision, recall and F1, as the MEGC 2020-2022 challenges
do. Every figure is pooled over videos (counts summed first), and given per
video too.

Frame numbers are those of the sheet and the frame files (``img1.jpg`` is
frame 1): the spotter's 0-based positions are mapped back to the file
numbers. A candidate still open when a video ends ends at its last frame.
Videos on disk without any annotated interval are spotted over as well (what
is spotted there is a false positive). A video that cannot be read is
reported and the run goes on; the outputs are rewritten after every video, so
an interrupted run keeps the videos it finished (``videos_spotted`` of
``videos_selected`` in metrics.json).

Outputs in ``out``: ``report.md``, ``metrics.json`` (pooled and per-video
counts and scores, the spotter's settings, every issue), ``per_video.csv``
(one row per video and kind) and ``intervals.csv`` (every annotated and
spotted interval, with its match and IoU, for checking by hand).
"""

from __future__ import annotations

import fnmatch
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2

from microexpr._io import atomic_write_json, atomic_write_text
from microexpr.data import load_long_videos
from microexpr.data.records import EXPRESSION_KINDS, ClipIssue, LongVideo
from microexpr.errors import ConfigError, MicroexprError
from microexpr.evaluation.spotting_metrics import (
    IOU_THRESHOLD,
    SpottingCounts,
    interval_iou,
    match_intervals,
    pooled_spotting_counts,
)
from microexpr.inference.spotting import Spotter, SpottingSettings
from microexpr.inference.video import FolderSource, FrameIssue
from microexpr.preprocess.face import FaceTracker, LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings

__all__ = ["KINDS", "SpottingRun", "VideoSpotting", "spot_long_videos", "spot_video"]

#: Rows of the tables: each kind, then both together.
KINDS: tuple[str, ...] = (*EXPRESSION_KINDS, "overall")

Interval = tuple[int, int]


@dataclass
class VideoSpotting:
    """Spotting on one long video.

    Attributes
    ----------
    video : LongVideo
    true, pred : dict of str to list of (onset, offset)
        Annotated and spotted intervals by kind (``micro``, ``macro``), in
        the sheet's frame numbers.
    matches : dict of str to list of (true index, pred index, iou)
    frames_read, frames_with_face : int
    issues : list of str
        Problems met in this video (unreadable frames, no face), with frame numbers.
    seconds : float
    """

    video: LongVideo
    true: dict[str, list[Interval]] = field(default_factory=dict)
    pred: dict[str, list[Interval]] = field(default_factory=dict)
    matches: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    frames_read: int = 0
    frames_with_face: int = 0
    issues: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def minutes(self) -> float:
        """Minutes of footage read."""
        return self.frames_read / self.video.fps / 60.0

    def counts(self, kind: str) -> SpottingCounts:
        """MEGC counts of one kind, or of both (``overall``: the sum)."""
        if kind == "overall":
            parts = [self.counts(k) for k in EXPRESSION_KINDS]
            return SpottingCounts(
                sum(c.tp for c in parts),
                sum(c.n_true for c in parts),
                sum(c.n_pred for c in parts),
                self.minutes,
            )
        return SpottingCounts(
            len(self.matches.get(kind, [])),
            len(self.true.get(kind, [])),
            len(self.pred.get(kind, [])),
            self.minutes,
        )


@dataclass
class SpottingRun:
    """The spotting protocol over a dataset.

    Attributes
    ----------
    dataset : str
    root : Path
    out : Path
    iou : float
        IoU threshold of a hit.
    settings : SpottingSettings
    selected : int
        Videos selected for the run (``videos`` holds those spotted so far).
    videos : list of VideoSpotting
    sheet_issues : list of ClipIssue
        Problems with the annotation rows (skipped and kept rows).
    seconds : float
    """

    dataset: str
    root: Path
    out: Path
    iou: float
    settings: SpottingSettings
    selected: int = 0
    videos: list[VideoSpotting] = field(default_factory=list)
    sheet_issues: list[ClipIssue] = field(default_factory=list)
    seconds: float = 0.0

    def pooled(self, kind: str) -> SpottingCounts:
        """Counts summed over every video (the MEGC score), for one kind or ``overall``."""
        return pooled_spotting_counts(v.counts(kind) for v in self.videos)

    @property
    def complete(self) -> bool:
        """True when every selected video was read to its end with a face in every frame."""
        return len(self.videos) == self.selected and all(not v.issues for v in self.videos)


def _scores(counts: SpottingCounts) -> dict[str, Any]:
    # NaN where a score is undefined (nothing annotated, nothing spotted): never a 0 by default
    out: dict[str, Any] = {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn}
    out["n_true"], out["n_pred"] = counts.n_true, counts.n_pred
    out["precision"] = counts.precision(zero_division=math.nan)
    out["recall"] = counts.recall(zero_division=math.nan)
    out["f1"] = counts.f1(zero_division=math.nan)
    out["false_alarms_per_minute"] = counts.false_alarms_per_minute()
    return out


def _frame_number(name: str, numbers: dict[str, int], position: int) -> int:
    return numbers.get(name, position)


def spot_video(
    video: LongVideo,
    *,
    settings: SpottingSettings | None = None,
    preprocess: PreprocessSettings | None = None,
    min_face: int = 48,
    iou: float = IOU_THRESHOLD,
) -> VideoSpotting:
    """Spot over one long video and score it with the MEGC rule.

    Parameters
    ----------
    video : LongVideo
        Frames and annotated intervals (from a long-video reader).
    settings : SpottingSettings, optional
        The spotter's settings.
    preprocess : PreprocessSettings, optional
        Alignment geometry and detector upsampling (the defaults of training).
    min_face : int
        Narrowest face analysed, in pixels.
    iou : float
        Lowest temporal IoU of a hit.

    Returns
    -------
    VideoSpotting

    Raises
    ------
    InputError
        If the video's folder holds no readable image.
    """
    start = time.perf_counter()
    result = VideoSpotting(video)
    src = FolderSource(video.folder, fps=video.fps)
    # spotter positions (0-based, natural order of the names) -> the files' frame numbers
    numbers = {path.name: number for number, path in video.frames.items()}
    positions = [_frame_number(f.name, numbers, i) for i, f in enumerate(src.files)]
    tracker = FaceTracker(
        LandmarkDetector((preprocess or PreprocessSettings()).upsample), min_face=min_face
    )
    spotter = Spotter(preprocess or PreprocessSettings(), video.fps, settings, tracker)
    last = -1
    micro: list[Interval] = []
    for frame in src:
        result.frames_read += 1
        last = frame.index
        for cand in spotter.update(frame):
            micro.append((cand.onset, cand.offset if cand.offset is not None else last))
    for cand in spotter.finish():
        micro.append((cand.onset, cand.offset if cand.offset is not None else last))
    macro = [(a, b) for a, b in spotter.dropped_long]
    result.frames_with_face = spotter.frames_with_face
    result.pred = {
        "micro": [(positions[a], positions[b]) for a, b in micro],
        "macro": [(positions[a], positions[b]) for a, b in macro],
    }
    result.true = {k: video.intervals_of(k) for k in EXPRESSION_KINDS}
    for kind in EXPRESSION_KINDS:
        result.matches[kind] = match_intervals(result.true[kind], result.pred[kind], threshold=iou)
    for issue in sorted(src.issues + spotter.issues, key=lambda i: i.first):
        first, last_ = positions[issue.first], positions[issue.last]
        result.issues.append(FrameIssue(first, last_, issue.problem).describe())
    if tracker.too_small is not None:
        result.issues.append(
            f"face too small to analyse: {tracker.too_small} px wide, the minimum is {min_face} px"
        )
    result.seconds = time.perf_counter() - start
    return result


def spot_long_videos(
    dataset: str,
    root: str | Path,
    out: str | Path,
    *,
    sheet: str | Path | None = None,
    videos: str | None = None,
    limit: int | None = None,
    settings: SpottingSettings | None = None,
    min_face: int = 48,
    iou: float = IOU_THRESHOLD,
    progress: bool = True,
) -> SpottingRun:
    """Run the MEGC spotting protocol over a long-video dataset and write its report.

    Parameters
    ----------
    dataset : str
        ``casme_sq`` (CAS(ME)^2) or ``samm_lv`` (SAMM Long Videos).
    root : str or Path
        Your copy of the dataset.
    out : str or Path
        Output folder: report.md, metrics.json, per_video.csv, intervals.csv.
    sheet : str or Path, optional
        The annotation sheet, when not in ``root`` under its published name.
    videos : str, optional
        Only the videos whose ``subject/video`` matches this shell pattern.
    limit : int, optional
        At most this many videos (in order), for a quick first look.
    settings : SpottingSettings, optional
        The spotter's settings.
    min_face : int
        Narrowest face analysed, in pixels.
    iou : float
        Lowest temporal IoU of a hit (0.5 in MEGC).
    progress : bool
        Print one line per video.

    Returns
    -------
    SpottingRun

    Raises
    ------
    ConfigError
        If the name, the pattern or the limit selects nothing, or iou is not in (0, 1].
    DatasetNotFoundError, AnnotationError
        If ``root`` is not a copy of the dataset or its sheet cannot be read.
    """
    start = time.perf_counter()
    if not 0 < iou <= 1:
        raise ConfigError(f"iou == {iou!r}, must be in (0, 1]")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit == {limit!r}, must be >= 1")
    settings = settings or SpottingSettings()
    data = load_long_videos(dataset, root, sheet=sheet)
    chosen = [
        v
        for v in data.videos
        if videos is None or fnmatch.fnmatch(f"{v.subject}/{v.video}", videos)
    ]
    if not chosen:
        raise ConfigError(
            f"--videos {videos!r} matches none of the {len(data.videos)} videos of {data.title} "
            f"(written subject/video, e.g. {data.videos[0].subject}/{data.videos[0].video})"
            if data.videos and videos
            else f"{data.title} at {root}: no video with frames on disk"
        )
    chosen = chosen[:limit] if limit else chosen
    run = SpottingRun(
        dataset, Path(root), Path(out), iou, settings, len(chosen), sheet_issues=data.issues
    )
    run.out.mkdir(parents=True, exist_ok=True)
    for number, video in enumerate(chosen, start=1):
        try:
            spotted = spot_video(video, settings=settings, min_face=min_face, iou=iou)
        except (MicroexprError, cv2.error, OSError) as exc:
            spotted = VideoSpotting(
                video, true={k: video.intervals_of(k) for k in EXPRESSION_KINDS}
            )
            spotted.pred = {k: [] for k in EXPRESSION_KINDS}
            spotted.matches = {k: [] for k in EXPRESSION_KINDS}
            spotted.issues.append(f"video not spotted: {exc}")
        run.videos.append(spotted)
        if progress:
            c = spotted.counts("overall")
            print(
                f"[{number}/{len(chosen)}] {video.subject}/{video.video}: {spotted.frames_read} "
                f"frames, {c.n_pred} spotted, {c.tp} of {c.n_true} annotated hit "
                f"({spotted.seconds:.1f} s)",
                flush=True,
            )
        # the outputs after every video: an interrupted run keeps what it has done
        run.seconds = time.perf_counter() - start
        write_spotting_outputs(run)
    return run


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_metrics(run: SpottingRun) -> dict[str, Any]:
    """The run as the ``metrics.json`` dictionary (NaN scores as null)."""
    return _json_safe(
        {
            "dataset": run.dataset,
            "root": str(run.root),
            "protocol": "MEGC spotting: temporal IoU >= threshold, one-to-one; pooled counts",
            "iou_threshold": run.iou,
            "overall": "sum of the micro and macro counts",
            "pooled": {k: _scores(run.pooled(k)) for k in KINDS},
            "videos": [
                {
                    "subject": v.video.subject,
                    "video": v.video.video,
                    "frames": len(v.video.frames),
                    "frames_read": v.frames_read,
                    "frames_with_face": v.frames_with_face,
                    "fps": v.video.fps,
                    "seconds": round(v.seconds, 3),
                    "scores": {k: _scores(v.counts(k)) for k in KINDS},
                    "issues": v.issues,
                }
                for v in run.videos
            ],
            "videos_selected": run.selected,
            "videos_spotted": len(run.videos),
            "complete": run.complete,
            "spotter": asdict(run.settings),
            "sheet_issues": [
                {"key": i.key, "kind": i.kind, "reason": i.reason} for i in run.sheet_issues
            ],
            "seconds": round(run.seconds, 3),
        }
    )


def _per_video_rows(run: SpottingRun) -> list[dict[str, Any]]:
    rows = []
    for v in run.videos:
        for kind in KINDS:
            rows.append(
                {
                    "subject": v.video.subject,
                    "video": v.video.video,
                    "frames": v.frames_read,
                    "kind": kind,
                    **_scores(v.counts(kind)),
                }
            )
    return rows


def _interval_rows(run: SpottingRun) -> list[dict[str, Any]]:
    rows = []
    for v in run.videos:
        for kind in EXPRESSION_KINDS:
            to_pred = {t: (p, s) for t, p, s in v.matches[kind]}
            to_true = {p: (t, s) for t, p, s in v.matches[kind]}
            for side, intervals, partners, other in (
                ("true", v.true[kind], to_pred, v.pred[kind]),
                ("pred", v.pred[kind], to_true, v.true[kind]),
            ):
                for i, (onset, offset) in enumerate(intervals):
                    j, score = partners.get(i, (None, None))
                    best = max((interval_iou((onset, offset), o) for o in other), default=0.0)
                    rows.append(
                        {
                            "subject": v.video.subject,
                            "video": v.video.video,
                            "kind": kind,
                            "side": side,
                            "onset": onset,
                            "offset": offset,
                            "hit": j is not None,
                            "matched_onset": None if j is None else other[j][0],
                            "matched_offset": None if j is None else other[j][1],
                            "iou": round(score if score is not None else best, 4),
                        }
                    )
    return rows


def write_spotting_outputs(run: SpottingRun) -> dict[str, Path]:
    """Write report.md, metrics.json, per_video.csv and intervals.csv to ``run.out``."""
    import pandas as pd

    from microexpr.reports.spotting_report import render_spotting_markdown

    metrics = run_metrics(run)
    paths = {
        "metrics": atomic_write_json(run.out / "metrics.json", metrics),
        "per_video": run.out / "per_video.csv",
        "intervals": run.out / "intervals.csv",
    }
    columns = ["subject", "video", "frames", "kind", "n_true", "n_pred", "tp", "fp", "fn"]
    columns += ["precision", "recall", "f1"]
    pd.DataFrame(_per_video_rows(run), columns=columns).to_csv(paths["per_video"], index=False)
    interval_columns = ["subject", "video", "kind", "side", "onset", "offset", "hit"]
    interval_columns += ["matched_onset", "matched_offset", "iou"]
    table = pd.DataFrame(_interval_rows(run), columns=interval_columns)
    for column in ("onset", "offset", "matched_onset", "matched_offset"):
        table[column] = table[column].astype("Int64")
    table.to_csv(paths["intervals"], index=False)
    paths["report"] = atomic_write_text(run.out / "report.md", render_spotting_markdown(metrics))
    return paths
