"""Facial action units as smooth displacement fields anchored on 68 landmarks.

Each action unit (AU, Ekman and Friesen's Facial Action Coding System) is a
few Gaussian bumps of displacement centred on dlib landmarks (or points
offset from them), each pushing the skin in one direction. Directions and
offsets are given in the face's own frame: ``outward`` points away from the
face's midline (so one definition serves both sides and mirrored faces) and
``up`` points from chin to brows. Sizes are in units of the inter-ocular
distance (between the two eye centres), so fields scale with the face.

The field is summed over bumps and then scaled so that its peak magnitude is
the clip's amplitude: the generator asks for "0.3 to 1.5 px at 128-px face
size", whatever combination of AUs a clip has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTION_UNITS",
    "BLINK",
    "Bump",
    "FaceFrame",
    "anchor_points",
    "displacement_at",
    "displacement_field",
]


@dataclass(frozen=True)
class Bump:
    """One Gaussian bump of displacement.

    Attributes
    ----------
    anchor : tuple of int
        Landmark indices whose mean is the bump's reference point.
    direction : tuple of float
        Direction of motion ``(outward, up)`` in the face frame (normalised).
    sigma : float
        Standard deviation of the Gaussian, in inter-ocular distances.
    offset : tuple of float
        Shift of the centre from the anchor, ``(outward, up)``, in
        inter-ocular distances (for regions without a landmark: cheeks).
    weight : float
        Relative strength within the action unit.
    """

    anchor: tuple[int, ...]
    direction: tuple[float, float]
    sigma: float
    offset: tuple[float, float] = (0.0, 0.0)
    weight: float = 1.0


def _pair(
    left: tuple[int, ...],
    right: tuple[int, ...],
    direction: tuple[float, float],
    sigma: float,
    offset: tuple[float, float] = (0.0, 0.0),
    weight: float = 1.0,
) -> tuple[Bump, Bump]:
    # one definition for both sides: outward flips with the side by construction
    return (
        Bump(left, direction, sigma, offset, weight),
        Bump(right, direction, sigma, offset, weight),
    )


_UP = (0.0, 1.0)
_DOWN = (0.0, -1.0)

#: Action units used by the generator, as bumps on dlib's 68 landmarks.
ACTION_UNITS: Mapping[int, tuple[Bump, ...]] = {
    # AU1 inner brow raiser
    1: (*_pair((21,), (22,), _UP, 0.13), *_pair((20,), (23,), _UP, 0.12, weight=0.6)),
    # AU2 outer brow raiser
    2: (*_pair((17,), (26,), (0.15, 1.0), 0.13), *_pair((18,), (25,), _UP, 0.12, weight=0.8)),
    # AU4 brow lowerer: brows down and drawn together
    4: (
        *_pair((20, 21), (22, 23), (-0.6, -0.8), 0.14),
        *_pair((19,), (24,), (-0.3, -1.0), 0.13, weight=0.6),
    ),
    # AU5 upper lid raiser
    5: _pair((37, 38), (43, 44), _UP, 0.08),
    # AU6 cheek raiser: cheeks below the eyes up, lower lids pushed up
    6: (
        *_pair((40, 41), (46, 47), (0.1, 1.0), 0.18, offset=(0.05, -0.32)),
        *_pair((40, 41), (46, 47), _UP, 0.08, weight=0.5),
    ),
    # AU9 nose wrinkler: nose wings and the sides of the nose up
    9: (*_pair((31,), (35,), (-0.2, 1.0), 0.11), *_pair((31, 39), (35, 42), _UP, 0.12, weight=0.6)),
    # AU10 upper lip raiser
    10: (Bump((51,), _UP, 0.11), *_pair((50,), (52,), _UP, 0.10, weight=0.8)),
    # AU12 lip corner puller: up and out
    12: _pair((48,), (54,), (0.6, 0.8), 0.13),
    # AU14 dimpler: lip corners tightened inward
    14: _pair((48,), (54,), (-1.0, 0.1), 0.11),
    # AU15 lip corner depressor
    15: _pair((48,), (54,), (-0.1, -1.0), 0.12),
    # AU7 lid tightener: lower lids up and in (distractor, any class)
    7: _pair((40, 41), (46, 47), (-0.3, 1.0), 0.08),
    # AU17 chin raiser: chin and lower lip up (distractor, any class)
    17: (Bump((8,), _UP, 0.22), Bump((57,), _UP, 0.12, weight=0.7)),
    # AU24 lip pressor: lips pressed together (distractor, any class)
    24: (Bump((51,), _DOWN, 0.09, weight=0.7), Bump((57,), _UP, 0.09)),
    # AU26 jaw drop: chin and lower lip down
    26: (Bump((8,), _DOWN, 0.30), Bump((57,), _DOWN, 0.16, weight=0.8)),
}

#: A (partial) blink: upper lids down, lower lids slightly up.
BLINK: tuple[Bump, ...] = (
    *_pair((37, 38), (43, 44), _DOWN, 0.08),
    *_pair((40, 41), (46, 47), _UP, 0.07, weight=0.25),
)


@dataclass(frozen=True)
class FaceFrame:
    """The face's own axes in image coordinates, from its landmarks.

    Attributes
    ----------
    landmarks : ndarray of shape (68, 2)
    right : ndarray of shape (2,)
        Unit vector from the image-left eye centre to the image-right one.
    up : ndarray of shape (2,)
        Unit vector pointing from chin to brows.
    centre : ndarray of shape (2,)
        Midpoint of the eye centres (a point on the face's midline).
    interocular : float
        Distance between the eye centres, in pixels.
    """

    landmarks: np.ndarray
    right: np.ndarray
    up: np.ndarray
    centre: np.ndarray
    interocular: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        """Build the face frame of 68 landmarks of shape (68, 2)."""
        pts = np.asarray(landmarks, dtype=np.float64)
        left_eye, right_eye = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
        axis = right_eye - left_eye
        distance = float(np.hypot(*axis))
        right = axis / distance
        # image y points down: rotating "right" by -90 degrees gives "up"
        up = np.array([right[1], -right[0]])
        return cls(pts, right, up, (left_eye + right_eye) / 2, distance)

    def to_image(self, vector: np.ndarray, side: float) -> np.ndarray:
        """Turn ``(outward, up)`` vectors into image vectors on ``side`` (+1 or -1)."""
        vector = np.asarray(vector, dtype=np.float64)
        return vector[..., :1] * side * self.right + vector[..., 1:] * self.up


def anchor_points(
    face: FaceFrame,
    bumps: Sequence[Bump],
    gains: Sequence[float] | None = None,
    side_gains: tuple[float, float] = (1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, displacement vectors and sigmas of ``bumps`` on ``face``.

    Parameters
    ----------
    face : FaceFrame
    bumps : sequence of Bump
    gains : sequence of float, optional
        Extra gain per bump (intensity of each action unit in one clip).
    side_gains : tuple of float
        Gains of the image-left and image-right side (asymmetry); bumps on the
        midline get their mean.

    Returns
    -------
    centres : ndarray of shape (n_bumps, 2)
        Bump centres in image pixels.
    vectors : ndarray of shape (n_bumps, 2)
        Displacement at each centre, in image pixels per unit field.
    sigmas : ndarray of shape (n_bumps,)
        Gaussian standard deviations in image pixels.
    """
    centres, vectors, sigmas = [], [], []
    for k, bump in enumerate(bumps):
        anchor = face.landmarks[list(bump.anchor)].mean(axis=0)
        lateral = float((anchor - face.centre) @ face.right)
        # points near the midline (chin, mid lip) have no outward direction
        side = 0.0 if abs(lateral) < 0.05 * face.interocular else float(np.sign(lateral))
        centre = anchor + face.to_image(np.array(bump.offset), side) * face.interocular
        direction = face.to_image(np.array(bump.direction), side)
        norm = float(np.hypot(*direction))
        gain = bump.weight * (1.0 if gains is None else float(gains[k]))
        gain *= {-1.0: side_gains[0], 0.0: sum(side_gains) / 2, 1.0: side_gains[1]}[side]
        centres.append(centre)
        vectors.append(direction / norm * gain if norm > 0 else direction)
        sigmas.append(bump.sigma * face.interocular)
    return np.array(centres), np.array(vectors), np.array(sigmas)


def displacement_at(
    points: np.ndarray, centres: np.ndarray, vectors: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """Displacement of a sum of Gaussian bumps at ``points`` of shape (n, 2)."""
    pts = np.asarray(points, dtype=np.float64)
    if len(centres) == 0:
        return np.zeros_like(pts)
    squared = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    weights = np.exp(-squared / (2.0 * sigmas[None, :] ** 2))
    return weights @ vectors


def displacement_field(
    shape: tuple[int, int], centres: np.ndarray, vectors: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """Dense displacement of a sum of Gaussian bumps on the pixel grid.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the image.
    centres, vectors, sigmas : ndarray
        As returned by :func:`anchor_points`.

    Returns
    -------
    ndarray of shape (height, width, 2), float32
        ``(dx, dy)`` per pixel; each bump is evaluated within 4 sigma only.
    """
    height, width = shape
    field = np.zeros((height, width, 2), dtype=np.float64)
    for centre, vector, sigma in zip(centres, vectors, sigmas, strict=True):
        reach = 4.0 * sigma
        x0, x1 = max(0, int(centre[0] - reach)), min(width, int(centre[0] + reach) + 2)
        y0, y1 = max(0, int(centre[1] - reach)), min(height, int(centre[1] + reach) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.exp(-((np.arange(x0, x1) - centre[0]) ** 2) / (2.0 * sigma**2))
        gy = np.exp(-((np.arange(y0, y1) - centre[1]) ** 2) / (2.0 * sigma**2))
        weights = gy[:, None] * gx[None, :]
        field[y0:y1, x0:x1] += weights[..., None] * vector
    return field.astype(np.float32)
