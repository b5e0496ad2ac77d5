"""report.html (opened in headless Chromium), face tracking, real-video notes."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from microexpr.inference import predict
from microexpr.inference.video import open_source
from microexpr.preprocess.face import FaceTracker, LandmarkDetector

VIDEO = os.environ.get("MICROEXPR_VIDEO")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_html_is_self_contained(micro_video, trained_model, tmp_path):
    result = predict(micro_video, trained_model, tmp_path / "out", progress=False)
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1 + len(result.candidates)
    assert 'src="http' not in page and "<script" not in page
    assert f"<td>{result.candidates[0].apex} (" in page
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["face"]["detections"] >= 1 and saved["face"]["tracked_frames"] >= 50


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_html_renders_in_headless_chromium(micro_video, trained_model, tmp_path):
    predict(micro_video, trained_model, tmp_path / "out", progress=False)
    page = (tmp_path / "out" / "report.html").resolve()
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (1400, 1000)
    # the figures are drawn: many dark pixels, far from a blank page
    assert image.std() > 20 and (image.mean(axis=2) < 100).mean() > 0.005
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "Candidates" in dom and "positive" in dom


def test_tracker_follows_without_redetecting(tmp_path):
    from video_fixtures import blank_frames, motion_frames

    frames = motion_frames(n_frames=40)
    frames[20:25] = blank_frames(5)
    tracker = FaceTracker(LandmarkDetector())
    found = [tracker.track(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)) is not None for f in frames]
    assert found == [True] * 20 + [False] * 5 + [True] * 15
    # one detection at the start, one per lost frame, one when the face is back
    assert tracker.detections <= 1 + 5 + 1
    assert tracker.tracked >= 30


@pytest.mark.skipif(not VIDEO, reason="MICROEXPR_VIDEO is not set")
def test_variable_frame_rate_video_uses_timestamps():
    src = open_source(Path(VIDEO) / "face_noface.mov")
    times = [f.time_s for f in src]
    assert any("variable frame rate" in n for n in src.notes)
    assert np.all(np.diff(times) > 0)
