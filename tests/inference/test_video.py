from pathlib import Path

import cv2
import numpy as np
import pytest
from video_fixtures import write_video

from microexpr.inference.video import (
    FolderSource,
    FrameIssue,
    ImagePairSource,
    InputError,
    VideoSource,
    open_source,
)


def _levels(n: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    # frame i is a uniform grey of level 8 * i, so a frame's number can be read back
    return [np.full((height, width, 3), 8 * i, np.uint8) for i in range(n)]


def _corrupt_frame(path: Path, index: int) -> None:
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    data[starts[index] : starts[index] + 400] = bytes(400)
    path.write_bytes(bytes(data))


def test_video_source_reads_every_frame_avi(tmp_path):
    src = open_source(write_video(tmp_path / "a.avi", _levels(12), fps=25))
    frames = list(src)
    assert isinstance(src, VideoSource)
    assert [f.index for f in frames] == list(range(12))
    assert src.fps == pytest.approx(25)
    assert frames[3].time_s == pytest.approx(3 / 25)
    assert frames[5].image.shape == (48, 64) and frames[5].image.dtype == np.uint8
    assert abs(float(frames[5].image.mean()) - 40) < 3
    assert src.issues == []


def test_video_source_reads_mp4(tmp_path):
    frames = list(open_source(write_video(tmp_path / "a.mp4", _levels(8))))
    assert len(frames) == 8


def test_video_source_not_a_video_raises(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video")
    with pytest.raises(InputError, match="not a readable video"):
        list(open_source(path))


def test_video_source_missing_file_raises(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_source(tmp_path / "none.avi")


def test_video_source_corrupt_frame_is_skipped_and_reported(tmp_path):
    path = write_video(tmp_path / "c.avi", _levels(24))
    _corrupt_frame(path, 10)
    src = open_source(path)
    frames = list(src)
    indices = [f.index for f in frames]
    assert indices[:10] == list(range(10))
    assert 10 not in indices and indices[10] == 11
    assert src.issues[0] == FrameIssue(10, 10, "undecodable (corrupt data), skipped")
    assert src.issues[0].describe(30.0).startswith("frame 10 (0.33 s)")
    # OpenCV's reader drops the next frame silently here; the shortfall is reported
    if len(frames) < 23:
        assert "frame numbers after 10 can be up to" in src.issues[-1].problem


def test_folder_source_natural_order_and_unreadable_file(tmp_path):
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((20, 30), 10 * i, np.uint8))
    (tmp_path / "img3.png").write_bytes(b"garbage")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path, fps=200)
    frames = list(src)
    assert isinstance(src, FolderSource)
    assert [f.name for f in frames] == ["img1.png", "img2.png", "img10.png"]
    assert [f.index for f in frames] == [0, 1, 3]
    assert frames[2].time_s == pytest.approx(3 / 200)
    assert src.issues == [FrameIssue(2, 2, "file img3.png is not a readable image")]


def test_folder_source_without_images_raises(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="holds no image files"):
        open_source(tmp_path)


def test_single_image_is_refused(tmp_path):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="single image"):
        open_source(path)


def test_image_pair_yields_onset_and_apex(tmp_path):
    for name in ("on.png", "ap.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8), np.uint8))
    src = open_source([tmp_path / "on.png", tmp_path / "ap.png"])
    assert isinstance(src, ImagePairSource)
    assert [f.name for f in src] == ["on.png", "ap.png"]


def test_image_pair_of_different_sizes_raises(tmp_path):
    cv2.imwrite(str(tmp_path / "on.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(tmp_path / "ap.png"), np.zeros((9, 8), np.uint8))
    with pytest.raises(InputError, match="differ in size"):
        list(open_source([tmp_path / "on.png", tmp_path / "ap.png"]))


def test_three_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="got 3 inputs"):
        open_source([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"])
