"""The source faces of the synthetic set: more than two identities, each one dlib handles."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.preprocess.face import LandmarkDetector
from microexpr.synthetic.faces import PHOTO_FOLDER, PHOTO_NAMES, landmark_error, load_face_photos
from microexpr.synthetic.generator import SyntheticSettings, _make_subject


@pytest.fixture(scope="module")
def detector() -> LandmarkDetector:
    return LandmarkDetector(upsample=1)


def test_four_distinct_source_faces() -> None:
    photos = load_face_photos()
    assert [p.name for p in photos] == list(PHOTO_NAMES)
    assert len({p.name for p in photos}) == 4
    assert len({p.image.tobytes() for p in photos}) == 4


@pytest.mark.parametrize("index", range(len(PHOTO_NAMES)))
def test_dlib_finds_a_face_and_its_landmarks_on_each_source(detector, index) -> None:
    photo = load_face_photos()[index]
    boxes = detector.detect_faces(photo.image)
    assert len(boxes) == 1, photo.name
    found = detector.landmarks(photo.image)
    assert found.shape == (68, 2)
    interocular = np.hypot(*(photo.landmarks[42:48].mean(0) - photo.landmarks[36:42].mean(0)))
    # dlib on the photograph agrees with the consensus landmarks to a few % of the eye distance
    assert np.linalg.norm(found - photo.landmarks, axis=1).mean() < 0.08 * interocular


def test_subjects_cycle_through_the_faces_and_dlib_finds_each(detector) -> None:
    settings = SyntheticSettings(image_size=192)
    subjects = [_make_subject(i, settings, detector) for i in range(len(PHOTO_NAMES))]
    assert [s.face.source for s in subjects] == list(PHOTO_NAMES)
    for subject in subjects:
        # detected landmarks within 2 px (of the 128-px aligned face) of the ground truth
        error = landmark_error(subject.face.image, subject.face.landmarks, detector)
        assert error < 2.0, subject.face.source


def test_bundled_photos_are_attributed() -> None:
    attribution = (PHOTO_FOLDER / "ATTRIBUTION.md").read_text(encoding="utf-8")
    bundled = sorted(p.name for p in PHOTO_FOLDER.glob("*.jpg"))
    assert bundled == ["pexels_wolfgang_langer.jpg", "pyfeat_single_face.jpg"]
    for name in bundled:
        assert f"`{name}`" in attribution
    assert "MIT License" in attribution and "Pexels" in attribution
    # small crops, not whole videos
    assert all((PHOTO_FOLDER / name).stat().st_size < 100_000 for name in bundled)
