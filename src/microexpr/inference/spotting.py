"""Spotting micro-expressions in a stream of frames.

The algorithm, frame by frame, in bounded memory:

1. **Face and window.** The largest face is detected (dlib) and its 68
   landmarks give one alignment transform (:func:`estimate_alignment`, the
   crop geometry of the model's preprocessing at ``crop_size`` pixels).
   That frame is the window's *neutral reference*. Every following frame is
   warped with the same transform, never with its own: re-aligning each
   frame would erase the motion being measured.
2. **Motion signal.** Both crops are slightly blurred (``blur_sigma``);
   dense Farneback flow from the reference crop to the current crop; the
   median flow of the crop is subtracted (small rigid head shifts); the
   magnitude is averaged over a ``grid x grid`` block grid and the signal is
   the mean of the ``top_blocks`` most-moving blocks, in pixels of the
   aligned face (a micro-expression moves a few facial regions, not the
   whole face). Farneback is used for spotting because it is several times
   faster than TV-L1; the candidates are classified on TV-L1 flow as in
   training.
3. **Thresholds.** Noise-adaptive, from the median and the robust standard
   deviation (1.4826 * MAD) of the signal over the last ``history_s`` seconds
   of quiet frames: ``high = max(min_motion, median + noise_factor * sd)``
   starts a candidate; ``low = max(low_fraction * high, median + low_factor
   * sd)`` means "neutral".
4. **Intervals (hysteresis).** A candidate starts when the signal exceeds
   ``high``. Its *onset* is the last frame before that whose signal was at or
   below ``low`` (the face was still neutral there); its *apex* is the frame
   of the largest signal; its *offset* is the first frame after the apex
   whose signal falls to ``max(low, offset_fraction * peak)``. A movement
   lasting longer than ``max_duration_s`` from its onset is not a
   micro-expression (a macro-expression or a head movement) and is dropped.
5. **Window refresh.** The face is followed on every frame
   (:class:`~microexpr.preprocess.face.FaceTracker`: landmarks fitted in the
   box of the previous frame's landmarks, a full detection only when the
   face is lost). The reference (and the transform, from the tracked
   landmarks) is renewed when the window is older than ``refresh_s`` and the
   last frames were quiet, when a long movement has calmed down, when the
   face has moved, and in any case after ``max_window_s``. When the tracker
   loses the face, a candidate in progress is dropped, detection runs on
   every frame until a face is found again, and the frames without a face
   are reported.

Only the current frame, the reference crop and the onset/apex frames of the
candidate in progress are held; the per-frame signal (32 bytes a frame)
is kept for the motion plot (:class:`MotionTrace`).
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from microexpr.errors import ConfigError
from microexpr.inference.video import Frame, FrameIssue
from microexpr.preprocess.alignment import AlignmentSettings, estimate_alignment
from microexpr.preprocess.face import FaceTracker, LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings

__all__ = ["Candidate", "MotionTrace", "Spotter", "SpottingSettings", "motion_score"]


@dataclass(frozen=True)
class SpottingSettings:
    """Parameters of the spotting algorithm (see the module docstring).

    Attributes
    ----------
    crop_size : int
        Side of the aligned face the signal is measured on (thresholds are in
        its pixels), whatever the model's input size.
    grid : int
        The aligned face is divided into ``grid x grid`` blocks.
    top_blocks : int
        The signal is the mean flow magnitude of this many most-moving blocks.
    blur_sigma : float
        Gaussian blur of the crops before the flow (sensor and compression
        noise); 0 for none.
    flow_window : int
        Farneback averaging window, in pixels of the aligned face.
    min_motion : float
        Lowest onset threshold, in pixels of the aligned face.
    noise_factor : float
        Onset threshold in robust standard deviations above the median signal.
    warmup_s : float
        Quiet signal collected after the first reference before any candidate
        can start (the noise statistics need a few values).
    low_factor : float
        ``low`` threshold (neutral face) in robust standard deviations above
        the median signal.
    low_fraction : float
        ``low`` is at least this fraction of ``high`` (noise-free input).
    offset_fraction : float
        The offset is where the signal falls to this fraction of its peak
        (or to ``low``, whichever is higher).
    max_duration_s : float
        Longest onset-to-offset duration of a micro-expression (0.5 s).
    refresh_s : float
        Age of a window after which its reference is renewed at a quiet frame.
    max_window_s : float
        Age after which the reference is renewed in any case.
    history_s : float
        Length of the signal history the noise statistics use.
    max_face_shift : float
        Face movement, as a fraction of the face box, that renews the window.
    """

    crop_size: int = 128
    grid: int = 4
    top_blocks: int = 2
    blur_sigma: float = 1.0
    flow_window: int = 21
    min_motion: float = 0.15
    noise_factor: float = 6.0
    low_factor: float = 2.0
    warmup_s: float = 0.2
    low_fraction: float = 0.5
    offset_fraction: float = 0.2
    max_duration_s: float = 0.5
    refresh_s: float = 1.0
    max_window_s: float = 5.0
    history_s: float = 10.0
    max_face_shift: float = 0.2

    def __post_init__(self) -> None:
        for name in ("crop_size", "grid", "top_blocks", "flow_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"spotting.{name} == {value!r}, must be an integer >= 1")
        if self.top_blocks > self.grid**2:
            raise ConfigError(
                f"spotting.top_blocks == {self.top_blocks}, must be <= grid**2 == {self.grid**2}"
            )
        if self.blur_sigma < 0 or self.warmup_s < 0:
            raise ConfigError("spotting.blur_sigma and spotting.warmup_s must be >= 0")
        for name in (
            "min_motion",
            "noise_factor",
            "low_factor",
            "max_duration_s",
            "refresh_s",
            "max_window_s",
            "history_s",
            "max_face_shift",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"spotting.{name} == {getattr(self, name)!r}, must be > 0")
        for name in ("low_fraction", "offset_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"spotting.{name} == {getattr(self, name)!r}, must be in (0, 1)")


@dataclass
class Candidate:
    """A spotted candidate micro-expression interval.

    Attributes
    ----------
    onset, apex : int
        Frame numbers.
    offset : int or None
        Frame number; None when the recording ended (or the face was lost)
        before the motion returned to neutral.
    onset_time, apex_time : float
        Times in seconds.
    offset_time : float or None
    peak_motion : float
        Signal at the apex, in pixels of the aligned face.
    threshold : float
        Onset threshold in force when the candidate started.
    onset_image, apex_image : ndarray of shape (H, W), uint8
        The full grayscale frames.
    landmarks : ndarray of shape (68, 2)
        Landmarks of the window's reference frame (its one alignment).
    note : str
        Why the candidate is incomplete, if it is.
    """

    onset: int
    apex: int
    offset: int | None
    onset_time: float
    apex_time: float
    offset_time: float | None
    peak_motion: float
    threshold: float
    onset_image: np.ndarray = field(repr=False)
    apex_image: np.ndarray = field(repr=False)
    landmarks: np.ndarray = field(repr=False)
    note: str = ""


@dataclass
class MotionTrace:
    """Per-frame motion signal (for the motion-over-time plot).

    Compact arrays: 32 bytes a frame, about 3.5 MB for an hour at 30 fps.

    Attributes
    ----------
    frames : array of int
    times : array of float
    motion : array of float
        Signal in pixels of the aligned face; NaN where there was no face.
    threshold : array of float
        Onset threshold in force at each frame (NaN where there was no face).
    references : list of int
        Frames that started a window (neutral references).
    """

    frames: array = field(default_factory=lambda: array("l"))
    times: array = field(default_factory=lambda: array("d"))
    motion: array = field(default_factory=lambda: array("d"))
    threshold: array = field(default_factory=lambda: array("d"))
    references: list[int] = field(default_factory=list)


def motion_score(flow: np.ndarray, grid: int = 8, top_blocks: int = 4) -> float:
    """Motion signal of one flow field: mean magnitude of the most-moving blocks.

    Parameters
    ----------
    flow : ndarray of shape (H, W, 2)
        Flow from the reference crop to the current crop, in pixels.
    grid : int
        Blocks per side.
    top_blocks : int
        Number of blocks averaged.

    Returns
    -------
    float
        Pixels, after subtracting the median flow (rigid shift).
    """
    u = flow[..., 0] - np.median(flow[..., 0])
    v = flow[..., 1] - np.median(flow[..., 1])
    magnitude = np.sqrt(u * u + v * v).astype(np.float32)
    # area resampling to grid x grid is exactly the per-block mean
    blocks = cv2.resize(magnitude, (grid, grid), interpolation=cv2.INTER_AREA).ravel()
    return float(np.partition(blocks, blocks.size - top_blocks)[-top_blocks:].mean())


_IDLE, _ACTIVE, _LONG, _LOST = "idle", "active", "long", "lost"


@dataclass
class _Open:
    # a candidate in progress: (frame number, time, image) of onset and apex
    onset: tuple[int, float, np.ndarray]
    apex: tuple[int, float, np.ndarray]
    peak: float
    high: float
    low: float


class Spotter:
    """Streaming micro-expression spotter (algorithm in the module docstring).

    Parameters
    ----------
    preprocess : PreprocessSettings
        The model's preprocessing: its alignment geometry (eye distance and
        height) is used at ``settings.crop_size``, and its detector upsampling.
    fps : float
        Frame rate, to turn the settings' seconds into frames.
    settings : SpottingSettings, optional
    detector : FaceTracker or LandmarkDetector, optional
        Follows the face (a detector is wrapped in a tracker); created when
        not given.

    Attributes
    ----------
    trace : MotionTrace
    issues : list of FrameIssue
        Frames without a face and candidates dropped, with frame numbers.
    dropped_long : list of tuple of int
        ``(onset, last frame)`` of movements too long to be micro-expressions.
    timings : dict of str to float
        Seconds spent in face detection/landmarks and in alignment + flow.
    frames_with_face : int
    """

    def __init__(
        self,
        preprocess: PreprocessSettings,
        fps: float,
        settings: SpottingSettings | None = None,
        detector: FaceTracker | LandmarkDetector | None = None,
    ) -> None:
        self.preprocess = preprocess
        self.settings = settings or SpottingSettings()
        self.fps = float(fps)
        if not isinstance(detector, FaceTracker):
            detector = FaceTracker(detector or LandmarkDetector(preprocess.upsample))
        self.detector = detector
        s = self.settings
        geometry = preprocess.alignment
        self._alignment = AlignmentSettings(s.crop_size, geometry.eye_distance, geometry.eye_height)
        self._max_duration = max(2, round(s.max_duration_s * self.fps))
        self._refresh_frames = max(2, round(s.refresh_s * self.fps))
        self._max_window = max(self._refresh_frames, round(s.max_window_s * self.fps))
        self._history: deque[float] = deque(maxlen=max(8, round(s.history_s * self.fps)))
        self._warmup = max(5, round(s.warmup_s * self.fps))
        self.trace = MotionTrace()
        self.issues: list[FrameIssue] = []
        self.dropped_long: list[tuple[int, int]] = []
        self.timings = {"face": 0.0, "motion": 0.0}
        self.frames_with_face = 0
        self._state = _LOST
        self._lost_since: int | None = None
        self._last_index: int | None = None
        self._quiet_run = 0
        self._cand: _Open | None = None

    # -- face and window -------------------------------------------------
    def _detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        start = time.perf_counter()
        boxes = self.detector.detect_faces(image)
        self.timings["face"] += time.perf_counter() - start
        return boxes

    def _start_window(self, frame: Frame, box: tuple[int, int, int, int]) -> None:
        start = time.perf_counter()
        landmarks = self.detector.landmarks(frame.image, box)
        self.timings["face"] += time.perf_counter() - start
        self._landmarks = landmarks
        self._matrix = estimate_alignment(landmarks, self._alignment)
        self._reference = self._warp(frame.image)
        self._box = box
        self._window_start = frame.index
        self._last_detect = frame.index
        self._quiet = (frame.index, frame.time_s, frame.image)
        self._quiet_run = 0
        self._state = _IDLE
        self.trace.references.append(frame.index)

    def _warp(self, image: np.ndarray) -> np.ndarray:
        size = self.settings.crop_size
        crop = cv2.warpAffine(
            image,
            self._matrix,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if self.settings.blur_sigma > 0:
            crop = cv2.GaussianBlur(crop, (0, 0), self.settings.blur_sigma)
        return crop

    def _face_moved(self, box: tuple[int, int, int, int]) -> bool:
        old, new = np.asarray(self._box, float), np.asarray(box, float)
        width = old[2] - old[0]
        shift = np.hypot(*((new[:2] + new[2:]) / 2 - (old[:2] + old[2:]) / 2))
        ratio = (new[2] - new[0]) / width
        return bool(shift > self.settings.max_face_shift * width or not 0.8 < ratio < 1.25)

    def _lose_face(self, index: int) -> None:
        if self._state == _ACTIVE and self._cand is not None:
            self.issues.append(
                FrameIssue(
                    self._cand.onset[0],
                    index,
                    "candidate dropped: the face was lost before the motion ended",
                )
            )
        self._cand = None
        self._state = _LOST
        self._lost_since = index

    # -- thresholds ------------------------------------------------------
    def _thresholds(self) -> tuple[float, float]:
        s = self.settings
        high = s.min_motion
        low = s.low_fraction * high
        if self._history:
            values = np.fromiter(self._history, dtype=np.float64)
            median = float(np.median(values))
            sigma = 1.4826 * float(np.median(np.abs(values - median)))
            high = max(high, median + s.noise_factor * sigma)
            low = min(high, max(s.low_fraction * high, median + s.low_factor * sigma))
        return high, low

    # -- the stream ------------------------------------------------------
    def update(self, frame: Frame) -> list[Candidate]:
        """Process the next frame; return the candidates completed by it."""
        self._last_index = frame.index
        self._last_time = frame.time_s
        if self._state == _LOST:
            boxes = self._detect(frame.image)
            if not boxes:
                if self._lost_since is None:
                    self._lost_since = frame.index
                self._record(frame, float("nan"), float("nan"))
                return []
            if self._lost_since is not None and self._lost_since < frame.index:
                self.issues.append(FrameIssue(self._lost_since, frame.index - 1, "no face found"))
            self._lost_since = None
            self._start_window(frame, boxes[0])
            self.frames_with_face += 1
            self._record(frame, 0.0, self._thresholds()[0])
            return []

        start = time.perf_counter()
        crop = self._warp(frame.image)
        flow = cv2.calcOpticalFlowFarneback(
            self._reference, crop, None, 0.5, 3, self.settings.flow_window, 3, 5, 1.2, 0
        )
        value = motion_score(flow, self.settings.grid, self.settings.top_blocks)
        self.timings["motion"] += time.perf_counter() - start
        # the face is followed on every frame (a few ms when tracked)
        self._last_detect = frame.index
        boxes = self._detect(frame.image)
        if not boxes:
            self._lose_face(frame.index)
            self._record(frame, float("nan"), float("nan"))
            return []
        if self._state != _ACTIVE and self._face_moved(boxes[0]):
            self._start_window(frame, boxes[0])
            self.frames_with_face += 1
            self._record(frame, 0.0, self._thresholds()[0])
            return []
        self.frames_with_face += 1
        return self._step(frame, value)

    def _step(self, frame: Frame, value: float) -> list[Candidate]:
        s = self.settings
        high, low = self._thresholds()
        done: list[Candidate] = []
        if self._state == _IDLE:
            if value > high and len(self._history) >= self._warmup:
                self._state = _ACTIVE
                self._cand = _Open(
                    self._quiet, (frame.index, frame.time_s, frame.image), value, high, low
                )
            else:
                self._history.append(value)
                if value <= low:
                    self._quiet = (frame.index, frame.time_s, frame.image)
                    self._quiet_run += 1
                else:
                    self._quiet_run = 0
        elif self._state == _ACTIVE and self._cand is not None:
            cand = self._cand
            if value > cand.peak:
                cand.apex = (frame.index, frame.time_s, frame.image)
                cand.peak = value
            onset_index = cand.onset[0]
            if value <= max(cand.low, s.offset_fraction * cand.peak):
                done.append(self._make_candidate(frame.index, frame.time_s))
                self._state = _IDLE
                self._quiet = (frame.index, frame.time_s, frame.image)
                self._quiet_run = 0
            elif frame.index - onset_index > self._max_duration:
                self.dropped_long.append((onset_index, frame.index))
                self._cand = None
                self._state = _LONG
        elif self._state == _LONG and value <= low:
            self._record(frame, value, high)
            self._refresh(frame)
            return done
        self._record(frame, value, high)

        age = frame.index - self._window_start
        if self._state == _IDLE and age >= self._refresh_frames and self._quiet_run >= 3:
            self._refresh(frame)
        elif age >= self._max_window and self._state != _ACTIVE:
            self._refresh(frame)
        elif age >= self._max_window and self._state == _ACTIVE and self._cand is not None:
            # the window has run its course mid-candidate: only possible with a
            # very long max_duration; drop the candidate rather than misalign it
            self.dropped_long.append((self._cand.onset[0], frame.index))
            self._cand = None
            self._refresh(frame)
        return done

    def _refresh(self, frame: Frame) -> None:
        # a new reference: detect again rather than reuse the old box, so the
        # landmarks follow a face that drifted slowly
        self._last_detect = frame.index
        boxes = self._detect(frame.image)
        if not boxes:
            self.trace.motion[-1] = self.trace.threshold[-1] = float("nan")
            self.frames_with_face -= 1
            self._lose_face(frame.index)
        else:
            self._start_window(frame, boxes[0])

    def _make_candidate(
        self, offset: int | None, offset_time: float | None, note: str = ""
    ) -> Candidate:
        cand = self._cand
        if cand is None:  # pragma: no cover - callers check the state first
            raise RuntimeError("no candidate in progress")
        self._cand = None
        return Candidate(
            onset=cand.onset[0],
            apex=cand.apex[0],
            offset=offset,
            onset_time=cand.onset[1],
            apex_time=cand.apex[1],
            offset_time=offset_time,
            peak_motion=cand.peak,
            threshold=cand.high,
            onset_image=cand.onset[2],
            apex_image=cand.apex[2],
            landmarks=self._landmarks,
            note=note,
        )

    def _record(self, frame: Frame, value: float, threshold: float) -> None:
        self.trace.frames.append(frame.index)
        self.trace.times.append(frame.time_s)
        self.trace.motion.append(value)
        self.trace.threshold.append(threshold)

    def finish(self) -> list[Candidate]:
        """End of the stream: report a face still lost and a candidate still open."""
        done: list[Candidate] = []
        if self._state == _LOST and self._lost_since is not None and self._last_index is not None:
            self.issues.append(FrameIssue(self._lost_since, self._last_index, "no face found"))
        elif self._state == _ACTIVE and self._cand is not None:
            done.append(
                self._make_candidate(
                    None, None, "the recording ended before the motion returned to neutral"
                )
            )
        elif self._state == _LONG and self._last_index is not None and self.dropped_long:
            self.dropped_long[-1] = (self.dropped_long[-1][0], self._last_index)
        return done
