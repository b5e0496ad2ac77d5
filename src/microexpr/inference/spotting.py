"""Spotting micro-expressions in a stream of frames.

The shape of the field's spotters (MEGC spotting baselines: a frame compared
with frames a short, fixed interval away, per facial region, against the
noise of that region), frame by frame, in bounded memory:

1. **Face.** The largest face is followed on every frame
   (:class:`~microexpr.preprocess.face.FaceTracker`: landmarks fitted in the
   box of the previous frame's landmarks; a full detection only when the face
   is lost). A large signal never triggers a detection.
2. **Flow at a fixed interval.** For each frame ``t``, frames ``t - k`` and
   ``t`` are warped with one and the same alignment (from frame ``t``'s
   landmarks, at ``crop_size`` pixels, the model's crop geometry), slightly
   blurred, and dense Farneback flow is computed between them; ``k`` is
   ``interval_s`` (0.2 s, about a micro-expression's onset) in frames.
3. **Head motion removed.** An affine motion is fitted to the flow over the
   face (robustly: a second fit without the worst-fitting pixels): the
   translation, rotation and scale of the head between the two frames. Its
   size is the *global motion*. Frame ``t - k`` is then warped by it as well
   and the flow measured again (``register_head``): what is left is small,
   where Farneback errs least (on the tuning footage this raised F1 at 1 px
   from 0.11 to 0.17 and lowered the false alarms from 9.0 to 7.0 a minute);
   an affine fit to that second flow is subtracted too.
4. **Regions.** The mean residual flow vector is taken in small boxes around
   the brows (inner and outer), between the brows, on the nose wings, the
   cheeks below the lower lids, and the mouth corners, placed from the
   landmarks (:data:`REGIONS`), in pixels of the aligned face; and each
   left-right pair mirrored and averaged (:data:`PAIRS`,
   :func:`pair_motion`), scored as a region of its own: most action units
   move both sides alike, which adds up in the pair while the two sides'
   noise partly cancels. This is ``F(t) = X(t) - X(t - k)`` per region,
   ``X`` being the region's position.
5. **Second difference.** For a frame ``c``, ``D(c) = (F(c) - F(c + k)) / 2
   = X(c) - (X(c - k) + X(c + k)) / 2``: how far the region is from where it
   was ``k`` frames before and will be ``k`` frames after. A movement that
   comes and goes within about ``2 k`` gives its full amplitude at its apex;
   a slow movement or a slow head drift (a linear ramp) cancels; a held
   expression gives at most half of its step, once.
6. **Noise units.** Each region's ``|D|`` is divided by its own robust noise:
   median and 1.4826 MAD over the last ``history_s`` seconds of frames that
   were neither part of a candidate nor masked (so a movement does not raise
   its own threshold). The signal is the largest region score.
7. **Masks**, measured on the same flow (dlib's eye and lip landmarks jitter
   too much on small faces to tell a blink or a word from noise): a blink
   (an upper lid moving more than ``blink_motion`` pixels vertically, and
   more than the brows, within ``k`` frames of the frame) masks the brow and
   cheek regions; speech (the lip centres moving apart or together by more
   than ``speech_motion`` pixels, and more than the lip corners move) masks
   the mouth and cheek regions; a head movement (global
   motion above ``head_motion`` pixels, or the nose tip moving sideways
   across the face by more than ``head_turn`` of its width, from the
   landmarks) masks every region. Masked regions are not scored and do not
   enter the noise statistics.
8. **Peaks and intervals.** A candidate is a peak of the signal above
   ``threshold`` noise units (and at least ``min_motion`` pixels), the
   largest within ``1.5 k`` frames either side (the second difference has
   side lobes of half height ``k`` frames away). Its onset and offset are where
   the winning region's ``D``, projected on its direction at the apex, falls
   below ``edge_fraction`` of the peak, widened by ``edge_margin`` of that
   width; the onset is at the latest ``k`` frames before the apex (the
   frame the apex is compared with: neutral for a micro-expression, and the
   classifier's onset image). It is a micro-expression when the interval lasts at most
   ``max_duration_s``, the face comes back (the region's displacement from
   ``2 k`` before to ``2 k`` after the apex, along the peak's direction, is
   below ``return_ratio`` of the peak's), the movement is short (``D`` at
   interval ``2 k`` along that direction is at most ``scale_ratio`` times
   ``D`` at ``k``, whereas a slow movement grows with the interval), and it
   is not the edge of a larger movement (the signal within ``k`` frames of
   the interval stays below ``dominance`` times the peak: a hand passing
   over the face, the start of a word), nor lost in its region's own
   activity (the peak is at least ``local_contrast`` times the median of
   the region's ``|D|`` within ``local_s`` of it, more than ``2 k`` frames
   away: a mouth that talks or laughs without the lips parting enough for
   the speech mask); other peaks are reported in
   ``dropped_long``. The checks are along the peak's direction because a
   region of a real face also drifts every other way by as much as a small
   movement. A peak whose onset is not in the face segment, or whose face
   could not be seen coming back (the recording or the face ends less than
   ``2 k`` frames after the apex), is reported in ``issues``, not claimed.

Only the frames of the last ``max_duration_s + 4 k + local_s`` (and of the warm-up, at
the start of each face segment) are held, with a few numbers per frame for
the noise statistics; the per-frame signal (32 bytes a frame) is kept for
the motion plot (:class:`MotionTrace`). Decisions come ``2 k`` frames (plus
the peak's width) after the frame they concern.
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
from microexpr.preprocess.alignment import AlignmentSettings, estimate_alignment, transform_points
from microexpr.preprocess.face import FaceTracker, LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings

__all__ = [
    "PAIRS",
    "REGIONS",
    "Candidate",
    "MotionTrace",
    "Region",
    "Spotter",
    "SpottingSettings",
    "fit_head_motion",
    "pair_motion",
    "region_boxes",
    "region_motion",
]


@dataclass(frozen=True)
class Region:
    """A facial region whose motion is measured.

    Attributes
    ----------
    name : str
    anchor : tuple of int
        dlib landmark indices whose mean is the region's reference point.
    offset : tuple of float
        Shift of the box centre from the anchor, ``(right, down)`` in the
        aligned face, in inter-ocular distances.
    half : float
        Half the box side, in inter-ocular distances.
    group : str
        ``brows``, ``nose``, ``cheeks`` or ``mouth`` (what a mask hides).
    """

    name: str
    anchor: tuple[int, ...]
    offset: tuple[float, float]
    half: float
    group: str


#: Regions measured: where the action units of micro-expressions move the
#: skin (AU1/2/4 brows, AU9 nose, AU6 cheeks, AU12/15 lip corners), and the
#: upper lids and lip centres, which are not scored but show blinks and speech.
REGIONS: tuple[Region, ...] = (
    Region("brow_inner_left", (20, 21), (0.0, 0.0), 0.16, "brows"),
    Region("brow_inner_right", (22, 23), (0.0, 0.0), 0.16, "brows"),
    Region("brow_outer_left", (17, 18), (0.0, 0.02), 0.16, "brows"),
    Region("brow_outer_right", (25, 26), (0.0, 0.02), 0.16, "brows"),
    Region("glabella", (21, 22), (0.0, 0.12), 0.14, "brows"),
    Region("nose_left", (31,), (-0.04, -0.04), 0.14, "nose"),
    Region("nose_right", (35,), (0.04, -0.04), 0.14, "nose"),
    Region("cheek_left", (40, 41), (-0.05, 0.32), 0.18, "cheeks"),
    Region("cheek_right", (46, 47), (0.05, 0.32), 0.18, "cheeks"),
    Region("mouth_left", (48,), (0.0, 0.0), 0.16, "mouth"),
    Region("mouth_right", (54,), (0.0, 0.0), 0.16, "mouth"),
    Region("lid_left", (37, 38), (0.0, 0.0), 0.07, "lids"),
    Region("lid_right", (43, 44), (0.0, 0.0), 0.07, "lids"),
    Region("lip_upper", (62,), (0.0, -0.04), 0.08, "lips"),
    Region("lip_lower", (66,), (0.0, 0.04), 0.08, "lips"),
)

#: Left-right pairs also scored together, mirrored (``(-dx_left + dx_right) / 2,
#: (dy_left + dy_right) / 2``): most action units move both sides alike, which
#: adds up there, while noise of the two sides partly cancels.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("brow_inner_both", "brow_inner_left", "brow_inner_right"),
    ("brow_outer_both", "brow_outer_left", "brow_outer_right"),
    ("nose_both", "nose_left", "nose_right"),
    ("cheek_both", "cheek_left", "cheek_right"),
    ("mouth_both", "mouth_left", "mouth_right"),
)

#: Groups of regions scored for micro-expressions.
SCORED_GROUPS: tuple[str, ...] = ("brows", "nose", "cheeks", "mouth")

_MASKS = {
    "blink": ("brows", "cheeks"),
    "speech": ("mouth", "cheeks"),
    "head": SCORED_GROUPS,
}


@dataclass(frozen=True)
class SpottingSettings:
    """Parameters of the spotting algorithm (see the module docstring).

    Attributes
    ----------
    crop_size : int
        Side of the aligned face the flow is measured on (motions are in its
        pixels), whatever the model's input size.
    interval_s : float
        The fixed interval ``k`` between compared frames, in seconds (at
        least 2 frames).
    blur_sigma : float
        Gaussian blur of the crops before the flow; 0 for none.
    flow_window : int
        Farneback averaging window, in pixels of the aligned face.
    register_head : bool
        Measure the flow a second time after warping the earlier frame by
        the head's affine motion (fitted on the first flow): the regions'
        motion is then measured on a small flow, where Farneback errs less.
        Twice the flow's cost.
    threshold : float
        Peak height, in robust standard deviations of the region's signal.
    min_motion : float
        Smallest peak, in pixels of the aligned face.
    noise_floor : float
        Lowest noise (pixels) a region's statistics may report.
    history_s : float
        Length of the signal history behind the noise statistics.
    warmup_s : float
        Signal collected at the start of a face segment before its first
        decision (the frames are held, then scored with those statistics).
    max_duration_s : float
        Longest onset-to-offset duration of a micro-expression.
    edge_fraction : float
        Onset and offset: where the peak region's signal falls below this
        fraction of the peak.
    edge_margin : float
        The interval found so is widened by this fraction of its length on
        each side (the edges of a smooth movement are below the fraction).
    return_ratio : float
        A micro-expression comes back: the region's displacement from 2k
        before to 2k after the apex is below this fraction of twice the peak.
    scale_ratio : float
        A micro-expression is short: the signal at interval 2k is at most
        this many times the signal at k.
    dominance : float
        A peak is the edge of a larger movement, not a movement of its own,
        when the signal within k frames of its interval rises above this many
        times its height.
    local_s, local_contrast : float
        A peak must be at least ``local_contrast`` times the median of its
        region's signal within ``local_s`` seconds of it (more than 2k frames
        away): a region busy with speech or laughter hides small movements.
        0 turns the check off.
    blink_motion : float
        A blink: an upper lid moving vertically by more than this many pixels
        (aligned face), and more than the brows, between compared frames
        within k frames.
    speech_motion : float
        Speech: the lip centres moving apart or together by more than this
        many pixels, and more than the lip corners move, between compared
        frames within k frames.
    head_motion : float
        Head movement: global motion above this many pixels (aligned face)
        between two compared frames.
    head_turn : float
        Head turn: the nose tip moving sideways by more than this fraction
        of the face width within k frames.
    """

    crop_size: int = 128
    interval_s: float = 0.2
    blur_sigma: float = 1.0
    flow_window: int = 15
    register_head: bool = True
    threshold: float = 10.0
    min_motion: float = 0.1
    noise_floor: float = 0.01
    history_s: float = 10.0
    warmup_s: float = 0.6
    max_duration_s: float = 0.5
    edge_fraction: float = 0.25
    edge_margin: float = 0.15
    return_ratio: float = 0.5
    scale_ratio: float = 1.6
    dominance: float = 2.0
    local_s: float = 1.0
    local_contrast: float = 3.0
    blink_motion: float = 0.6
    speech_motion: float = 0.6
    head_motion: float = 4.0
    head_turn: float = 0.06

    def __post_init__(self) -> None:
        for name in ("crop_size", "flow_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"spotting.{name} == {value!r}, must be an integer >= 1")
        if self.crop_size < 32:
            raise ConfigError(f"spotting.crop_size == {self.crop_size!r}, must be >= 32")
        for name in (
            "blur_sigma",
            "warmup_s",
            "edge_margin",
            "noise_floor",
            "min_motion",
            "local_s",
            "local_contrast",
        ):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"spotting.{name} == {getattr(self, name)!r}, must be >= 0")
        for name in (
            "interval_s",
            "threshold",
            "history_s",
            "max_duration_s",
            "return_ratio",
            "scale_ratio",
            "dominance",
            "blink_motion",
            "speech_motion",
            "head_motion",
            "head_turn",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"spotting.{name} == {getattr(self, name)!r}, must be > 0")
        for name in ("edge_fraction",):
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
        Frame number; None for a partial candidate, the recording having
        ended before the motion returned to neutral (see ``note``). The
        :class:`Spotter` reports such movements as issues instead.
    onset_time, apex_time : float
        Times in seconds.
    offset_time : float or None
    peak_motion : float
        Signal of the peak region at the apex, in pixels of the aligned face
        (its distance from the mean of its positions ``k`` frames around).
    threshold : float
        The peak threshold of that region at that time, in pixels.
    onset_image, apex_image : ndarray of shape (H, W), uint8
        The full grayscale frames.
    landmarks : ndarray of shape (68, 2)
        Landmarks of the onset frame (the clip's one alignment).
    note : str
        Why the candidate is incomplete, if it is.
    region : str
        Region of the peak (:data:`REGIONS`), or pair of regions (:data:`PAIRS`).
    score : float
        Peak height in noise units.
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
    region: str = ""
    score: float = float("nan")


@dataclass
class MotionTrace:
    """Per-frame spotting signal (for the motion-over-time plot).

    Compact arrays: 32 bytes a frame, about 3.5 MB for an hour at 30 fps.

    Attributes
    ----------
    frames : array of int
    times : array of float
    motion : array of float
        Largest region score in noise units (0 when every region is masked);
        NaN where there was no face or too few frames around to compare.
    threshold : array of float
        Peak threshold in noise units (NaN where ``motion`` is).
    references : list of int
        Frames that started a face segment (first frame, and after a loss).
    """

    frames: array = field(default_factory=lambda: array("l"))
    times: array = field(default_factory=lambda: array("d"))
    motion: array = field(default_factory=lambda: array("d"))
    threshold: array = field(default_factory=lambda: array("d"))
    references: list[int] = field(default_factory=list)


# -- measurements on landmarks and flow ------------------------------------


def _interocular(pts: np.ndarray) -> float:
    return max(float(np.hypot(*(pts[36:42].mean(0) - pts[42:48].mean(0)))), 1e-6)


def _nose_position(landmarks: np.ndarray) -> float:
    # nose tip across the face, 0 at the left jaw edge, 1 at the right (yaw)
    pts = np.asarray(landmarks, dtype=np.float64)
    left, right = pts[0], pts[16]
    axis = right - left
    return float((pts[30] - left) @ axis / max(float(axis @ axis), 1e-6))


def region_boxes(
    landmarks: np.ndarray, size: int, regions: tuple[Region, ...] = REGIONS
) -> np.ndarray:
    """Region boxes in an aligned crop, from landmarks in that crop's coordinates.

    Parameters
    ----------
    landmarks : ndarray of shape (68, 2)
        Landmarks already transformed into the crop.
    size : int
        Side of the crop (boxes are clipped to it).
    regions : tuple of Region

    Returns
    -------
    ndarray of shape (n_regions, 4), int
        ``(x0, y0, x1, y1)``, exclusive ends, at least 2 pixels wide.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    io = _interocular(pts)
    boxes = np.zeros((len(regions), 4), dtype=np.int64)
    for i, r in enumerate(regions):
        cx, cy = pts[list(r.anchor)].mean(axis=0) + np.asarray(r.offset) * io
        h = max(1.0, r.half * io)
        x0 = int(np.clip(round(cx - h), 0, size - 2))
        y0 = int(np.clip(round(cy - h), 0, size - 2))
        x1 = int(np.clip(round(cx + h), x0 + 2, size))
        y1 = int(np.clip(round(cy + h), y0 + 2, size))
        boxes[i] = (x0, y0, x1, y1)
    return boxes


