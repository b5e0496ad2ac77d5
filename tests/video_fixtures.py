"""Videos (and a model) the inference tests make themselves.

A real face photo (scikit-image's astronaut, Eileen Collins, public domain)
is placed in each frame; between ``onset`` and ``offset`` a facial action
(the synthetic generator's action-unit fields) is injected with a raised-
cosine time profile that peaks at ``apex``, plus a little sensor noise, and
the frames are written with OpenCV's VideoWriter.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from microexpr.config import ExperimentConfig
from microexpr.preprocess.face import LandmarkDetector
from microexpr.synthetic.action_units import (
    ACTION_UNITS,
    FaceFrame,
    anchor_points,
    displacement_field,
)

#: Action units injected for each class (as the synthetic generator uses them).
CLASS_AUS: dict[str, tuple[int, ...]] = {
    "negative": (4, 9),
    "positive": (6, 12),
    "surprise": (1, 2, 5),
}


@lru_cache(maxsize=4)
def face_frame(width: int = 320, height: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """A BGR frame with the astronaut's face (about 90 px) and its landmarks (68, 2)."""
    photo = data.astronaut()[0:300, 100:400, ::-1]  # head and shoulders, BGR
    side = height
    face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 40, np.uint8)
    x0 = (width - side) // 2
    frame[:, x0 : x0 + side] = face
    landmarks = LandmarkDetector().landmarks(frame)
    return frame, landmarks


def action_field(
    landmarks: np.ndarray, aus: Sequence[int], amplitude: float, shape: tuple[int, int]
) -> np.ndarray:
    """Displacement (H, W, 2) of ``aus`` peaking at ``amplitude`` px of the 128-px aligned face."""
    face = FaceFrame.from_landmarks(landmarks)
    bumps = [b for au in aus for b in ACTION_UNITS[au]]
    centres, vectors, sigmas = anchor_points(face, bumps)
    field = displacement_field(shape, centres, vectors, sigmas)
    peak = float(np.sqrt((field.astype(np.float64) ** 2).sum(-1)).max())
    to_px = face.interocular / (0.40 * 128)
    return field * np.float32(amplitude * to_px / peak)


def profile(n_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Raised cosine: 0 up to onset, 1 at apex, 0 again at offset."""
    t = np.arange(n_frames, dtype=np.float64)
    p = np.zeros(n_frames)
    rise = (t > onset) & (t <= apex)
    p[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset) / (apex - onset))
    fall = (t > apex) & (t < offset)
    p[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex) / (offset - apex))
    return p


def motion_frames(
    *,
    n_frames: int = 60,
    onset: int = 24,
    apex: int = 29,
    offset: int = 35,
    aus: Sequence[int] = CLASS_AUS["positive"],
    amplitude: float = 2.0,
    width: int = 320,
    height: int = 240,
    noise: float = 1.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """BGR frames of the face with one injected micro-expression."""
    base, landmarks = face_frame(width, height)
    field = action_field(landmarks, aus, amplitude, (height, width))
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    rng = np.random.default_rng(seed)
    frames = []
    for weight in profile(n_frames, onset, apex, offset):
        if weight > 0:
            # backward warp: the content at x moves to x + d
            warped = cv2.remap(
                base,
                gx - np.float32(weight) * field[..., 0],
                gy - np.float32(weight) * field[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        else:
            warped = base
        noisy = warped.astype(np.float32) + rng.normal(0, noise, warped.shape).astype(np.float32)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float = 30.0) -> Path:
    """Write BGR ``frames`` with VideoWriter (MJPG in .avi, mp4v in .mp4)."""
    fourcc = "mp4v" if path.suffix == ".mp4" else "MJPG"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"VideoWriter cannot write {path} with {fourcc}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def blank_frames(
    n_frames: int, width: int = 320, height: int = 240, seed: int = 1
) -> list[np.ndarray]:
    """Frames without a face (a noisy grey wall)."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(rng.normal(90, 2.0, (height, width, 3)), 0, 255).astype(np.uint8)
        for _ in range(n_frames)
    ]


#: Reduced settings so that the session's model trains in seconds on 2 cores:
#: 64-px faces, a 64-unit head, 15 epochs.
TEST_MODEL = {
    "preprocess": {"size": 64},
    "model": {"name": "atscnn", "options": {"head": [64], "input_size": 64}},
    "training": {"epochs": 15, "batch_size": 12, "lr": 1.0e-3},
}


def small_config(data_root: Path, cache_dir: Path, **overrides: object) -> ExperimentConfig:
    """Experiment config of the session's model on a synthetic set."""
    raw = {
        "name": "predict-test",
        "data": {"dataset": "synthetic", "root": str(data_root)},
        "cache_dir": str(cache_dir),
        **TEST_MODEL,
        **overrides,
    }
    return ExperimentConfig.from_dict(raw, source="test")
