"""Session fixtures of the inference tests: a test video and a trained model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from video_fixtures import motion_frames, small_config, write_video

from microexpr.experiment import train_final_model
from microexpr.synthetic import SyntheticSettings, generate_synthetic_dataset


@pytest.fixture(scope="session")
def micro_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 frames at 30 fps, 320x240, positive (AU6+12) micro-expression: onset 24, apex 29."""
    path = tmp_path_factory.mktemp("videos") / "micro.avi"
    return write_video(path, motion_frames())


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic set: 3 subjects x 12 clips, balanced classes, strong motions."""
    root = tmp_path_factory.mktemp("synthetic")
    settings = SyntheticSettings(
        n_subjects=3,
        clips_per_subject=12,
        n_frames=12,
        image_size=192,
        class_weights=(1.0, 1.0, 1.0),
        amplitude_px=(1.0, 2.0),
    )
    generate_synthetic_dataset(root, settings, progress=False)
    return root


@pytest.fixture(scope="session")
def trained_model(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model folder trained by ``train_final_model`` on the tiny synthetic set."""
    out = tmp_path_factory.mktemp("model")
    config = small_config(synthetic_root, out.parent / "feature-cache")
    # one thread: on a busy 2-core machine OpenMP's waits make 2 threads many times slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_final_model(config, out, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out
