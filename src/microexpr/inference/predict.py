"""Predict on a recording: spot micro-expressions, classify them, show why.

:func:`predict` reads a video, a folder of frames or an onset/apex image pair
as a stream (bounded memory, see :mod:`microexpr.inference.video`), spots
candidate intervals (:mod:`microexpr.inference.spotting`) unless the onset and
apex are given, classifies each candidate with a checkpoint written by
``microexpr train``, and writes to the output folder:

- ``result.json``: input, model, frame rate, every candidate (onset, apex,
  offset as frame number and time, class, probabilities), the problems met
  (with frame numbers) and whether the results cover the whole input
  (``complete``);
- ``candidate_NN.png``: onset face, apex face, u, v, strain and the model's
  CBAM spatial attention over the face;
- ``motion.png``: the motion signal over time with the spotted intervals;
- ``report.html``: one self-contained page with all of the above (images
  embedded), to open in a browser.

The face is followed from frame to frame (:class:`FaceTracker`); where
several faces are found the largest is followed and ``result.json`` says so
(``face``), as it notes a rotated or variable-frame-rate video (``notes``).

Each candidate is classified from its onset and apex frames exactly as the
training clips were preprocessed (alignment from the window's reference
landmarks, TV-L1 flow, optical strain).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from microexpr import __version__
from microexpr.errors import ConfigError, FaceNotFoundError, WeightsError
from microexpr.inference.checkpoint import CheckpointInfo, load_checkpoint
from microexpr.inference.spotting import Candidate, Spotter, SpottingSettings
from microexpr.inference.video import FrameIssue, FrameSource, InputError, open_source
from microexpr.preprocess.face import FaceTracker, LandmarkDetector
from microexpr.preprocess.flow_image_inputs import (
    FlowImageRepresentation,
    model_input_from_flow,
)
from microexpr.preprocess.pipeline import FEATURE_KINDS, ClipFeatures, preprocess_pair
from microexpr.reports.panels import PlotInterval, plot_candidate_panel, plot_motion
from microexpr.reports.report_html import write_report_html
from microexpr.training.trainer import predict_proba

__all__ = ["CandidateResult", "PredictionResult", "predict"]

RESULT_FILE = "result.json"
MOTION_PLOT = "motion.png"
REPORT_FILE = "report.html"

#: Narrowest face analysed by default (face box width in pixels).
MIN_FACE = 48


@dataclass
class CandidateResult:
    """One classified candidate.

    Attributes
    ----------
    number : int
        1-based position in the recording.
    onset, apex : int
        Frame numbers (0-based).
    offset : int or None
        None when the motion had not returned to neutral (see ``note``) or
        when onset and apex were given.
    onset_time, apex_time : float
        Seconds.
    offset_time : float or None
    label : str
        Predicted class.
    probabilities : dict of str to float
    peak_motion : float or None
        Spotting signal at the apex (pixels of the aligned face).
    panel : str
        File name of the panel PNG in the output folder.
    note : str
        Why the candidate is incomplete, if it is.
    partial : bool
        True when the candidate was cut short (the recording ended or the
        face was lost before the motion returned to neutral).
    """

    number: int
    onset: int
    apex: int
    offset: int | None
    onset_time: float
    apex_time: float
    offset_time: float | None
    label: str
    probabilities: dict[str, float]
    peak_motion: float | None
    panel: str
    note: str = ""
    partial: bool = False


@dataclass
class PredictionResult:
    """What :func:`predict` found.

    Attributes
    ----------
    input : str
    input_kind : str
        ``video``, ``frames`` or ``pair``.
    out : Path
        Output folder.
    model : str
        Checkpoint file.
    fps : float
    frames_read : int
        Frames decoded.
    frames_with_face : int
    spotted : bool
        False when onset and apex were given.
    name : str
        Short name of the input (file name).
    candidates : list of CandidateResult
    issues : list of str
        Problems met, each naming its frames.
    complete : bool
        False when part of the input could not be used (see ``issues``).
    seconds : float
        Wall time.
    timings : dict of str to float
        Seconds per stage (decode, face, motion, classify, figures).
    notes : list of str
        Handled peculiarities of the input (rotation, variable frame rate,
        several faces, detection fallbacks); they do not make it incomplete.
    face : dict
        How the face was found and followed: most faces seen at once,
        which was followed, detections and tracked frames, the methods.
    """

    input: str
    input_kind: str
    out: Path
    model: str
    fps: float
    frames_read: int
    frames_with_face: int
    spotted: bool
    name: str = ""
    candidates: list[CandidateResult] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    complete: bool = True
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    face: dict[str, Any] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        name = self.name or Path(self.input).name
        found = "; ".join(
            f"#{c.number} {c.label} ({c.probabilities[c.label]:.2f}) apex frame {c.apex} "
            f"({c.apex_time:.2f} s)"
            for c in self.candidates
        )
        what = "candidate" if len(self.candidates) == 1 else "candidates"
        line = f"{name}: {self.frames_read} frames, {len(self.candidates)} {what}"
        line += f": {found}" if found else ""
        if self.face.get("max_faces", 0) > 1:
            line += (
                f"; {self.face['max_faces']} faces seen, followed the largest "
                f"({self.face['followed_width_px']} px wide)"
            )
        line += f"; {self.frames_per_second:.1f} frames/s; results in {self.out}"
        if not self.complete:
            n = len(self.issues)
            line += f" [PARTIAL: {n} problem{'s' if n != 1 else ''}, first: {self.issues[0]}]"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what ``result.json`` holds)."""
        d = asdict(self)
        d["out"] = str(self.out)
        d["frames_per_second"] = round(self.frames_per_second, 2)
        d["microexpr_version"] = __version__
        return d


