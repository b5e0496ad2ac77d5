import cv2
import numpy as np
import pytest
import torch
import typer
import yaml
from skimage import data
from typer.testing import CliRunner

from microexpr.cli.predict import predict, train
from microexpr.synthetic import SyntheticSettings, generate_synthetic_dataset

app = typer.Typer()
app.command()(train)
app.command()(predict)
runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    settings = SyntheticSettings(n_subjects=2, clips_per_subject=3, n_frames=10, image_size=160)
    generate_synthetic_dataset(root / "data", settings, progress=False)
    config = {
        "data": {"dataset": "synthetic", "root": str(root / "data")},
        "preprocess": {"size": 64},
        "model": {"name": "atscnn", "options": {"head": [8], "input_size": 64}},
        "training": {"epochs": 5, "batch_size": 4, "lr": 1.0e-3},
        "cache_dir": str(root / "cache"),
    }
    (root / "exp.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(root / "exp.yaml"),
            "--out",
            str(root / "model"),
            "--epochs",
            "2",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trained atscnn on 6 clips" in result.output and "2 epochs" in result.output
    return root / "model"


def _still_video(path, n_frames=20):
    face = cv2.resize(data.astronaut()[0:300, 100:400, ::-1], (240, 240))
    frame = np.full((240, 320, 3), 40, np.uint8)
    frame[:, 40:280] = face
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for _ in range(n_frames):
        writer.write(frame)
    writer.release()
    return path


def test_cli_train_writes_a_self_describing_model(model_dir):
    assert (model_dir / "checkpoint.pt").is_file() and (model_dir / "model.json").is_file()


def test_cli_predict_prints_one_summary_line(model_dir, tmp_path):
    video = _still_video(tmp_path / "still.avi")
    result = runner.invoke(
        app, ["predict", str(video), "--model", str(model_dir), "--out", str(tmp_path / "o"), "-q"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("still.avi: 20 frames, 0 candidates")
    assert (tmp_path / "o" / "result.json").is_file() and (tmp_path / "o" / "motion.png").is_file()


def test_cli_predict_given_onset_and_apex(model_dir, tmp_path):
    video = _still_video(tmp_path / "still.avi")
    result = runner.invoke(
        app,
        [
            "predict",
            str(video),
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path / "o"),
            "--onset",
            "3",
            "--apex",
            "8",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 candidate: #1 " in result.output and "apex frame 8" in result.output


def test_cli_predict_not_a_video_exit_2_one_line(model_dir, tmp_path):
    bad = tmp_path / "film.mp4"
    bad.write_text("not a video")
    result = runner.invoke(
        app, ["predict", str(bad), "--model", str(model_dir), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "film.mp4' is not a readable video" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_predict_checkpoint_of_another_version_exit_2(model_dir, tmp_path):
    raw = torch.load(model_dir / "checkpoint.pt", weights_only=True)
    raw["microexpr_version"] = "3.1.0"
    torch.save(raw, tmp_path / "checkpoint.pt")
    video = _still_video(tmp_path / "still.avi", 3)
    result = runner.invoke(
        app, ["predict", str(video), "--model", str(tmp_path), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "written by microexpr 3.1.0" in result.output and "Traceback" not in result.output


def test_cli_predict_missing_model_exit_2(tmp_path):
    video = _still_video(tmp_path / "still.avi", 3)
    result = runner.invoke(app, ["predict", str(video), "--model", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no model at" in result.output


def test_cli_train_missing_config_exit_2(tmp_path):
    result = runner.invoke(app, ["train", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
