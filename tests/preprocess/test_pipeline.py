from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from microexpr.data.records import ClipRecord, discover_frames
from microexpr.preprocess.alignment import AlignmentSettings, estimate_alignment, transform_points
from microexpr.preprocess.cache import FeatureCache
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings, preprocess_pair, preprocess_records


@pytest.fixture(scope="module")
def face():
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


def _shift(img, du, dv):
    m = np.float32([[1, 0, du], [0, 1, dv]])
    return cv2.warpAffine(
        img, m, img.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


def _clip(root: Path, name: str, onset, apex) -> ClipRecord:
    folder = root / "s1" / name
    folder.mkdir(parents=True)
    if onset is not None:
        cv2.imwrite(str(folder / "img1.png"), onset)
    if apex is not None:
        cv2.imwrite(str(folder / "img2.png"), apex)
    return ClipRecord("toy", "s1", name, 1, 2, 2, "happiness", 1, discover_frames(folder))


def test_alignment_puts_eyes_level_at_fixed_points(face):
    lm = LandmarkDetector().landmarks(face)
    settings = AlignmentSettings(size=128)
    aligned = transform_points(lm, estimate_alignment(lm, settings))
    left, right = aligned[36:42].mean(0), aligned[42:48].mean(0)
    assert abs(left[1] - right[1]) < 1e-6
    assert np.hypot(*(right - left)) == pytest.approx(0.36 * 128)
    np.testing.assert_allclose((left + right) / 2, [64, 0.32 * 128], atol=1e-6)
    assert (aligned >= 0).all() and (aligned < 128).all()


def test_one_transform_per_clip_keeps_the_motion(face):
    # the apex is the onset moved by 0.5 px; aligning both with the onset's transform
    # keeps a uniform flow of 0.5 px times the crop scale
    lm = LandmarkDetector().landmarks(face)
    scale = 0.36 * 128 / np.hypot(*(lm[42:48].mean(0) - lm[36:42].mean(0)))
    feats = preprocess_pair(face, _shift(face, 0.5, 0.0), PreprocessSettings())
    assert feats.u.shape == (128, 128)
    mag = np.hypot(feats.u, feats.v)[24:-24, 24:-24]
    assert np.median(mag) == pytest.approx(0.5 * scale, rel=0.1)
    assert np.median(feats.strain[24:-24, 24:-24]) < 0.05


def test_bad_clips_are_reported_and_skipped(tmp_path, face):
    good = _clip(tmp_path, "good", face, _shift(face, 0.4, 0.2))
    missing = _clip(tmp_path, "missing", face, None)
    blank = np.full_like(face, 128)
    noface = _clip(tmp_path, "noface", blank, blank)
    broken = _clip(tmp_path, "broken", face, face)
    (tmp_path / "s1" / "broken" / "img2.png").write_bytes(b"not a png")
    fs = preprocess_records([good, missing, noface, broken], PreprocessSettings(), progress=False)
    assert [r.clip for r in fs.records] == ["good"]
    reasons = {i.key: i.reason for i in fs.issues}
    assert "frame 2 not found" in reasons["toy/s1/missing"]
    assert "no face" in reasons["toy/s1/noface"]
    assert "unreadable" in reasons["toy/s1/broken"]
    assert fs.inputs("uvs").shape == (1, 3, 128, 128)


def test_cache_is_reused_and_keyed_by_settings(tmp_path, face):
    rec = _clip(tmp_path / "data", "c1", face, _shift(face, 0.3, 0.0))
    cache = tmp_path / "cache"
    first = preprocess_records([rec], PreprocessSettings(), cache_dir=cache, progress=False)
    # frames gone: only the cache can answer now
    for p in rec.frames.values():
        p.unlink()
    second = preprocess_records([rec], PreprocessSettings(), cache_dir=cache, progress=False)
    np.testing.assert_array_equal(first.inputs("uvs"), second.inputs("uvs"))
    other = preprocess_records([rec], PreprocessSettings(size=64), cache_dir=cache, progress=False)
    assert other.records == [] and len(other.issues) == 1
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def test_cache_files_are_complete_or_absent(tmp_path):
    cache = FeatureCache(tmp_path, {"a": 1})
    cache.save("d/s/c", {"u": np.ones((4, 4), np.float32)})
    assert not list(cache.folder.rglob("*.tmp"))
    cache.path("d/s/c").write_bytes(b"truncated")
    assert cache.load("d/s/c") is None