def fit_head_motion(
    flow: np.ndarray, face_mask: np.ndarray, step: int = 3
) -> tuple[np.ndarray, float]:
    """The head's affine motion in a flow field, fitted robustly over the face.

    Parameters
    ----------
    flow : ndarray of shape (H, W, 2)
        Flow between two frames aligned alike, in pixels.
    face_mask : ndarray of shape (H, W), bool
        Pixels of the face (the whole image when fewer than 12 samples).
    step : int
        Sampling step of the fit.

    Returns
    -------
    coef : ndarray of shape (3, 2)
        ``flow(x, y) ~ [x, y, 1] @ coef``: a least-squares fit, then a second
        one without the samples that fit worst (residual above 2.5 times the
        median), which are the skin that moves on its own.
    global_motion : float
        Root mean square of that affine motion over the face (pixels).
    """
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    keep = face_mask[::step, ::step]
    if keep.sum() < 12:
        keep = np.ones_like(keep)
    x = xs[keep].astype(np.float64)
    y = ys[keep].astype(np.float64)
    a = np.stack([x, y, np.ones_like(x)], axis=1)
    b = flow[::step, ::step][keep].astype(np.float64)
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    residual = np.hypot(*(b - a @ coef).T)
    good = residual <= max(2.5 * float(np.median(residual)), 0.05)
    if good.sum() >= 12:
        coef = np.linalg.lstsq(a[good], b[good], rcond=None)[0]
    return coef, float(np.sqrt(((a @ coef) ** 2).sum(axis=1).mean()))


