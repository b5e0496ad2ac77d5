"""predict() end to end, with a model trained on the tiny synthetic set.

Spotting tolerance: apex within 2 frames of the injected one (as in
test_spotting.py).
"""

import json

import cv2
import pytest
import torch
from video_fixtures import CLASS_AUS, blank_frames, motion_frames, write_video

from microexpr.errors import FaceNotFoundError, WeightsError
from microexpr.inference import InputError, predict

APEX_TOLERANCE = 2


def test_predict_video_writes_results(micro_video, trained_model, tmp_path):
    result = predict(micro_video, trained_model, tmp_path / "out", progress=False)
    assert [abs(c.apex - 29) <= APEX_TOLERANCE for c in result.candidates] == [True]
    c = result.candidates[0]
    assert c.label == "positive"
    assert sum(c.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.complete and result.issues == []
    assert result.frames_read == 60 and result.frames_with_face == 60
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["candidates"][0]["onset"] == c.onset
    assert saved["candidates"][0]["apex_time"] == pytest.approx(c.apex / 30, abs=1e-3)
    assert saved["complete"] is True and saved["spotted"] is True
    for name in ("candidate_01.png", "motion.png"):
        assert cv2.imread(str(tmp_path / "out" / name)) is not None
    line = result.summary()
    assert "1 candidate: #1 positive" in line and "\n" not in line


@pytest.mark.parametrize("name", ["negative", "surprise"])
def test_predict_class_of_a_strong_injected_motion(name, trained_model, tmp_path):
    frames = motion_frames(aus=CLASS_AUS[name], amplitude=2.0)
    result = predict(
        write_video(tmp_path / f"{name}.avi", frames), trained_model, tmp_path, progress=False
    )
    assert [c.label for c in result.candidates] == [name]


def test_predict_given_onset_and_apex(micro_video, trained_model, tmp_path):
    result = predict(micro_video, trained_model, tmp_path, onset=24, apex=29, progress=False)
    assert [(c.onset, c.apex, c.offset, c.label) for c in result.candidates] == [
        (24, 29, None, "positive")
    ]
    assert not result.spotted and not (tmp_path / "motion.png").exists()


def test_predict_image_pair(trained_model, tmp_path):
    frames = motion_frames()
    cv2.imwrite(str(tmp_path / "onset.png"), frames[24])
    cv2.imwrite(str(tmp_path / "apex.png"), frames[29])
    result = predict(
        [tmp_path / "onset.png", tmp_path / "apex.png"],
        trained_model,
        tmp_path / "out",
        progress=False,
    )
    assert [c.label for c in result.candidates] == ["positive"]


def test_predict_given_apex_past_the_end(micro_video, trained_model, tmp_path):
    with pytest.raises(InputError, match="apex frame 500 of .* could not be read"):
        predict(micro_video, trained_model, tmp_path, onset=2, apex=500, progress=False)


def test_predict_onset_without_apex(micro_video, trained_model, tmp_path):
    with pytest.raises(InputError, match="give both --onset and --apex"):
        predict(micro_video, trained_model, tmp_path, onset=2, progress=False)


def test_predict_not_a_video(trained_model, tmp_path):
    path = tmp_path / "clip.mov"
    path.write_text("plain text")
    with pytest.raises(InputError, match="clip.mov' is not a readable video"):
        predict(path, trained_model, tmp_path / "out", progress=False)


def test_predict_video_without_a_face(trained_model, tmp_path):
    path = write_video(tmp_path / "wall.avi", blank_frames(15))
    with pytest.raises(FaceNotFoundError, match=r"no face found in any frame .*frames 0-14"):
        predict(path, trained_model, tmp_path / "out", progress=False)
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["complete"] is False and saved["issues"] == ["frames 0-14 (0.00 s): no face found"]


def test_predict_face_only_part_of_the_time(trained_model, tmp_path):
    frames = motion_frames(n_frames=75, onset=55, apex=60, offset=66)
    frames[35:45] = blank_frames(10)
    result = predict(
        write_video(tmp_path / "gap.avi", frames), trained_model, tmp_path, progress=False
    )
    assert not result.complete
    assert result.issues == ["frames 35-44 (1.17 s): no face found"]
    assert [abs(c.apex - 60) <= APEX_TOLERANCE for c in result.candidates] == [True]
    assert "PARTIAL" in result.summary() and "frames 35-44" in result.summary()


def test_predict_corrupt_frame_in_the_middle(trained_model, tmp_path):
    path = write_video(tmp_path / "c.avi", motion_frames())
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    data[starts[10] : starts[10] + 400] = bytes(400)
    path.write_bytes(bytes(data))
    result = predict(path, trained_model, tmp_path / "out", progress=False)
    assert not result.complete
    assert result.issues[0].startswith("frame 10 (0.33 s): undecodable")
    # the micro-expression after the bad frame is still found (numbering may shift by 1)
    assert [abs(c.apex - 29) <= APEX_TOLERANCE + 1 for c in result.candidates] == [True]
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["complete"] is False and saved["issues"] == result.issues


def test_predict_checkpoint_from_another_version(micro_video, trained_model, tmp_path):
    raw = torch.load(trained_model / "checkpoint.pt", weights_only=True)
    raw["microexpr_version"] = "9.0.0"
    (tmp_path / "old").mkdir()
    torch.save(raw, tmp_path / "old" / "checkpoint.pt")
    with pytest.raises(WeightsError, match="written by microexpr 9.0.0"):
        predict(micro_video, tmp_path / "old", tmp_path / "out", progress=False)


def test_trained_model_folder_describes_itself(trained_model):
    described = json.loads((trained_model / "model.json").read_text())
    assert described["model_name"] == "atscnn"
    assert described["class_names"] == ["negative", "positive", "surprise"]
    assert described["extra"]["n_clips"] == 36
    assert len(described["extra"]["losses"]) == 15
    assert (trained_model / "training_curve.png").is_file()


def test_predict_folder_of_frames(trained_model, tmp_path):
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for i, frame in enumerate(motion_frames()):
        cv2.imwrite(str(frames_dir / f"img{i + 1}.png"), frame)
    result = predict(frames_dir, trained_model, tmp_path / "out", fps=30, progress=False)
    assert result.input_kind == "frames" and result.frames_read == 60
    assert [(abs(c.apex - 29) <= APEX_TOLERANCE, c.label) for c in result.candidates] == [
        (True, "positive")
    ]
