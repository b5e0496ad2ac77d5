"""Face detection and 68-point landmarks with dlib.

The landmark model ``shape_predictor_68_face_landmarks.dat`` ships in the
PyPI package ``face-recognition-models``. It is located with
:func:`importlib.util.find_spec` rather than imported, because importing that
package needs ``pkg_resources``, which recent setuptools no longer has.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import dlib
import numpy as np

from microexpr.errors import FaceNotFoundError, MicroexprError

__all__ = ["LandmarkDetector", "landmark_model_path", "to_gray"]

_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"


def landmark_model_path() -> Path:
    """Path of dlib's 68-point landmark model inside face-recognition-models."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MicroexprError(
            "package face-recognition-models is not installed; "
            "install it with: pip install face-recognition-models"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / _MODEL_FILE
    if not path.is_file():
        raise MicroexprError(
            f"landmark model not found at {path}; reinstall face-recognition-models"
        )
    return path


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[object, object]:
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmark_model_path()))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a 2-D uint8 grayscale array.

    Colour images are taken as RGB when read by scikit-image/PIL; for
    OpenCV's BGR the weights differ slightly, which does not matter for
    detection. Float images are taken as 0..1.
    """
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]
        img = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating) and img.max(initial=0) <= 1.0:
            img = img * 255.0
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


class LandmarkDetector:
    """dlib frontal face detector plus the 68-point shape predictor.

    Parameters
    ----------
    upsample : int
        Times the detector upsamples the image (finds smaller faces; slower).
    """

    def __init__(self, upsample: int = 1) -> None:
        self.upsample = upsample
        self._detector, self._predictor = _dlib_models()

    def detect_faces(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(left, top, right, bottom)``, largest first."""
        gray = to_gray(image)
        rects = self._detector(gray, self.upsample)
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)

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
        if box is None:
            boxes = self.detect_faces(gray)
            if not boxes:
                raise FaceNotFoundError("no face detected")
            box = boxes[0]
        shape = self._predictor(gray, dlib.rectangle(*(int(v) for v in box)))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
