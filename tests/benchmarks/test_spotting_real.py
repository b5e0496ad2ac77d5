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


def _recording(d, masked, group=("brows", "brows", "mouth"), scored=(True, True, True)):
    rec = spotting_real.Recording(group=np.array(group), scored=np.array(scored))
    for t, values in d.items():
        rec.d[t] = np.array(values, float)
        rec.masked[t] = np.array(masked.get(t, [False] * len(values)))
    return rec


def test_event_signal_is_the_largest_change_on_the_group_over_common_frames():
    clean = _recording({4: [0.1, 0.2, 0.0], 5: [0.1, 0.2, 0.0], 6: [0.3, 0.3, 0.0]}, {})
    injected = _recording(
        {5: [0.5, 0.1, 9.0], 6: [0.1, 0.3, 9.0], 7: [5.0, 5.0, 9.0], 9: [8.0, 8.0, 8.0]}, {}
    )
    event = spotting_real.Event(onset=4, apex=6, offset=8, movement="brow raise")
    brows = clean.channels_of("brows")
    # frames 5 and 6 only (4 and 7 are in one run, 9 is outside); the mouth channel is ignored
    assert spotting_real.event_signal(clean, injected, event, brows) == 0.4
    outside = spotting_real.Event(onset=10, apex=11, offset=12, movement="brow raise")
    assert np.isnan(spotting_real.event_signal(clean, injected, outside, brows))


def test_natural_motion_keeps_scored_unmasked_channels_of_the_group():
    clean = _recording(
        {0: [0.1, 0.2, 0.3], 1: [0.4, 0.5, 0.6]},
        {1: [True, False, False]},
        scored=(True, True, False),
    )
    np.testing.assert_allclose(
        sorted(spotting_real.natural_motion(clean, clean.channels_of("brows"))), [0.1, 0.2, 0.5]
    )
    assert spotting_real.natural_motion(clean, clean.channels_of("mouth")).size == 0


def test_signal_rows_compare_the_1px_signal_with_natural_motion():
    tally = spotting_real.Tally()
    tally.signal[("tuning", "brows", 1.0)] = [0.2, 0.4, float("nan")]
    tally.signal[("tuning", "brows", 2.0)] = [0.8, 1.0, 1.2]
    tally.natural[("tuning", "brows")] = [np.array([0.1, 0.2]), np.array([0.4, 0.5])]
    rows = {r["group"]: r for r in spotting_real.signal_rows(tally, "tuning", [1.0, 2.0])}
    assert set(rows) == {"brows", "mouth", "nose", "cheeks"}
    brows = rows["brows"]
    assert brows["events"] == 3
    assert np.isclose(brows["signal_1px"], 0.3) and np.isclose(brows["signal_2px"], 1.0)
    assert brows["share_above_1px"] == 0.5  # 0.4 and 0.5 of the four natural values
    assert brows["natural_values"] == 4
    assert rows["mouth"]["events"] == 0 and np.isnan(rows["mouth"]["natural_p50"])
