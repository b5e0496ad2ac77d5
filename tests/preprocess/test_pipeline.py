import numpy as np
import pytest

from microexpr.errors import ClipError, ClipFaceError
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.pipeline import (
    PreprocessSettings,
    preprocess_clip,
    preprocess_pair,
    preprocess_records,
)


def test_one_transform_per_clip_keeps_the_motion(astronaut_gray, shifted):
    # the apex is the onset moved by 0.5 px; aligning both with the onset's transform
    # keeps a uniform flow of 0.5 px times the crop scale
    face = astronaut_gray
    lm = LandmarkDetector().landmarks(face)
    scale = 0.36 * 128 / np.hypot(*(lm[42:48].mean(0) - lm[36:42].mean(0)))
    feats = preprocess_pair(face, shifted(face, 0.5, 0.0), PreprocessSettings())
    assert feats.u.shape == (128, 128)
    mag = np.hypot(feats.u, feats.v)[24:-24, 24:-24]
    assert np.median(mag) == pytest.approx(0.5 * scale, rel=0.1)
    assert np.median(feats.strain[24:-24, 24:-24]) < 0.05


def test_bad_clips_are_reported_and_skipped(tmp_path, astronaut_gray, shifted, write_clip):
    face = astronaut_gray
    good = write_clip("good", face, shifted(face, 0.4, 0.2))
    missing = write_clip("missing", face, None)
    blank = np.full_like(face, 128)
    noface = write_clip("noface", blank, blank)
    broken = write_clip("broken", face, face)
    (tmp_path / "s1" / "broken" / "img2.png").write_bytes(b"not a png")
    fs = preprocess_records([good, missing, noface, broken], PreprocessSettings(), progress=False)
    assert [r.clip for r in fs.records] == ["good"]
    reasons = {i.key: i.reason for i in fs.issues}
    assert "apex frame 2 not found" in reasons["toy/s1/missing"]
    assert "no face" in reasons["toy/s1/noface"]
    assert "unreadable" in reasons["toy/s1/broken"]
    assert fs.inputs("uvs").shape == (1, 3, 128, 128)
    stages = {i.key: i.stage for i in fs.issues}
    assert stages == {
        "toy/s1/missing": "frames",
        "toy/s1/noface": "face",
        "toy/s1/broken": "frames",
    }


def test_issue_stage_comes_from_the_error_type_not_its_text(tmp_path, astronaut_gray, write_clip):
    # a frame problem whose message happens to say "no face" (the folder's name)
    # is a frame problem; a face problem is one whatever the message says
    face = astronaut_gray
    unreadable = write_clip("no face here", face, face)
    (tmp_path / "s1" / "no face here" / "img2.png").write_bytes(b"not a png")
    blank = np.full_like(face, 128)
    faceless = write_clip("blank", blank, blank)
    fs = preprocess_records([unreadable, faceless], PreprocessSettings(), progress=False)
    stages = {i.key: i.stage for i in fs.issues}
    assert "no face here" in next(i.reason for i in fs.issues if i.key.endswith("here"))
    assert stages == {"toy/s1/no face here": "frames", "toy/s1/blank": "face"}


def test_preprocess_clip_raises_clip_face_error_on_a_faceless_onset(astronaut_gray, write_clip):
    blank = np.full_like(astronaut_gray, 128)
    with pytest.raises(ClipFaceError, match="no face found on onset frame"):
        preprocess_clip(write_clip("blank", blank, blank), PreprocessSettings())
    with pytest.raises(ClipError) as info:
        preprocess_clip(write_clip("gone", astronaut_gray, None), PreprocessSettings())
    assert type(info.value) is ClipError
    assert info.value.reason == "apex frame 2 not found on disk"
