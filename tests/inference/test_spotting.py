"""Spotting on videos made by the tests (and on a real one when MICROEXPR_VIDEO is set).

Tolerance: the spotted apex must lie within APEX_TOLERANCE = 2 frames
(67 ms at 30 fps) of the injected apex; onset and offset within 3 frames.
Behaviour checked: a held expression does not blind the spotter, a rigid head
movement, a slow movement and blinks are not spotted, frames without a face
are reported, memory does not grow with the length.
"""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_fixtures import (
    CLASS_AUS,
    action_field,
    blank_frames,
    face_frame,
    motion_frames,
    profile,
    write_video,
)

from microexpr.errors import ConfigError
from microexpr.inference.spotting import (
    PAIRS,
    REGIONS,
    Spotter,
    SpottingSettings,
    pair_motion,
    region_boxes,
    region_motion,
)
from microexpr.inference.video import open_source
from microexpr.preprocess.pipeline import PreprocessSettings
from microexpr.synthetic.action_units import BLINK, FaceFrame, anchor_points, displacement_field

VIDEO = os.environ.get("MICROEXPR_VIDEO")
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
    assert np.nanmax(spotter.trace.motion) < np.nanmax(spotter.trace.threshold)


def test_spotting_drops_a_movement_too_long_for_a_micro_expression(tmp_path):
    # 1.7 s from onset to offset at 30 fps: a macro-expression
    frames = motion_frames(n_frames=80, onset=10, apex=35, offset=60, amplitude=3.0)
    found, _ = _spot(write_video(tmp_path / "long.avi", frames))
    assert found == []


