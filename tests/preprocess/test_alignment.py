import numpy as np
import pytest

from microexpr.preprocess.alignment import (
    AlignmentSettings,
    apply_alignment,
    estimate_alignment,
    transform_points,
)
from microexpr.preprocess.face import LandmarkDetector


def _eyes(left, right):
    # 68 points whose eye centres are left and right (every eye point on its centre)
    points = np.zeros((68, 2))
    points[36:42] = left
    points[42:48] = right
    return points


def test_alignment_puts_eyes_level_at_fixed_points(astronaut_gray):
    lm = LandmarkDetector().landmarks(astronaut_gray)
    settings = AlignmentSettings(size=128)
    aligned = transform_points(lm, estimate_alignment(lm, settings))
    left, right = aligned[36:42].mean(0), aligned[42:48].mean(0)
    assert abs(left[1] - right[1]) < 1e-6
    assert np.hypot(*(right - left)) == pytest.approx(0.36 * 128)
    np.testing.assert_allclose((left + right) / 2, [64, 0.32 * 128], atol=1e-6)
    assert (aligned >= 0).all() and (aligned < 128).all()


def test_alignment_of_hand_worked_eyes():
    # eyes 20 px apart, tilted 90 degrees: scale 0.5 * 64 / 20, rotated level
    settings = AlignmentSettings(size=64, eye_distance=0.5, eye_height=0.25)
    matrix = estimate_alignment(_eyes((10, 10), (10, 30)), settings)
    np.testing.assert_allclose(
        transform_points(np.array([[10.0, 10.0], [10.0, 30.0]]), matrix),
        [[16.0, 16.0], [48.0, 16.0]],
        atol=1e-9,
    )


def test_alignment_of_coincident_eyes_raises():
    with pytest.raises(ValueError, match="eye centres coincide"):
        estimate_alignment(_eyes((5, 5), (5, 5)), AlignmentSettings())


def test_apply_alignment_moves_a_bright_dot_where_its_point_goes():
    image = np.zeros((100, 100), np.uint8)
    image[40, 60] = 255
    settings = AlignmentSettings(size=32, eye_distance=0.5, eye_height=0.5)
    matrix = estimate_alignment(_eyes((50, 40), (70, 40)), settings)
    crop = apply_alignment(image, matrix, 32)
    assert crop.shape == (32, 32) and crop.dtype == np.uint8
    x, y = transform_points(np.array([[60.0, 40.0]]), matrix)[0]
    assert np.unravel_index(crop.argmax(), crop.shape) == (round(y), round(x))


def test_apply_alignment_takes_colour_as_rgb():
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0] = 200  # red
    crop = apply_alignment(rgb, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 10)
    assert crop.shape == (10, 10)
    assert int(crop[5, 5]) == round(0.299 * 200)
