"""benchmarks/spotting_real.py: the landmark cache and the video sets (no video decoded)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "spotting_real.py"
_SPEC = importlib.util.spec_from_file_location("spotting_real", _SCRIPT)
spotting_real = importlib.util.module_from_spec(_SPEC)
sys.modules["spotting_real"] = spotting_real  # dataclasses look their module up
_SPEC.loader.exec_module(spotting_real)


def _landmarks(n, missing):
    rng = np.random.default_rng(0)
    return [None if i in missing else rng.uniform(0, 100, (68, 2)) for i in range(n)]


def test_landmark_cache_round_trip_keeps_missing_faces(tmp_path):
    file = tmp_path / "cache" / "clip.npz"
    lms = _landmarks(5, {1, 4})
    spotting_real.write_landmarks(file, lms)
    back = spotting_real.read_landmarks(file, 5)
    assert [b is None for b in back] == [lm is None for lm in lms]
    for a, b in zip(lms, back, strict=True):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert os.listdir(file.parent) == ["clip.npz"]  # the temporary file was renamed


def test_landmark_cache_serves_a_prefix_not_more(tmp_path):
    file = tmp_path / "clip.npz"
    lms = _landmarks(5, set())
    spotting_real.write_landmarks(file, lms)
    prefix = spotting_real.read_landmarks(file, 3)
    assert len(prefix) == 3
    np.testing.assert_array_equal(prefix[2], lms[2])
    assert spotting_real.read_landmarks(file, 6) is None


def test_landmark_cache_missing_or_broken_is_a_miss(tmp_path):
    assert spotting_real.read_landmarks(tmp_path / "absent.npz", 1) is None
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not an npz")
    assert spotting_real.read_landmarks(broken, 1) is None


def test_cache_path_changes_with_the_file(tmp_path):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"12345")
    first = spotting_real.cache_path(tmp_path / "cache", video)
    assert first.name.startswith("a.mp4.5.")
    video.write_bytes(b"123456")
    assert spotting_real.cache_path(tmp_path / "cache", video) != first


def test_list_videos_labels_sets_and_skips_others(tmp_path):
    tuning, held = tmp_path / "t", tmp_path / "h"
    tuning.mkdir()
    held.mkdir()
    for name in ("b.mp4", "a.MOV", "notes.txt"):
        (tuning / name).write_bytes(b"x")
    (held / "c.mp4").write_bytes(b"x")
    folders = [("tuning", tuning), ("held-out", held), ("held-out", tuning)]
    got = [(s, p.name) for s, p in spotting_real.list_videos(folders)]
    assert got == [("tuning", "a.MOV"), ("tuning", "b.mp4"), ("held-out", "c.mp4")]
