"""Face tracking while the face is lost: full detection every few frames, quick HOG between."""

import cv2
from video_fixtures import blank_frames, motion_frames

from microexpr.preprocess.face import FaceTracker, LandmarkDetector


def _gray(frames):
    return [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]


def test_tracker_lost_runs_full_detection_one_frame_in_redetect_every():
    tracker = FaceTracker(LandmarkDetector(cnn_fallback=False), redetect_every=4)
    found = [tracker.track(f) for f in _gray(blank_frames(10, width=160, height=120))]
    assert found == [None] * 10
    # frames 0, 4 and 8 get the full cascade, the 7 others the quick HOG pass
    assert tracker.detections == 3 and tracker.quick_detections == 7


def test_tracker_face_back_is_found_on_its_first_frame_by_the_quick_pass():
    frames = _gray(motion_frames(n_frames=12))
    frames[3:7] = _gray(blank_frames(4))
    tracker = FaceTracker(LandmarkDetector(cnn_fallback=False), redetect_every=8)
    found = [tracker.track(f) is not None for f in frames]
    assert found == [True] * 3 + [False] * 4 + [True] * 5
    # frame 3: the tracked face fails its check, full detection; 4-7: quick passes
    assert tracker.detections == 2 and tracker.quick_detections == 4
    assert tracker.methods == {"hog": 2}


def test_tracker_redetect_every_one_detects_fully_on_each_lost_frame():
    tracker = FaceTracker(LandmarkDetector(cnn_fallback=False), redetect_every=1)
    for f in _gray(blank_frames(5, width=160, height=120)):
        tracker.track(f)
    assert tracker.detections == 5 and tracker.quick_detections == 0


def test_tracker_cnn_fallback_backs_off_while_it_finds_nothing():
    detector = LandmarkDetector()
    calls = []
    frame_number = [0]

    def fake_cnn(gray):
        calls.append(frame_number[0])
        return []

    detector._cnn = fake_cnn
    tracker = FaceTracker(detector, cnn_every=2, redetect_every=1)
    for i, f in enumerate(_gray(blank_frames(30, width=96, height=72))):
        frame_number[0] = i
        tracker.track(f)
    # the wait doubles after each fruitless run: 2 (first at once), 4, 8, 16 (the cap, 8 x 2)
    assert calls == [0, 4, 12, 28]
