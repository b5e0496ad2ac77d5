import cv2
import numpy as np
import pytest

from microexpr.errors import ClipError, ConfigError
from microexpr.preprocess.frames import read_frame, to_gray


def _bgr():
    image = np.zeros((6, 8, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 100, 250  # B, G, R
    return image


def test_to_gray_weights_and_channel_orders():
    bgr = _bgr()
    expected = round(0.114 * 10 + 0.587 * 100 + 0.299 * 250)
    assert int(to_gray(bgr, order="bgr")[0, 0]) == expected
    assert int(to_gray(bgr[..., ::-1], order="rgb")[0, 0]) == expected
    alpha = np.dstack([bgr, np.full((6, 8), 7, np.uint8)])
    assert int(to_gray(alpha, order="bgr")[0, 0]) == expected


def test_to_gray_scales_floats_and_16_bit():
    assert int(to_gray(np.full((2, 2), 0.5))[0, 0]) == 128
    assert int(to_gray(np.full((2, 2), 200.0))[0, 0]) == 200
    assert int(to_gray(np.full((2, 2), 65535, np.uint16))[0, 0]) == 255
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(to_gray(gray[..., None]), gray)


def test_to_gray_rejects_bad_shapes_and_orders():
    with pytest.raises(ConfigError, match="order == 'rgba'"):
        to_gray(_bgr(), order="rgba")
    with pytest.raises(ConfigError, match=r"shape \(2, 2, 2\)"):
        to_gray(np.zeros((2, 2, 2), np.uint8))


def test_read_frame_matches_a_video_frame_conversion(tmp_path):
    # a frame saved to disk reads as the same gray a decoded video frame converts to
    bgr = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "f.png"), bgr)
    np.testing.assert_array_equal(read_frame(tmp_path / "f.png"), to_gray(bgr, order="bgr"))
    cv2.imwrite(str(tmp_path / "g.png"), bgr[..., 1])
    np.testing.assert_array_equal(read_frame(tmp_path / "g.png"), bgr[..., 1])


def test_read_frame_reports_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ClipError, match="frame file missing"):
        read_frame(tmp_path / "none.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ClipError, match="unreadable"):
        read_frame(tmp_path / "bad.png")
