"""Spotting on videos made by the tests.

Tolerance: the spotted apex must lie within APEX_TOLERANCE = 2 frames
(67 ms at 30 fps) of the injected apex; onset and offset within 3 frames.
"""

import cv2
import numpy as np
import pytest
from video_fixtures import CLASS_AUS, blank_frames, face_frame, motion_frames, write_video

from microexpr.errors import ConfigError
from microexpr.inference.spotting import Spotter, SpottingSettings, motion_score
from microexpr.inference.video import open_source
from microexpr.preprocess.pipeline import PreprocessSettings

APEX_TOLERANCE = 2
EDGE_TOLERANCE = 3


def _spot(path, settings=None):
    src = open_source(path)
    spotter = Spotter(PreprocessSettings(), src.fps, settings)
    found = []
    for frame in src:
        found += spotter.update(frame)
    found += spotter.finish()
    return found, spotter


def test_spotting_finds_the_injected_apex(micro_video):
    found, spotter = _spot(micro_video)
    assert len(found) == 1
    c = found[0]
    assert abs(c.apex - 29) <= APEX_TOLERANCE
    assert abs(c.onset - 24) <= EDGE_TOLERANCE
    assert c.offset is not None and abs(c.offset - 35) <= EDGE_TOLERANCE
    assert c.apex_time == pytest.approx(c.apex / 30)
    assert c.onset_image.shape == (240, 320) and c.landmarks.shape == (68, 2)
    assert spotter.issues == []
    assert len(spotter.trace.motion) == 60


@pytest.mark.parametrize("name", ["surprise", "negative"])
def test_spotting_finds_other_actions(tmp_path, name):
    frames = motion_frames(n_frames=50, onset=20, apex=26, offset=32, aus=CLASS_AUS[name])
    found, _ = _spot(write_video(tmp_path / "m.avi", frames))
    assert [abs(c.apex - 26) <= APEX_TOLERANCE for c in found] == [True]


def test_spotting_quiet_face_has_no_candidate(tmp_path):
    found, spotter = _spot(write_video(tmp_path / "q.avi", motion_frames(amplitude=0.0)))
    assert found == []
    assert np.nanmax(spotter.trace.motion) < spotter.trace.threshold[-1]


def test_spotting_drops_a_movement_too_long_for_a_micro_expression(tmp_path):
    # 1.7 s from onset to offset at 30 fps: a macro-expression
    frames = motion_frames(n_frames=80, onset=10, apex=35, offset=60, amplitude=3.0)
    found, spotter = _spot(write_video(tmp_path / "long.avi", frames))
    assert found == []
    assert spotter.dropped_long and spotter.dropped_long[0][0] <= 20


def test_spotting_reports_frames_without_a_face(tmp_path):
    frames = motion_frames(n_frames=75, onset=55, apex=60, offset=66)
    frames[35:45] = blank_frames(10)
    found, spotter = _spot(write_video(tmp_path / "gap.avi", frames))
    assert [(i.first, i.last, i.problem) for i in spotter.issues] == [(35, 44, "no face found")]
    assert [abs(c.apex - 60) <= APEX_TOLERANCE for c in found] == [True]
    assert np.isnan(spotter.trace.motion[40])
    assert 45 in spotter.trace.references


def test_spotting_without_any_face(tmp_path):
    found, spotter = _spot(write_video(tmp_path / "none.avi", blank_frames(20)))
    assert found == [] and spotter.frames_with_face == 0
    assert [(i.first, i.last) for i in spotter.issues] == [(0, 19)]


def test_motion_score_ignores_a_rigid_shift():
    flow = np.zeros((128, 128, 2), np.float32)
    flow[..., 0] = 1.5
    assert motion_score(flow) == pytest.approx(0.0)
    flow[:32, :32, 1] = 2.0  # one block moves
    assert motion_score(flow, grid=4, top_blocks=2) == pytest.approx(1.0)


def test_spotting_settings_are_validated():
    with pytest.raises(ConfigError, match="spotting.grid == 0"):
        SpottingSettings(grid=0)
    with pytest.raises(ConfigError, match="spotting.low_fraction"):
        SpottingSettings(low_fraction=1.5)
    with pytest.raises(ConfigError, match="top_blocks == 20"):
        SpottingSettings(grid=4, top_blocks=20)


def test_spotting_memory_does_not_grow_with_length():
    import tracemalloc

    from microexpr.inference.video import Frame

    gray = cv2.cvtColor(face_frame()[0], cv2.COLOR_BGR2GRAY)
    rng = np.random.default_rng(0)
    frames = [
        np.clip(gray + rng.normal(0, 1, gray.shape), 0, 255).astype(np.uint8) for _ in range(5)
    ]
    used = {}
    for n in (100, 400):
        spotter = Spotter(PreprocessSettings(), 30.0)
        tracemalloc.start()
        for i in range(n):
            spotter.update(Frame(i, i / 30, frames[i % 5]))
        used[n] = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # 300 more frames of 77 kB each: only the 32-byte-a-frame trace may grow
    assert used[400][0] - used[100][0] < 64 * 1024
    assert used[400][1] < 4 * 2**20