def _issue_text(issue: FrameIssue, fps: float) -> str:
    return issue.describe(fps)


@contextmanager
def _one_torch_thread(device: str) -> Iterator[None]:
    # one clip at a time is far too small to share between threads; with the
    # cores busy (decoding, other processes), OpenMP's barrier waits made a
    # 4 ms forward pass take 1 s in our measurements
    if not device.startswith("cpu"):
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _classify(
    model: torch.nn.Module,
    info: CheckpointInfo,
    onset: np.ndarray,
    apex: np.ndarray,
    landmarks: np.ndarray,
    device: str,
) -> tuple[np.ndarray, ClipFeatures, np.ndarray | None]:
    features = preprocess_pair(onset, apex, info.preprocess, landmarks=landmarks)
    x = torch.from_numpy(_model_input(model, info, features)[None])
    with _one_torch_thread(device):
        proba = predict_proba(model, x, device=device)[0]
    attention = None
    maps_fn = getattr(model, "spatial_attention_maps", None)
    if callable(maps_fn):
        with torch.no_grad(), _one_torch_thread(device):
            maps = maps_fn(x.to(device)).float().mean(dim=1, keepdim=True)
            size = features.onset.shape
            attention = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
            attention = attention[0, 0].cpu().numpy()
    return proba, features, attention


def _model_input(
    model: torch.nn.Module, info: CheckpointInfo, features: ClipFeatures
) -> np.ndarray:
    """The model's input: our features, or them in the representation it was trained on."""
    rep = info.extra.get("input_representation")
    if rep is None:
        return features.stack(info.inputs)
    return model_input_from_flow(
        features.u,
        features.v,
        features.strain,
        model.default_cfg,
        FlowImageRepresentation.from_dict(rep),
    )


def _check_onset_apex(onset: int | None, apex: int | None) -> tuple[int, int] | None:
    if onset is None and apex is None:
        return None
    if onset is None or apex is None:
        raise InputError("give both --onset and --apex (frame numbers), or neither to spot them")
    if onset < 0 or apex < 0:
        raise InputError(f"onset == {onset}, apex == {apex}: frame numbers must be >= 0")
    if apex <= onset:
        raise InputError(f"apex == {apex} must come after onset == {onset}")
    return onset, apex