def _residual_means(flow: np.ndarray, boxes: np.ndarray, coef: np.ndarray) -> np.ndarray:
    # mean of the flow less the affine motion ``coef``, in each box
    vectors = np.zeros((len(boxes), 2), dtype=np.float64)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        gy, gx = np.mgrid[y0:y1, x0:x1]
        model = gx[..., None] * coef[0] + gy[..., None] * coef[1] + coef[2]
        vectors[i] = (flow[y0:y1, x0:x1] - model).reshape(-1, 2).mean(axis=0)
    return vectors


def region_motion(
    flow: np.ndarray, boxes: np.ndarray, face_mask: np.ndarray, step: int = 3
) -> tuple[np.ndarray, float]:
    """Regional flow with the head's affine motion removed.

    Parameters
    ----------
    flow : ndarray of shape (H, W, 2)
        Flow between two frames aligned alike, in pixels.
    boxes : ndarray of shape (n_regions, 4)
        From :func:`region_boxes`.
    face_mask : ndarray of shape (H, W), bool
        Pixels of the face, over which the head's motion is fitted
        (:func:`fit_head_motion`).
    step : int
        Sampling step of the affine fit.

    Returns
    -------
    vectors : ndarray of shape (n_regions, 2)
        Mean residual flow ``(dx, dy)`` in each box.
    global_motion : float
        Root mean square of the fitted affine motion over the face (pixels).
    """
    coef, global_motion = fit_head_motion(flow, face_mask, step)
    return _residual_means(flow, boxes, coef), global_motion


