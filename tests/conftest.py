"""Fixtures shared across test folders (face images, clip folders, a model folder).

Helpers that several test folders use live beside this file, in ``tests/``:
``dataset_fixtures`` (copies of the public databases' layouts),
``flow_image_fixtures`` (MEGC2019 flow-image sets and fold weights) and
``video_fixtures`` (test videos with injected action units). pytest puts the
folder of this conftest on ``sys.path`` before collecting any test, so every
test imports them by name (``from dataset_fixtures import make_casme2``);
no test edits ``sys.path`` itself (``tests/test_layers.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from microexpr.data.records import CLASS_NAMES, ClipRecord, discover_frames
from microexpr.inference.checkpoint import save_checkpoint
from microexpr.models import create_model
from microexpr.preprocess.pipeline import PreprocessSettings

#: Options of the small ATSCNN the fast tests use (64x64 inputs, one small hidden layer).
SMALL_ATSCNN = {"input_size": 64, "head": [16]}


@pytest.fixture(scope="session")
def astronaut_gray() -> np.ndarray:
    """scikit-image's astronaut photograph as uint8 grayscale (one real face)."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


def shift_image(image: np.ndarray, du: float, dv: float) -> np.ndarray:
    """``image`` moved by (du, dv) pixels, sub-pixel, edges reflected."""
    m = np.float32([[1, 0, du], [0, 1, dv]])
    return cv2.warpAffine(
        image, m, image.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


@pytest.fixture(scope="session")
def shifted() -> Callable[[np.ndarray, float, float], np.ndarray]:
    """Function moving an image by (du, dv) pixels."""
    return shift_image


@pytest.fixture
def write_clip(tmp_path: Path) -> Callable[..., ClipRecord]:
    """Factory writing an onset/apex pair as frames 1 and 2 of a clip of dataset ``toy``.

    ``write_clip(name, onset, apex, root=tmp_path)``; a frame given as None is not written.
    """

    def write(name: str, onset, apex, root: Path | None = None) -> ClipRecord:
        folder = (root or tmp_path) / "s1" / name
        folder.mkdir(parents=True)
        if onset is not None:
            cv2.imwrite(str(folder / "img1.png"), onset)
        if apex is not None:
            cv2.imwrite(str(folder / "img2.png"), apex)
        return ClipRecord("toy", "s1", name, 1, 2, 2, "happiness", 1, discover_frames(folder))

    return write


@pytest.fixture(scope="session")
def untrained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid model folder (checkpoint.pt, model.json) of an untrained small ATSCNN.

    For tests of what happens around a model (bad videos, bad options), where
    what the model predicts does not matter; no training, so it is instant.
    """
    out = tmp_path_factory.mktemp("untrained-model")
    torch.manual_seed(0)
    save_checkpoint(
        out,
        create_model("atscnn", **SMALL_ATSCNN),
        model_name="atscnn",
        model_options=dict(SMALL_ATSCNN),
        preprocess=PreprocessSettings(size=64),
        class_names=CLASS_NAMES,
    )
    return out