def predict(
    source: str | Path | Sequence[str | Path],
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    onset: int | None = None,
    apex: int | None = None,
    fps: float | None = None,
    device: str = "cpu",
    spotting: SpottingSettings | None = None,
    progress: bool = True,
    face_box: str | Sequence[int] | None = None,
    min_face: int = MIN_FACE,
) -> PredictionResult:
    """Spot and classify micro-expressions in a recording; write the results.

    Parameters
    ----------
    source : str, Path or sequence of two
        A video file (mp4, mov, avi...), a folder of frames, or two image
        files (onset, apex).
    model_dir : str or Path
        Model folder written by ``microexpr train`` (or its checkpoint.pt).
    out_dir : str or Path
        Output folder (created): result.json, candidate panels, motion.png.
    onset, apex : int, optional
        Frame numbers (0-based) of one clip; skips spotting. An image pair is
        always onset 0, apex 1.
    fps : float, optional
        Frame rate of a frame folder (videos carry their own; 30 otherwise).
    device : str
        Torch device for the model.
    spotting : SpottingSettings, optional
        Spotting parameters.
    progress : bool
        Show a progress bar over the frames.
    face_box : str or (x, y, w, h), optional
        ``detect`` (find the face), ``full`` (each frame is a pre-cropped
        face) or a fixed box ``(x, y, w, h)`` in pixels of the (upright)
        frame: the face is there, no detection runs (the landmarks are
        fitted in it, then the face is followed); default: the model's
        ``preprocess.face_detection``.
    min_face : int
        Narrowest face analysed (face box width in pixels, >= 16); smaller
        faces are reported with their size and treated as absent.

    Returns
    -------
    PredictionResult

    Raises
    ------
    InputError
        If the input cannot be read, or given frames do not exist in it.
    WeightsError
        If the checkpoint is missing, damaged or from another version.
    FaceNotFoundError
        If no frame of the input shows a face (result.json is written first).
    """
    start = time.perf_counter()
    given = _check_onset_apex(onset, apex)
    model, info = load_checkpoint(model_dir, device=device)
    if info.inputs not in FEATURE_KINDS and "input_representation" not in info.extra:
        raise WeightsError(
            f"{info.path}: model {info.model_name!r} takes {info.inputs!r} inputs, which "
            f"prediction cannot compute (it computes {', '.join(sorted(FEATURE_KINDS))})"
        )
    if face_box is None:
        face_box = "full" if info.preprocess.face_detection == "full_frame" else "detect"
    if isinstance(min_face, bool) or not isinstance(min_face, int) or min_face < 16:
        raise ConfigError(f"min_face == {min_face!r}, must be an integer >= 16 pixels")
    followed = "largest face"
    if isinstance(face_box, str):
        if face_box not in ("detect", "full"):
            raise InputError(f"face box == {face_box!r}: give 'detect', 'full' or (x, y, w, h)")
        box: str | tuple[int, int, int, int] = face_box
        followed = "whole frame" if face_box == "full" else followed
    else:
        x, y, w, h = _check_xywh(face_box)
        box = (x, y, x + w, y + h)
        followed = f"fixed box {x},{y},{w},{h}"
    detector = LandmarkDetector(info.preprocess.upsample, face_box=box)
    src = open_source(source, fps=fps)
    if src.kind == "pair":
        given = (0, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PredictionResult(
        input=src.path,
        input_kind=src.kind,
        out=out,
        model=str(info.path),
        fps=src.fps,
        frames_read=0,
        frames_with_face=0,
        spotted=given is None,
        name=src.display_name,
    )
    timings = {"decode": 0.0, "face": 0.0, "motion": 0.0, "classify": 0.0, "figures": 0.0}

    def classify(cand: Candidate) -> None:
        t0 = time.perf_counter()
        proba, feats, attention = _classify(
            model, info, cand.onset_image, cand.apex_image, cand.landmarks, device
        )
        t1 = time.perf_counter()
        number = len(result.candidates) + 1
        probabilities = {
            n: round(float(p), 4) for n, p in zip(info.class_names, proba, strict=True)
        }
        label = info.class_names[int(np.argmax(proba))]
        panel = f"candidate_{number:02d}.png"
        frames = (
            f"onset {cand.onset} ({cand.onset_time:.2f} s), "
            f"apex {cand.apex} ({cand.apex_time:.2f} s)"
        )
        if cand.offset is not None and cand.offset_time is not None:
            frames += f", offset {cand.offset} ({cand.offset_time:.2f} s)"
        plot_candidate_panel(
            out / panel,
            onset=feats.onset,
            apex=feats.apex,
            u=feats.u,
            v=feats.v,
            strain=feats.strain,
            attention=attention,
            probabilities=probabilities,
            title=f"{src.display_name} candidate {number}: {label} "
            f"({probabilities[label]:.2f}) - {frames}",
        )
        timings["classify"] += t1 - t0
        timings["figures"] += time.perf_counter() - t1
        result.candidates.append(
            CandidateResult(
                number=number,
                onset=cand.onset,
                apex=cand.apex,
                offset=cand.offset,
                onset_time=round(cand.onset_time, 4),
                apex_time=round(cand.apex_time, 4),
                offset_time=None if cand.offset_time is None else round(cand.offset_time, 4),
                label=label,
                probabilities=probabilities,
                peak_motion=None if np.isnan(cand.peak_motion) else round(cand.peak_motion, 4),
                panel=panel,
                note=cand.note,
                partial=cand.offset is None and given is None,
            )
        )

    issues: list[FrameIssue] = []
    tracker = FaceTracker(detector, min_face=min_face)
    extra: list[str] = []
    if given is None:
        spotter = Spotter(info.preprocess, src.fps, spotting, tracker)
        _run_spotting(src, spotter, classify, result, timings, progress)
        issues = sorted(src.issues + spotter.issues, key=lambda i: i.first)
    else:
        _run_given(src, given, classify, result, timings, tracker)
        issues = list(src.issues)
    result.issues = [_issue_text(i, src.fps) for i in issues]
    if tracker.too_small is not None:
        extra.append(_too_small(tracker.too_small, min_face))
    for c in result.candidates:
        if c.partial:
            extra.append(f"candidate {c.number} (onset frame {c.onset}) is partial: {c.note}")
    result.issues += extra
    result.complete = not result.issues
    result.notes = list(src.notes) + _face_notes(tracker, detector)
    result.face = _face_summary(tracker, followed)
    result.timings = {k: round(v, 4) for k, v in timings.items()}
    result.seconds = time.perf_counter() - start
    (out / RESULT_FILE).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    write_report_html(out / REPORT_FILE, result.to_dict(), out)
    if result.frames_with_face == 0:
        last = result.frames_read - 1
        why = "no face found"
        if tracker.too_small is not None:
            why = _too_small(tracker.too_small, min_face) + "; no usable face"
        raise FaceNotFoundError(
            f"{why} in any frame of {src.path} (frames 0-{max(last, 0)}, "
            f"{result.frames_read} read); nothing to classify"
        )
    return result


def _too_small(width: int, min_face: int) -> str:
    return (
        f"face too small to analyse: the largest face found is {width} px wide, "
        f"the minimum is {min_face} px (film closer or at a higher resolution)"
    )


def _check_xywh(box: Sequence[int]) -> tuple[int, int, int, int]:
    """A face box ``(x, y, w, h)`` as four ints, checked (w, h >= 16)."""
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ConfigError(
            f"face_box == {box!r}, must be 'detect', 'full' or (x, y, w, h)"
        ) from None
    if w < 16 or h < 16:
        raise ConfigError(f"face_box == {tuple(box)!r}: width and height must be >= 16 pixels")
    return x, y, w, h


def _face_summary(tracker: FaceTracker, followed_how: str) -> dict[str, Any]:
    detector = tracker.detector
    followed = tracker.followed
    return {
        "max_faces": tracker.max_faces,
        "followed": followed_how,
        "followed_width_px": None if followed is None else followed.width,
        "detections": tracker.detections,
        "quick_detections": tracker.quick_detections,
        "tracked_frames": tracker.tracked,
        "methods": dict(tracker.methods),
        "too_small_px": tracker.too_small,
        "detect_size": detector.detect_size,
    }


def _face_notes(tracker: FaceTracker, detector: LandmarkDetector) -> list[str]:
    notes = []
    if tracker.max_faces > 1:
        width = tracker.followed.width if tracker.followed is not None else 0
        notes.append(
            f"several faces: up to {tracker.max_faces} in one frame "
            f"({tracker.multi_face_frames} detections); the largest is followed "
            f"({width} px wide)"
        )
    if tracker.methods.get("cnn"):
        notes.append(
            f"the HOG detector missed the face; dlib's CNN detector found it "
            f"({tracker.methods['cnn']} detections)"
        )
    if tracker.methods.get("hog-padded"):
        notes.append("the face fills the frame: found on a padded frame")
    return notes


def _run_spotting(
    src: FrameSource,
    spotter: Spotter,
    classify: Any,
    result: PredictionResult,
    timings: dict[str, float],
    progress: bool,
) -> None:
    bar = tqdm(total=src.n_frames, desc="predict", unit="frame", disable=not progress, leave=False)
    frames = iter(src)
    try:
        while True:
            t0 = time.perf_counter()
            frame = next(frames, None)
            timings["decode"] += time.perf_counter() - t0
            if frame is None:
                break
            result.frames_read += 1
            for cand in spotter.update(frame):
                classify(cand)
            bar.update(1)
        for cand in spotter.finish():
            classify(cand)
    finally:
        bar.close()
    timings["face"] += spotter.timings["face"]
    timings["motion"] += spotter.timings["motion"]
    result.frames_with_face = spotter.frames_with_face
    t0 = time.perf_counter()
    trace = spotter.trace

    times = dict(zip(trace.frames, trace.times, strict=True))

    def at(index: int) -> float:
        return times.get(index, index / src.fps)

    no_face = [(at(i.first), at(i.last)) for i in spotter.issues if i.problem == "no face found"]
    intervals = [
        PlotInterval(
            c.onset_time,
            c.offset_time if c.offset_time is not None else at(trace.frames[-1]),
            c.apex_time,
            f"#{c.number} {c.label} {c.probabilities[c.label]:.2f}",
        )
        for c in result.candidates
    ]
    plot_motion(
        result.out / MOTION_PLOT,
        trace.times,
        trace.motion,
        threshold=trace.threshold,
        intervals=intervals,
        no_face=no_face,
        dropped=[(at(a), at(b)) for a, b in spotter.dropped_long],
        title=f"{src.display_name}: facial-region motion against the frames "
        f"{spotter.settings.interval_s:g} s before and after ({len(result.candidates)} spotted)",
        signal_label="largest region motion (noise units)",
        ylabel="motion / region noise",
    )
    timings["figures"] += time.perf_counter() - t0


def _run_given(
    src: FrameSource,
    given: tuple[int, int],
    classify: Any,
    result: PredictionResult,
    timings: dict[str, float],
    tracker: FaceTracker,
) -> None:
    onset_index, apex_index = given
    onset_frame = apex_frame = None
    frames = iter(src)
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        timings["decode"] += time.perf_counter() - t0
        if frame is None:
            break
        result.frames_read += 1
        if frame.index == onset_index:
            onset_frame = frame
        if frame.index == apex_index:
            apex_frame = frame
            break
    for role, index, found in (
        ("onset", onset_index, onset_frame),
        ("apex", apex_index, apex_frame),
    ):
        if found is None:
            bad = [i for i in src.issues if i.first <= index <= i.last]
            why = bad[0].problem if bad else f"the input has {result.frames_read} readable frames"
            raise InputError(f"{role} frame {index} of {src.path} could not be read: {why}")
    if onset_frame is None or apex_frame is None:  # pragma: no cover - raised above
        return
    t0 = time.perf_counter()
    face = tracker.track(onset_frame.image)
    timings["face"] += time.perf_counter() - t0
    if face is None:
        why = "no face found"
        if tracker.too_small is not None:
            why = _too_small(tracker.too_small, tracker.min_face)
        raise FaceNotFoundError(f"{why} on onset frame {onset_index} of {src.path}")
    landmarks = face.landmarks
    result.frames_with_face = 2
    classify(
        Candidate(
            onset=onset_frame.index,
            apex=apex_frame.index,
            offset=None,
            onset_time=onset_frame.time_s,
            apex_time=apex_frame.time_s,
            offset_time=None,
            peak_motion=float("nan"),
            threshold=float("nan"),
            onset_image=onset_frame.image,
            apex_image=apex_frame.image,
            landmarks=landmarks,
        )
    )