def _compose(base_frames, fields_and_weights):
    """Warp each frame by the sum of weighted displacement fields (backward warp)."""
    h, w = base_frames[0].shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = []
    for t, frame in enumerate(base_frames):
        d = sum(np.float32(wts[t]) * f for f, wts in fields_and_weights)
        if not np.any(d):
            out.append(frame)
            continue
        out.append(
            cv2.remap(
                frame,
                gx - d[..., 0],
                gy - d[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    return out


def test_spotting_is_not_blind_after_a_held_expression(tmp_path):
    # a smile that comes in 0.3 s and stays (never back to the old neutral),
    # then a brow lowerer micro-expression 1 s later: only the latter is spotted
    base = motion_frames(n_frames=90, amplitude=0.0)
    _, landmarks = face_frame()
    smile = action_field(landmarks, CLASS_AUS["positive"], 3.0, base[0].shape[:2])
    brows = action_field(landmarks, CLASS_AUS["negative"], 2.0, base[0].shape[:2])
    held = np.clip((np.arange(90) - 20) / 9.0, 0, 1)
    frames = _compose(base, [(smile, held), (brows, profile(90, 55, 60, 66))])
    found, spotter = _spot(write_video(tmp_path / "held.avi", frames))
    assert [abs(c.apex - 60) <= APEX_TOLERANCE for c in found] == [True]
    assert found[0].region.startswith(("brow", "glabella", "nose"))


def test_spotting_ignores_a_rigid_head_movement(tmp_path):
    # the whole face slides 4 px right and 2 px down in 0.2 s and back
    base = motion_frames(n_frames=60, amplitude=0.0)
    h, w = base[0].shape[:2]
    shift = profile(60, 24, 30, 36)
    frames = [
        cv2.warpAffine(
            f, np.float32([[1, 0, 4 * a], [0, 1, 2 * a]]), (w, h), borderMode=cv2.BORDER_REPLICATE
        )
        for f, a in zip(base, shift, strict=True)
    ]
    found, _ = _spot(write_video(tmp_path / "shift.avi", frames))
    assert found == []


def test_spotting_masks_blinks(tmp_path):
    # three blinks (upper lids down 5 px of the aligned face and up in 0.2 s)
    base = motion_frames(n_frames=90, amplitude=0.0)
    _, landmarks = face_frame()
    face = FaceFrame.from_landmarks(landmarks)
    field = displacement_field(base[0].shape[:2], *anchor_points(face, BLINK))
    field *= np.float32(5.0 * face.interocular / (0.36 * 128) / np.abs(field).max())
    weights = sum(profile(90, a, a + 3, a + 6) for a in (25, 50, 75))
    frames = _compose(base, [(field, weights)])
    found, spotter = _spot(write_video(tmp_path / "blink.avi", frames))
    assert found == []
    assert spotter.masked_frames["blink"] >= 10


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


def test_region_motion_removes_the_head_motion():
    size = 64
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    # rotation by 0.02 rad about the centre, a 1.5 px shift and a 1 % zoom
    flow = np.stack(
        [-0.02 * (y - 32) + 0.01 * (x - 32) + 1.5, 0.02 * (x - 32) + 0.01 * (y - 32)], axis=-1
    ).astype(np.float32)
    boxes = np.array([[8, 8, 16, 16], [40, 40, 52, 52]])
    mask = np.ones((size, size), bool)
    vectors, global_motion = region_motion(flow, boxes, mask)
    assert np.abs(vectors).max() < 1e-4
    assert global_motion == pytest.approx(1.5, abs=0.4)
    flow[40:52, 40:52, 1] += 0.8  # one region moves down
    vectors, _ = region_motion(flow, boxes, mask)
    assert vectors[1] == pytest.approx([0.0, 0.8], abs=0.05)
    assert np.abs(vectors[0]).max() < 0.05


def test_pair_motion_adds_mirrored_sides_and_cancels_opposed_ones():
    names = [r.name for r in REGIONS]
    vectors = np.zeros((len(REGIONS), 2))
    # both inner brows up 1 px and out 0.5 px (left is image-left: out is -x)
    vectors[names.index("brow_inner_left")] = (-0.5, -1.0)
    vectors[names.index("brow_inner_right")] = (0.5, -1.0)
    # one mouth corner up, the other down: no common movement
    vectors[names.index("mouth_left")] = (0.0, -1.0)
    vectors[names.index("mouth_right")] = (0.0, 1.0)
    pairs = pair_motion(vectors)
    pair_names = [p[0] for p in PAIRS]
    assert pairs.shape == (len(PAIRS), 2)
    assert pairs[pair_names.index("brow_inner_both")] == pytest.approx([0.5, -1.0])
    assert pairs[pair_names.index("mouth_both")] == pytest.approx([0.0, 0.0])
    assert pairs[pair_names.index("cheek_both")] == pytest.approx([0.0, 0.0])


def test_spotting_does_not_claim_a_movement_the_video_cuts(tmp_path):
    # the movement starts at 24 and would end at 35; the video stops at 31,
    # before the face comes back: an issue naming the frames, no candidate
    found, spotter = _spot(write_video(tmp_path / "cut.avi", motion_frames(n_frames=32)))
    assert found == []
    (issue,) = spotter.issues
    assert issue.first <= 26 <= issue.last and "face segment ends" in issue.problem


def test_region_boxes_follow_the_landmarks():
    _, landmarks = face_frame()
    boxes = region_boxes(landmarks, 320)
    names = [r.name for r in REGIONS]
    left_corner = boxes[names.index("mouth_left")]
    assert left_corner[0] < landmarks[48, 0] < left_corner[2]
    assert left_corner[1] < landmarks[48, 1] < left_corner[3]
    brow = boxes[names.index("brow_inner_left")]
    assert brow[3] < boxes[names.index("cheek_left")][1]  # brows above cheeks


def test_spotting_settings_are_validated():
    with pytest.raises(ConfigError, match="spotting.flow_window == 0"):
        SpottingSettings(flow_window=0)
    with pytest.raises(ConfigError, match="spotting.edge_fraction"):
        SpottingSettings(edge_fraction=1.5)
    with pytest.raises(ConfigError, match=r"spotting.interval_s == 0, must be > 0"):
        SpottingSettings(interval_s=0)


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
        # a 2-s noise history: full after 60 frames, so only the trace grows
        spotter = Spotter(PreprocessSettings(), 30.0, SpottingSettings(history_s=2.0))
        tracemalloc.start()
        for i in range(n):
            spotter.update(Frame(i, i / 30, frames[i % 5]))
        used[n] = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # 300 more frames of 77 kB each: only the 32-byte-a-frame trace may grow
    assert used[400][0] - used[100][0] < 64 * 1024
    assert used[400][1] < 4 * 2**20


@pytest.mark.skipif(not VIDEO, reason="MICROEXPR_VIDEO is not set")
def test_spotting_on_a_real_talking_face():
    found, spotter = _spot(Path(VIDEO) / "single_face.mp4")
    assert len(spotter.trace.frames) == 72 and spotter.frames_with_face == 72
    # a movement still going on at the end is not claimed (an issue says so)
    assert all(c.offset is not None and c.onset <= c.apex <= c.offset for c in found)
    # a talking face: speech and blinks are masked on part of the frames
    assert spotter.masked_frames["speech"] > 0


@pytest.mark.parametrize("register", [True, False])
def test_spotting_measures_a_movement_made_while_the_head_drifts(tmp_path, register):
    # the micro-expression of micro_video while the whole face drifts 0.3 px a
    # frame to the right (a steady head movement, about 2.5 px of the aligned
    # face per compared interval): found, and measured about as on a still face
    settings = SpottingSettings(register_head=register)
    still = motion_frames()
    h, w = still[0].shape[:2]
    drift = [
        cv2.warpAffine(
            f, np.float32([[1, 0, 0.3 * t], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE
        )
        for t, f in enumerate(still)
    ]
    (on_still,), _ = _spot(write_video(tmp_path / "still.avi", still), settings)
    found, _ = _spot(write_video(tmp_path / "drift.avi", drift), settings)
    assert [abs(c.apex - 29) <= APEX_TOLERANCE for c in found] == [True]
    assert found[0].peak_motion == pytest.approx(on_still.peak_motion, rel=0.25)
