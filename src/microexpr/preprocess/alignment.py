"""Face alignment: one similarity transform per clip, from the onset frame.

The transform rotates the eyes level, scales the inter-ocular distance to a
fixed fraction of the crop and places the eye midpoint at a fixed point, so
that the face from brows to chin fills a ``size x size`` crop. One transform
is computed per clip (from the onset frame's landmarks) and applied to both
onset and apex: aligning the apex separately would erase part of the motion
we want to measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from microexpr.preprocess.frames import to_gray

__all__ = ["AlignmentSettings", "apply_alignment", "estimate_alignment", "transform_points"]

# dlib's 68-point indices
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)


@dataclass(frozen=True)
class AlignmentSettings:
    """Geometry of the aligned crop.

    Attributes
    ----------
    size : int
        Side of the square crop in pixels (128 in the paper).
    eye_distance : float
        Inter-ocular distance as a fraction of ``size``.
    eye_height : float
        Height of the eye midpoint as a fraction of ``size`` from the top.
    """

    size: int = 128
    eye_distance: float = 0.36
    eye_height: float = 0.32


def estimate_alignment(landmarks: np.ndarray, settings: AlignmentSettings) -> np.ndarray:
    """Similarity transform (2x3) mapping image coordinates to the crop.

    Parameters
    ----------
    landmarks : ndarray of shape (68, 2)
        dlib landmarks of the onset frame.
    settings : AlignmentSettings
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    left = pts[_LEFT_EYE].mean(axis=0)
    right = pts[_RIGHT_EYE].mean(axis=0)
    dx, dy = right - left
    angle = np.arctan2(dy, dx)
    distance = float(np.hypot(dx, dy))
    if distance <= 0:
        raise ValueError("degenerate landmarks: eye centres coincide")
    scale = settings.eye_distance * settings.size / distance
    cos, sin = scale * np.cos(-angle), scale * np.sin(-angle)
    rot = np.array([[cos, -sin], [sin, cos]])
    centre = (left + right) / 2
    target = np.array([settings.size / 2, settings.eye_height * settings.size])
    shift = target - rot @ centre
    return np.hstack([rot, shift[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to points of shape (n, 2)."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def apply_alignment(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp ``image`` into the ``size x size`` grayscale crop, uint8."""
    gray = to_gray(image)
    return cv2.warpAffine(
        gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
