"""The one frame reader and grayscale conversion of training and prediction.

A frame is decoded in colour (as a video decoder hands it over) and converted
with OpenCV's BT.601 weights (0.299 R + 0.587 G + 0.114 B), whether it comes
from a dataset's image files, a folder of frames, an image pair or a video.
Decoding straight to grayscale (``cv2.IMREAD_GRAYSCALE``) would let libjpeg
and libpng round differently from the video path, so a model would be
trained on slightly other pixel values than it is later shown.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from microexpr.errors import ClipError, ConfigError

__all__ = ["CHANNEL_ORDERS", "read_frame", "to_gray"]

#: Channel orders :func:`to_gray` accepts: ``rgb`` (scikit-image, PIL), ``bgr`` (OpenCV).
CHANNEL_ORDERS = ("rgb", "bgr")

_CODES = {
    ("rgb", 3): cv2.COLOR_RGB2GRAY,
    ("rgb", 4): cv2.COLOR_RGBA2GRAY,
    ("bgr", 3): cv2.COLOR_BGR2GRAY,
    ("bgr", 4): cv2.COLOR_BGRA2GRAY,
}

# decode as stored (colour or gray, 8 or 16 bit) but honour EXIF orientation,
# which IMREAD_UNCHANGED would skip
_IMREAD_FLAGS = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH


def to_gray(image: np.ndarray, *, order: str = "rgb") -> np.ndarray:
    """Return ``image`` as a 2-D uint8 grayscale array.

    Parameters
    ----------
    image : ndarray
        (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). uint8 as is; 16-bit
        integers are scaled by 255/65535 (the same scale for every frame, so
        the brightness of onset and apex stays comparable); floats whose
        maximum is at most 1 are taken as 0..1, other floats as 0..255.
    order : {'rgb', 'bgr'}
        Channel order of a colour image: ``rgb`` as scikit-image and PIL
        read it, ``bgr`` as OpenCV decodes it.

    Returns
    -------
    ndarray of shape (H, W), uint8
    """
    if order not in CHANNEL_ORDERS:
        raise ConfigError(f"order == {order!r}, must be one of {', '.join(CHANNEL_ORDERS)}")
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ConfigError(f"image of shape {img.shape}: expected (H, W) or (H, W, 3 or 4)")
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating):
            img = img.astype(np.float32)
            if img.max(initial=0) <= 1.0:
                img = img * 255.0
        elif np.issubdtype(img.dtype, np.integer) and img.dtype.itemsize > 1:
            img = img.astype(np.float32) * (255.0 / 65535.0)
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), _CODES[(order, img.shape[2])])
    return np.ascontiguousarray(img)


def read_frame(path: str | Path) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale frame.

    Parameters
    ----------
    path : str or Path
        Any image OpenCV decodes (jpg, png, bmp, tif...), colour or gray,
        8 or 16 bit.

    Returns
    -------
    ndarray of shape (H, W), uint8

    Raises
    ------
    ClipError
        If the file is missing or cannot be decoded (``clip`` is the path).
    """
    p = Path(path)
    if not p.is_file():
        raise ClipError(str(p), "frame file missing")
    image = cv2.imread(str(p), _IMREAD_FLAGS)
    if image is None or image.size == 0:
        raise ClipError(str(p), "frame file unreadable (not a decodable image)")
    return to_gray(image, order="bgr")
