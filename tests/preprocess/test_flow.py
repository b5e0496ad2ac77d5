import cv2
import numpy as np
import pytest
from skimage import data

from microexpr.preprocess.flow import tvl1_flow


@pytest.fixture(scope="module")
def face_patch():
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray[60:200, 150:290], (128, 128))


@pytest.mark.parametrize(("du", "dv"), [(0.5, -0.3), (0.25, 0.1), (1.2, 0.7)])
def test_tvl1_recovers_subpixel_shift(face_patch, du, dv):
    # content moved by (du, dv): flow from first to second is (du, dv)
    shifted = cv2.warpAffine(
        face_patch,
        np.float32([[1, 0, du], [0, 1, dv]]),
        (128, 128),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )
    flow = tvl1_flow(face_patch, shifted)
    assert flow.shape == (2, 128, 128)
    inner = flow[:, 16:-16, 16:-16]
    # stated accuracy: mean absolute error below 0.05 px, median within 0.02 px
    assert np.abs(inner[0] - du).mean() < 0.05
    assert np.abs(inner[1] - dv).mean() < 0.05
    assert abs(np.median(inner[0]) - du) < 0.02
    assert abs(np.median(inner[1]) - dv) < 0.02


def test_tvl1_identical_frames_give_zero_flow(face_patch):
    flow = tvl1_flow(face_patch, face_patch)
    assert np.abs(flow).max() < 1e-3


def test_tvl1_rejects_mismatched_frames(face_patch):
    with pytest.raises(ValueError, match="one shape"):
        tvl1_flow(face_patch, face_patch[:64])
