"""Tests of the synthetic micro-expression dataset (tiny settings, a few seconds)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from microexpr.data import CLASS_NAMES, read_annotation_csv
from microexpr.errors import ConfigError, DatasetNotFoundError
from microexpr.preprocess.alignment import AlignmentSettings, estimate_alignment, transform_points
from microexpr.preprocess.face import LandmarkDetector
from microexpr.synthetic import (
    SyntheticSettings,
    generate_synthetic_dataset,
    load_ground_truth_landmarks,
)
from microexpr.synthetic.action_units import ACTION_UNITS, FaceFrame, anchor_points
from microexpr.synthetic.faces import MIRROR_PERMUTATION
from microexpr.synthetic.generator import _plan_clips

TINY = SyntheticSettings(n_subjects=2, clips_per_subject=3, n_frames=14, image_size=192, seed=3)
ALIGNED_INTEROCULAR = 0.40 * 128


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "tiny"
    generate_synthetic_dataset(root, TINY, progress=False)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _clip_info(root: Path) -> dict[str, dict[str, object]]:
    return json.loads((root / "synthetic.json").read_text())["clips"]


def test_generate_layout_and_csv(tiny_root: Path) -> None:
    table = pd.read_csv(tiny_root / "annotations.csv")
    assert list(table.columns) == [
        "dataset", "subject", "clip", "onset", "apex", "offset", "emotion", "label",
    ]  # fmt: skip
    assert len(table) == TINY.n_subjects * TINY.clips_per_subject
    assert set(table["dataset"]) == {"synthetic"}
    assert set(table["subject"]) == {"s01", "s02"}
    assert (table["onset"] >= 2).all()  # a neutral lead-in before the onset
    assert (table["onset"] < table["apex"]).all()
    assert (table["apex"] < table["offset"]).all()
    assert (table["offset"] <= TINY.n_frames).all()
    records, issues = read_annotation_csv(tiny_root / "annotations.csv")
    assert issues == []
    assert len(records) == len(table)
    for record in records:
        assert sorted(record.frames) == list(range(1, TINY.n_frames + 1))
        assert record.frames[1].name == "img1.png"
        landmarks = load_ground_truth_landmarks(tiny_root, record.subject, record.clip)
        assert landmarks.shape == (TINY.n_frames, 68, 2)
    assert not (tiny_root / ".synthetic-incomplete").exists()
    subjects = json.loads((tiny_root / "synthetic.json").read_text())["subjects"]
    assert [subjects[s]["source"] for s in ("s01", "s02")] == ["astronaut", "grace_hopper"]


def test_generate_emotions_match_labels(tiny_root: Path) -> None:
    records, _ = read_annotation_csv(tiny_root / "annotations.csv")
    for record in records:
        if record.class_name == "positive":
            assert record.emotion == "happiness"
        elif record.class_name == "surprise":
            assert record.emotion == "surprise"
        else:
            assert record.emotion in {"disgust", "repression", "anger", "sadness", "fear"}


def test_plan_class_imbalance_default() -> None:
    plans = _plan_clips(SyntheticSettings())
    assert len(plans) == 96
    counts = {name: sum(p.label == name for p in plans) for name in CLASS_NAMES}
    assert counts == {"negative": 53, "positive": 24, "surprise": 19}
    per_subject = pd.Series([p.subject for p in plans]).value_counts()
    assert per_subject.min() >= 6 and per_subject.max() <= 10


def test_plan_every_class_present_when_tiny() -> None:
    plans = _plan_clips(SyntheticSettings(n_subjects=1, clips_per_subject=3))
    assert sorted(p.label for p in plans) == sorted(CLASS_NAMES)


def test_generate_deterministic(tiny_root: Path, tmp_path: Path) -> None:
    generate_synthetic_dataset(tmp_path / "again", TINY, progress=False)
    first, second = _files(tiny_root), _files(tmp_path / "again")
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first)


def test_generate_other_seed_differs(tiny_root: Path, tmp_path: Path) -> None:
    other = SyntheticSettings(
        n_subjects=1, clips_per_subject=1, n_frames=TINY.n_frames, image_size=192, seed=4
    )
    generate_synthetic_dataset(tmp_path / "other", other, progress=False)
    a = (tiny_root / "s01" / "s01_c01" / "img1.png").read_bytes()
    b = (tmp_path / "other" / "s01" / "s01_c01" / "img1.png").read_bytes()
    assert a != b


def test_detected_landmarks_close_to_ground_truth(tiny_root: Path) -> None:
    # the issue's "alignment error of detected landmarks against the generator's ground truth"
    detector = LandmarkDetector()
    records, _ = read_annotation_csv(tiny_root / "annotations.csv")
    frame_errors, aligned_errors = [], []
    for record in records:
        onset = cv2.imread(str(record.frame_path(record.onset)), cv2.IMREAD_GRAYSCALE)
        truth = load_ground_truth_landmarks(tiny_root, record.subject, record.clip)[
            record.onset - 1
        ]
        found = detector.landmarks(onset)
        frame_errors.append(np.linalg.norm(found - truth, axis=1).mean())
        matrix = estimate_alignment(found, AlignmentSettings())
        aligned = transform_points(found, matrix) - transform_points(truth, matrix)
        aligned_errors.append(np.linalg.norm(aligned, axis=1).mean())
    # frame pixels (face about 115 px wide) and pixels of the 128-px aligned crop
    assert max(frame_errors) < 3.0, frame_errors
    assert max(aligned_errors) < 2.5, aligned_errors
    assert np.mean(aligned_errors) < 1.6, aligned_errors


def test_apex_displacement_within_amplitude(tiny_root: Path) -> None:
    records, _ = read_annotation_csv(tiny_root / "annotations.csv")
    info = _clip_info(tiny_root)
    low, high = TINY.amplitude_px
    for record in records:
        truth = load_ground_truth_landmarks(tiny_root, record.subject, record.clip)
        onset, apex = truth[record.onset - 1], truth[record.apex - 1]
        interocular = np.linalg.norm(onset[42:48].mean(axis=0) - onset[36:42].mean(axis=0))
        motion = (apex - onset) * ALIGNED_INTEROCULAR / interocular
        local = motion - np.median(motion, axis=0)  # head motion is global
        keep = np.ones(68, dtype=bool)
        if info[record.clip]["blink_frame"]:
            keep[36:48] = False  # a blink moves the lids more than the expression
        peak = float(np.linalg.norm(local[keep], axis=1).max())
        amplitude = float(info[record.clip]["amplitude_px"])
        assert low <= amplitude <= high
        assert 0.5 * amplitude <= peak <= 1.1 * amplitude + 0.05, (record.clip, peak, amplitude)
        # neutral lead-in: only head motion and blinks before the onset
        lead = (truth[record.onset - 1] - truth[0]) * ALIGNED_INTEROCULAR / interocular
        lead_local = lead - np.median(lead, axis=0)
        assert np.linalg.norm(lead_local[keep], axis=1).max() < 0.1


def test_generate_reuses_complete_dataset(tiny_root: Path) -> None:
    frame = tiny_root / "s01" / "s01_c01" / "img1.png"
    before = frame.stat().st_mtime_ns
    start = time.perf_counter()
    path = generate_synthetic_dataset(tiny_root, TINY, progress=False)
    assert time.perf_counter() - start < 1.0
    assert path == tiny_root / "annotations.csv"
    assert frame.stat().st_mtime_ns == before


def test_generate_redoes_interrupted_run(tmp_path: Path) -> None:
    settings = SyntheticSettings(n_subjects=1, clips_per_subject=1, n_frames=8, image_size=128)
    root = tmp_path / "killed"
    (root / "s01" / "s01_c07").mkdir(parents=True)
    (root / "s01" / "s01_c07" / "img1.png").write_bytes(b"half-written")
    (root / ".synthetic-incomplete").write_text("generation in progress\n")
    generate_synthetic_dataset(root, settings, progress=False)
    assert not (root / "s01" / "s01_c07").exists()
    assert not (root / ".synthetic-incomplete").exists()
    assert (root / "synthetic.json").is_file()
    records, issues = read_annotation_csv(root / "annotations.csv")
    assert len(records) == 1 and issues == []


def test_generate_replaces_dataset_of_other_settings(tmp_path: Path) -> None:
    root = tmp_path / "data"
    one = SyntheticSettings(n_subjects=2, clips_per_subject=1, n_frames=8, image_size=128)
    generate_synthetic_dataset(root, one, progress=False)
    two = SyntheticSettings(n_subjects=1, clips_per_subject=1, n_frames=8, image_size=128)
    generate_synthetic_dataset(root, two, progress=False)
    assert not (root / "s02").exists()
    assert json.loads((root / "synthetic.json").read_text())["settings"]["n_subjects"] == 1


def test_generate_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    settings = SyntheticSettings(n_subjects=1, clips_per_subject=1, n_frames=8, image_size=128)
    with pytest.raises(ConfigError, match="not empty and holds no synthetic dataset"):
        generate_synthetic_dataset(tmp_path, settings, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_subjects": 0}, r"n_subjects == 0, must be >= 1"),
        ({"clips_per_subject": 2.5}, r"clips_per_subject must be an integer >= 1, got 2.5"),
        ({"fps": 10}, r"fps == 10, must be >= 25"),
        ({"n_frames": 4}, r"n_frames == 4, must be >= 8"),
        ({"image_size": 64}, r"image_size == 64, must be >= 128"),
        ({"seed": -1}, r"seed == -1, must be >= 0"),
        ({"class_weights": (1.0, 1.0)}, r"class_weights must be 3 numbers"),
        ({"class_weights": (1.0, -1.0, 1.0)}, r"class_weights\[positive\] must be a number >= 0"),
        ({"class_weights": (0, 0, 0)}, r"class_weights must not all be 0"),
        ({"amplitude_px": (1.5, 0.3)}, r"amplitude_px == \(1.5, 0.3\), low must be <= high"),
        ({"amplitude_px": (0.0, 1.0)}, r"amplitude_px\[0\] == 0.0, must be > 0"),
        ({"amplitude_px": (0.3, 9.0)}, r"amplitude_px\[1\] == 9.0, must be <= 5.0"),
        ({"cross_class_rate": 1.5}, r"cross_class_rate must be a number in \[0, 1\], got 1.5"),
    ],
)
def test_settings_errors(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    settings = SyntheticSettings(**changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        generate_synthetic_dataset(tmp_path / "never", settings, progress=False)
    assert not (tmp_path / "never").exists()


def test_load_ground_truth_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="s01_c01.npy.*do not exist"):
        load_ground_truth_landmarks(tmp_path, "s01", "s01_c01")


def test_mirror_permutation_swaps_sides() -> None:
    perm = MIRROR_PERMUTATION
    assert (perm[perm] == np.arange(68)).all()
    assert perm[36] == 45 and perm[48] == 54 and perm[8] == 8 and perm[0] == 16


def test_action_units_move_the_right_way() -> None:
    # a frontal, upright toy face: eyes at y=100, mouth corners at y=160
    landmarks = np.zeros((68, 2))
    landmarks[:, 0] = 128.0
    landmarks[36:42] = (103.0, 100.0)
    landmarks[42:48] = (153.0, 100.0)
    landmarks[48], landmarks[54] = (108.0, 160.0), (148.0, 160.0)
    face = FaceFrame.from_landmarks(landmarks)
    assert np.allclose(face.up, (0.0, -1.0))
    centres, vectors, _ = anchor_points(face, ACTION_UNITS[12])
    # AU12: the image-left corner goes left and up, the image-right one right and up
    left, right = np.argmin(centres[:, 0]), np.argmax(centres[:, 0])
    assert vectors[left, 0] < 0 and vectors[right, 0] > 0
    assert (vectors[:, 1] < 0).all()