def pair_motion(vectors: np.ndarray, regions: tuple[Region, ...] = REGIONS) -> np.ndarray:
    """Motion of the left-right pairs of :data:`PAIRS`, mirrored and averaged.

    Parameters
    ----------
    vectors : ndarray of shape (n_regions, 2)
        ``(dx, dy)`` per region of ``regions`` (from :func:`region_motion`),
        in the aligned face (x to the image right).

    Returns
    -------
    ndarray of shape (len(PAIRS), 2)
        ``((dx_right - dx_left) / 2, (dy_left + dy_right) / 2)`` per pair: the
        full movement when both sides move alike in mirror (outward, up...),
        zero when they move in mirror opposition.
    """
    names = [r.name for r in regions]
    v = np.asarray(vectors, dtype=np.float64)
    left = v[[names.index(p[1]) for p in PAIRS]]
    right = v[[names.index(p[2]) for p in PAIRS]]
    return np.stack([(right[:, 0] - left[:, 0]) / 2, (right[:, 1] + left[:, 1]) / 2], axis=1)


# -- the streaming spotter --------------------------------------------------


@dataclass
class _Rec:
    # one frame of the current face segment
    index: int
    time: float
    image: np.ndarray
    landmarks: np.ndarray
    nose: float
    flow: np.ndarray | None = None  # F(t) per region, (n, 2)
    glob: float = 0.0
    d: np.ndarray | None = None  # D(t) per region, (n, 2)
    score: float = float("nan")
    region: int = -1
    masked: np.ndarray | None = None  # per region
    counted: bool = False  # in the noise history already (warm-up)


@dataclass(eq=False)
class _Peak:
    pos: int  # position of the apex in the segment
    score: float
    region: int


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
        ``(onset, offset)`` of peaks that were not micro-expressions (too
        long, or the face did not come back).
    timings : dict of str to float
        Seconds spent in face tracking and in alignment + flow.
    frames_with_face : int
    masked_frames : dict of str to int
        Frames scored with a mask on, by mask (``blink``, ``speech``, ``head``).
    """

    def __init__(
        self,
        preprocess: PreprocessSettings,
        fps: float,
        settings: SpottingSettings | None = None,
        detector: FaceTracker | LandmarkDetector | None = None,
    ) -> None:
        self.preprocess = preprocess
        self.settings = s = settings or SpottingSettings()
        self.fps = float(fps)
        if not isinstance(detector, FaceTracker):
            detector = FaceTracker(detector or LandmarkDetector(preprocess.upsample))
        self.detector = detector
        geometry = preprocess.alignment
        self._alignment = AlignmentSettings(s.crop_size, geometry.eye_distance, geometry.eye_height)
        self.k = max(2, round(s.interval_s * self.fps))
        self._max_duration = max(2, round(s.max_duration_s * self.fps))
        self._history_len = max(16, round(s.history_s * self.fps))
        self._warmup = max(8, round(s.warmup_s * self.fps))
        self._local = round(s.local_s * self.fps)
        names = [r.name for r in REGIONS]
        self._channels = names + [p[0] for p in PAIRS]  # regions, then pairs
        n = len(self._channels)
        self._group = np.array(
            [r.group for r in REGIONS] + [REGIONS[names.index(p[1])].group for p in PAIRS]
        )
        self._hist: deque[np.ndarray] = deque(maxlen=self._history_len)  # |D| rows (n,)
        self._hist_mask: deque[np.ndarray] = deque(maxlen=self._history_len)
        self._scored = np.isin(self._group, SCORED_GROUPS)
        self._lids = np.flatnonzero(self._group == "lids")
        self._lip_upper = next(i for i, r in enumerate(REGIONS) if r.name == "lip_upper")
        self._lip_lower = next(i for i, r in enumerate(REGIONS) if r.name == "lip_lower")
        self._stats: tuple[np.ndarray, np.ndarray] | None = None
        self._stats_age = 0
        self._n = n
        self.trace = MotionTrace()
        self.issues: list[FrameIssue] = []
        self.dropped_long: list[tuple[int, int]] = []
        self.timings = {"face": 0.0, "motion": 0.0}
        self.frames_with_face = 0
        self.masked_frames = {"blink": 0, "speech": 0, "head": 0}
        self._lost_since: int | None = None
        self._last_index: int | None = None
        self._new_segment()

    # -- segment bookkeeping ---------------------------------------------
    def _new_segment(self) -> None:
        self._recs: list[_Rec] = []
        self._base = 0  # segment position of self._recs[0]
        self._n_recs = 0  # positions used so far
        self._next_d = 0  # next position whose D is to be computed
        self._next_score = 0  # next position to score (after warm-up)
        self._peaks: list[_Peak] = []  # peaks waiting for their neighbourhood
        self._run: _Peak | None = None  # peak of the run above threshold

    def _rec(self, pos: int) -> _Rec:
        return self._recs[pos - self._base]

    def _has(self, pos: int) -> bool:
        return self._base <= pos < self._n_recs

    # -- the stream ------------------------------------------------------
    def update(self, frame: Frame) -> list[Candidate]:
        """Process the next frame; return the candidates completed by it."""
        self._last_index = frame.index
        start = time.perf_counter()
        face = self.detector.track(frame.image)
        self.timings["face"] += time.perf_counter() - start
        if face is None:
            done = self._end_segment()
            if self._lost_since is None:
                self._lost_since = frame.index
            self._record(frame.index, frame.time_s, float("nan"), float("nan"))
            return done
        if self._lost_since is not None:
            self.issues.append(FrameIssue(self._lost_since, frame.index - 1, "no face found"))
            self._lost_since = None
        if self._n_recs == 0:
            self.trace.references.append(frame.index)
        self.frames_with_face += 1
        landmarks = face.landmarks
        rec = _Rec(
            frame.index,
            frame.time_s,
            frame.image,
            landmarks,
            _nose_position(landmarks),
        )
        pos = self._n_recs
        self._recs.append(rec)
        self._n_recs += 1
        if pos >= self.k:
            start = time.perf_counter()
            rec.flow, rec.glob = self._measure(self._rec(pos - self.k).image, rec)
            self.timings["motion"] += time.perf_counter() - start
        return self._advance(final=False)

    def finish(self) -> list[Candidate]:
        """End of the stream: score the last frames, report a face still lost."""
        done = self._end_segment()
        if self._lost_since is not None and self._last_index is not None:
            self.issues.append(FrameIssue(self._lost_since, self._last_index, "no face found"))
            self._lost_since = None
        return done

    # -- measurement -----------------------------------------------------
    def _measure(self, before: np.ndarray, rec: _Rec) -> tuple[np.ndarray, float]:
        s = self.settings
        matrix = estimate_alignment(rec.landmarks, self._alignment)
        size = s.crop_size
        pts = transform_points(rec.landmarks, matrix)
        mask = np.zeros((size, size), np.uint8)
        hull = cv2.convexHull(np.round(pts[:27]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
        face = mask.astype(bool)
        boxes = region_boxes(pts, size)
        after = self._crop(rec.image, matrix)
        flow = self._flow(self._crop(before, matrix), after)
        coef, global_motion = fit_head_motion(flow, face)
        if s.register_head:
            # warp the earlier frame by the head's motion and measure again:
            # the flow left is small, where Farneback is most accurate
            head = np.eye(3)
            head[:2, :2] += coef[:2].T
            head[:2, 2] = coef[2]
            registered = (head @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
            vectors, _ = region_motion(
                self._flow(self._crop(before, registered), after), boxes, face
            )
        else:
            vectors = _residual_means(flow, boxes, coef)
        return np.concatenate([vectors, pair_motion(vectors)]), global_motion

    def _crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        s = self.settings
        crop = cv2.warpAffine(
            image,
            matrix,
            (s.crop_size, s.crop_size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return cv2.GaussianBlur(crop, (0, 0), s.blur_sigma) if s.blur_sigma > 0 else crop

    def _flow(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        window = self.settings.flow_window
        return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, window, 3, 5, 1.1, 0)

    # -- scoring ---------------------------------------------------------
    def _advance(self, *, final: bool) -> list[Candidate]:
        k = self.k
        last = self._n_recs - 1
        # D(c) needs F(c) and F(c + k); computed once F(c + 2k) is also there
        # (the scale check), or at the end of the segment with what there is
        lookahead = k if final else 2 * k
        while self._next_d + lookahead <= last:
            self._compute_d(self._next_d)
            self._next_d += 1
        if final:
            while self._next_d <= last:
                self._compute_d(self._next_d)
                self._next_d += 1
        done: list[Candidate] = []
        # short of warm-up values (a short segment, or most regions masked):
        # score anyway at the end, or once the frames held are many
        waiting = self._next_d - self._next_score
        warm = len(self._hist) >= self._warmup or final or waiting > 4 * self._warmup
        if warm:
            while self._next_score < self._next_d:
                done += self._score(self._next_score)
                self._next_score += 1
        done += self._release_peaks(final=final)
        self._trim()
        return done

    def _compute_d(self, pos: int) -> None:
        k = self.k
        rec = self._rec(pos)
        if pos < k or not self._has(pos + k) or self._rec(pos + k).flow is None:
            return
        f_now, f_next = rec.flow, self._rec(pos + k).flow
        if f_now is None or f_next is None:  # pragma: no cover - checked above
            return
        rec.d = (f_now - f_next) / 2.0
        window = [
            self._rec(p) for p in range(max(self._base, pos - k), min(self._n_recs, pos + k + 1))
        ]
        masks = self._masks(window, pos)
        rec.masked = masks
        if not masks.all() and len(self._hist) < self._warmup:
            # warm-up: every unmasked value counts (median and MAD are robust)
            self._hist.append(np.hypot(rec.d[:, 0], rec.d[:, 1]))
            self._hist_mask.append(masks)
            self._stats = None
            rec.counted = True

    def _masks(self, window: list[_Rec], pos: int) -> np.ndarray:
        s = self.settings
        # D(pos) uses frames pos - k .. pos + k; a flow F(t) spans t - k .. t,
        # so the flows that share a frame with D(pos) are t in [pos - k, pos + 2k]
        span = range(pos - self.k, pos + 2 * self.k + 1)
        flows = [r for r in (self._rec(p) for p in span if self._has(p)) if r.flow is not None]
        blink = speech = False
        for r in flows:
            f = r.flow
            if f is None:  # pragma: no cover - filtered above
                continue
            size = np.hypot(f[:, 0], f[:, 1])
            # the lids move more than the brows (a brow raise moves the lids less)
            lids = float(np.abs(f[self._lids, 1]).max())
            brows = float(size[self._group == "brows"].max())
            blink |= lids > s.blink_motion and lids > brows
            # the lip centres part or close more than the corners move
            lips = abs(float(f[self._lip_lower, 1] - f[self._lip_upper, 1]))
            corners = float(size[self._group == "mouth"].max())
            speech |= lips > s.speech_motion and lips > corners
        globs = max((r.glob for r in flows), default=0.0)
        noses = [r.nose for r in window]
        states = (
            ("blink", blink),
            ("speech", speech),
            ("head", globs > s.head_motion or max(noses) - min(noses) > s.head_turn),
        )
        masked = ~self._scored
        for name, on in states:
            if on:
                masked = masked | np.isin(self._group, _MASKS[name])
                self.masked_frames[name] += 1
        return masked

    def _noise(self) -> tuple[np.ndarray, np.ndarray]:
        if self._stats is None or self._stats_age >= 5:
            floor = self.settings.noise_floor
            med = np.zeros(self._n)
            sigma = np.full(self._n, np.nan)
            if self._hist:
                values = np.array(self._hist, dtype=np.float64)
                masks = np.array(self._hist_mask, dtype=bool)
                for r in range(self._n):
                    column = values[~masks[:, r], r]
                    if column.size >= 5:
                        med[r] = np.median(column)
                        sigma[r] = max(1.4826 * np.median(np.abs(column - med[r])), floor)
            known = np.isfinite(sigma)
            # a region masked on nearly every frame so far: the others' noise
            sigma[~known] = np.median(sigma[known]) if known.any() else max(floor, 0.05)
            med[~known] = np.median(med[known]) if known.any() else 0.0
            self._stats = (med, sigma)
            self._stats_age = 0
        self._stats_age += 1
        return self._stats

    def _score(self, pos: int) -> list[Candidate]:
        s = self.settings
        rec = self._rec(pos)
        if rec.d is None or rec.masked is None:
            self._record(rec.index, rec.time, float("nan"), float("nan"))
            self._close_run()
            return []
        med, sigma = self._noise()
        mag = np.hypot(rec.d[:, 0], rec.d[:, 1])
        z = (mag - med) / sigma
        z[rec.masked] = -np.inf
        r = int(np.argmax(z))
        score = float(z[r]) if np.isfinite(z[r]) else 0.0
        rec.score, rec.region = score, r
        self._record(rec.index, rec.time, max(score, 0.0), s.threshold)
        above = np.isfinite(z[r]) and score >= s.threshold and mag[r] >= s.min_motion
        if above:
            if self._run is None or score > self._run.score:
                self._run = _Peak(pos, score, r)
        else:
            self._close_run()
        # quiet, unmasked frames feed the noise statistics
        if score < s.threshold / 2 and not rec.masked.all() and not rec.counted:
            self._hist.append(mag)
            self._hist_mask.append(rec.masked.copy())
        return []

    def _close_run(self) -> None:
        if self._run is not None:
            self._peaks.append(self._run)
            self._run = None

    def _release_peaks(self, *, final: bool) -> list[Candidate]:
        # a peak is the largest within 1.5 k frames (D has side lobes of half
        # its height k frames away); decided once the signal is known past that
        if final:
            self._close_run()
        done: list[Candidate] = []
        reach = self.k + self.k // 2 + 1
        wait = max(reach, self._max_duration) + 1
        ready = [p for p in self._peaks if final or p.pos + wait < self._next_score]
        for peak in ready:
            if peak not in self._peaks:  # removed as a weaker rival of an earlier one
                continue
            self._peaks.remove(peak)
            rivals = [q for q in self._peaks if abs(q.pos - peak.pos) <= reach]
            if self._run is not None and abs(self._run.pos - peak.pos) <= reach:
                rivals.append(self._run)
            if any(q.score > peak.score for q in rivals):
                continue
            for q in rivals:
                if q in self._peaks:
                    self._peaks.remove(q)
            if self._run is not None and self._run in rivals:
                self._run = None
            cand = self._evaluate(peak)
            if cand is not None:
                done.append(cand)
        return done

    def _evaluate(self, peak: _Peak) -> Candidate | None:
        s, k = self.settings, self.k
        apex = self._rec(peak.pos)
        if apex.d is None:  # pragma: no cover - peaks have a signal
            return None
        r = peak.region
        vec = apex.d[r]
        height = float(np.hypot(*vec))
        unit = vec / max(height, 1e-9)

        def along(pos: int) -> float:
            if not self._has(pos):
                return -np.inf
            d = self._rec(pos).d
            return -np.inf if d is None else float(d[r] @ unit)

        level = s.edge_fraction * height
        lo = peak.pos
        while lo - 1 >= self._base and along(lo - 1) > level:
            lo -= 1
        hi = peak.pos
        while hi + 1 < self._next_d and along(hi + 1) > level:
            hi += 1
        started = lo - 1 < self._base or self._rec(lo - 1).d is None
        ended = hi + 1 >= self._next_d or self._rec(hi + 1).d is None
        margin = s.edge_margin * (hi - lo + 1)
        # no later than k frames before the apex: D compares the apex with that
        # frame, neutral for a micro-expression (the classifier's onset image)
        lo = max(self._base, min(int(np.floor(lo - margin)), peak.pos - k))
        hi = int(np.ceil(hi + margin))
        if hi >= self._n_recs:
            hi = self._n_recs - 1
        onset, offset = self._rec(lo), self._rec(hi)
        too_long = hi - lo > self._max_duration
        # the edge of a larger movement (a hand passing over the face, speech
        # starting): the signal within k frames of the interval is far higher
        near = range(max(self._base, lo - k), min(self._next_score, hi + k + 1))
        overshadowed = any(self._rec(p).score > s.dominance * peak.score for p in near)
        # the region's own activity around (talking, laughing): the peak must
        # stand out from the region's signal within local_s of it, away from
        # the movement itself (2k frames either side)
        around = [
            float(np.hypot(*d[r]))
            for p in range(peak.pos - 2 * k - self._local, peak.pos + 2 * k + self._local + 1)
            if abs(p - peak.pos) > 2 * k
            and self._has(p)
            and p < self._next_d
            and (d := self._rec(p).d) is not None
        ]
        busy = bool(around) and height < s.local_contrast * float(np.median(around))
        # the face comes back: displacement from 2k before to 2k after the apex
        flows = [
            self._rec(p).flow if self._has(p) else None
            for p in (peak.pos + j * k for j in (-1, 0, 1, 2))
        ]
        if started or flows[0] is None:
            # no neutral face before it in the footage (the face segment starts there)
            self.issues.append(
                FrameIssue(
                    onset.index,
                    offset.index,
                    "a movement where the face segment starts could not be checked "
                    "(no neutral face before it): not spotted",
                )
            )
            return None
        if ended or flows[2] is None or flows[3] is None:
            # the footage (or the face) ends before the face could come back:
            # whether it is a micro-expression cannot be told (a head leaving
            # the frame, a smile held to the end), so it is not claimed
            self.issues.append(
                FrameIssue(
                    onset.index,
                    offset.index,
                    "a movement where the face segment ends could not be checked "
                    "(no neutral face on both sides): not spotted",
                )
            )
            return None
        f0, f1, f2, f3 = (f[r] for f in flows if f is not None)
        # along the peak's direction only: on a real face the region also
        # drifts a little every other way, as much as a small movement's size
        no_return = float((f0 + f1 + f2 + f3) @ unit) > s.return_ratio * 2 * height
        short_failed = float((f0 + f1 - f2 - f3) / 2 @ unit) > s.scale_ratio * height
        if too_long or no_return or short_failed or overshadowed or busy:
            self.dropped_long.append((onset.index, offset.index))
            return None
        med, sigma = self._noise()
        return Candidate(
            onset=onset.index,
            apex=apex.index,
            offset=offset.index,
            onset_time=onset.time,
            apex_time=apex.time,
            offset_time=offset.time,
            peak_motion=height,
            threshold=float(med[r] + s.threshold * sigma[r]),
            onset_image=onset.image,
            apex_image=apex.image,
            landmarks=onset.landmarks,
            region=self._channels[r],
            score=peak.score,
        )

    def _trim(self) -> None:
        # keep what an onset, a pending peak or a pending score may still need
        keep_from = min(
            [self._next_score - self._max_duration - 4 * self.k]
            + [p.pos - self._max_duration for p in self._peaks]
            + ([self._run.pos - self._max_duration] if self._run is not None else [])
        )
        keep_from -= self._local  # the surroundings of a pending peak
        drop = min(keep_from, self._n_recs - 2 * self.k - 1) - self._base
        if drop > 0:
            del self._recs[:drop]
            self._base += drop

    def _end_segment(self) -> list[Candidate]:
        if not self._n_recs:
            return []
        done = self._advance(final=True)
        # frames never scored (too short a segment): recorded without a signal
        while self._next_score < self._n_recs:
            rec = self._rec(self._next_score)
            self._record(rec.index, rec.time, float("nan"), float("nan"))
            self._next_score += 1
        self._new_segment()
        return done

    def _record(self, index: int, time_s: float, value: float, threshold: float) -> None:
        self.trace.frames.append(index)
        self.trace.times.append(time_s)
        self.trace.motion.append(value)
        self.trace.threshold.append(threshold)
