"""The built-in synthetic micro-expression dataset.

The real micro-expression databases are licensed, so microexpr ships a
generator whose output is the default dataset of ``microexpr demo``. Clips
are rendered from four real face photographs that need no download (two
shipped in scikit-image and matplotlib, two video frames bundled with
microexpr, with attribution; see :mod:`microexpr.synthetic.faces`), so that
the real face detector and landmark model run on them. Each subject is one
photograph under a random identity transform (geometry, tone, texture,
mirroring); subjects cycle through the photographs (12 subjects: each face
three times).

What the set can show, and what it cannot:

- It is a wiring check of the whole method on real faces: dlib detection
  and landmarks, one alignment per clip, TV-L1 flow, strain, the models,
  LOSO, the scores and reports all run on it as on a real dataset, and a
  model that learns nothing stays at chance (about 0.33).
- The motion is synthetic: smooth displacement fields placed by the
  landmarks after facial action units, on a still photograph. Skin does not
  fold, wrinkle or change shading as in a real expression, and each class is
  drawn from a few action-unit patterns. A score on this set is therefore
  NOT a micro-expression recognition result, says nothing about accuracy on
  CASME II, SAMM or SMIC, and must not be compared with published figures.
- Four source faces are few: leave-one-subject-out folds share the face
  photograph of the held-out subject with two training subjects (through
  another identity transform), so the set measures little about
  generalisation across people.

Each clip, at a high frame rate (200 fps by default, as CASME II and SAMM),
has a neutral lead-in, an onset, a smooth rise to an apex and a return. The
motion is a small, local displacement (0.3 to 1.5 px at the 128-px aligned
face size by default), placed on the face by its landmarks and following
facial action units (see :mod:`microexpr.synthetic.action_units`):

- positive (happiness): AU12, mostly with AU6;
- surprise: AU1+AU2, sometimes with AU5 and/or AU26;
- negative: disgust (AU9, AU10, with or without AU4), repression (AU14,
  AU15), anger (AU4), sadness (AU4+AU15, AU1+AU4+AU15) and fear (AU1+AU4,
  AU1+AU2+AU4).

Half of the clips, of any class, also carry a weaker action unit unrelated
to the class (AU7, AU17 or AU24). Nuisances on every clip: slight head
motion (drift, oscillation, roll, jitter), sensor noise, illumination drift;
in about 30% of the clips a partial blink at any time. Classes are
imbalanced like the real composites (55/25/20% by default).

On disk, in the shape the real-dataset readers produce::

    root/annotations.csv            dataset,subject,clip,onset,apex,offset,emotion,label
    root/s01/s01_c01/img1.png ...   8-bit grayscale frames, numbered from 1
    root/landmarks/s01/s01_c01.npy  ground-truth landmarks (n_frames, 68, 2)
    root/synthetic.json             settings, version, each subject's source face,
                                    per-clip action units, amplitude and blink
                                    frame; written last

Frames are written in grayscale (as SAMM), which is what the pipeline uses;
colour balance varies per subject before the conversion. Generation is
deterministic: the same settings give byte-identical files, because every
subject and clip draws from its own generator seeded by
``(seed, subject, clip)``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from microexpr._io import atomic_write_json
from microexpr._validation import check_positive_float, check_positive_int
from microexpr.data.manifest import write_annotation_csv
from microexpr.data.records import CLASS_NAMES, ClipRecord
from microexpr.errors import ConfigError, DatasetNotFoundError
from microexpr.preprocess.alignment import AlignmentSettings
from microexpr.preprocess.face import LandmarkDetector
from microexpr.synthetic.action_units import (
    ACTION_UNITS,
    BLINK,
    Bump,
    FaceFrame,
    anchor_points,
    displacement_at,
    displacement_field,
)
from microexpr.synthetic.faces import SubjectFace, load_face_photos, make_subject

__all__ = [
    "GENERATOR_VERSION",
    "SyntheticSettings",
    "generate_synthetic_dataset",
    "load_ground_truth_landmarks",
]

#: Bumped whenever the same settings would render different files (3: four source faces).
GENERATOR_VERSION = 3

# inter-ocular distance of the 128-px aligned face (preprocess.alignment's default)
_ALIGNED_INTEROCULAR = AlignmentSettings().eye_distance * 128

_MANIFEST = "synthetic.json"
_INCOMPLETE = ".synthetic-incomplete"
_ANNOTATIONS = "annotations.csv"
_LANDMARKS = "landmarks"
_SUBJECT_FOLDER = re.compile(r"^s\d{2,}$")


@dataclass(frozen=True)
class SyntheticSettings:
    """What the synthetic dataset holds.

    Attributes
    ----------
    n_subjects : int
        Number of subjects (``s01``, ``s02``...).
    clips_per_subject : int
        Mean number of clips per subject; each subject has up to 2 more or
        fewer, and the total is ``n_subjects * clips_per_subject``.
    fps : int
        Frame rate; clip timings are drawn in milliseconds.
    n_frames : int
        Frames per clip: neutral lead-in, onset, rise to apex, return.
    image_size : int
        Side of the square grayscale frames; the face spans about 60% of it.
    class_weights : tuple of float
        Share of negative, positive and surprise clips (normalised).
    amplitude_px : tuple of float
        Range of the peak displacement at apex, in pixels of the 128-px
        aligned face (preprocess.alignment's geometry).
    cross_class_rate : float
        Share of clips that also show, more weakly, an action unit typical
        of another class (as real repression clips show AU12, say), so that
        classes overlap as in the real datasets; 0 makes them separable.
    seed : int
        Seed of every random choice.
    """

    n_subjects: int = 12
    clips_per_subject: int = 8
    fps: int = 200
    n_frames: int = 48
    image_size: int = 256
    class_weights: tuple[float, float, float] = (0.55, 0.25, 0.20)
    amplitude_px: tuple[float, float] = (0.3, 1.5)
    cross_class_rate: float = 0.35
    seed: int = 0

    def as_dict(self) -> dict[str, object]:
        """Return the settings as plain JSON types (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


def _check_settings(settings: SyntheticSettings) -> SyntheticSettings:
    if not isinstance(settings, SyntheticSettings):
        raise ConfigError(f"settings must be a SyntheticSettings, got {type(settings).__name__}")
    check_positive_int(settings.n_subjects, "n_subjects")
    check_positive_int(settings.clips_per_subject, "clips_per_subject")
    check_positive_int(settings.fps, "fps", minimum=25)
    check_positive_int(settings.n_frames, "n_frames", minimum=8)
    check_positive_int(settings.image_size, "image_size", minimum=128)
    check_positive_int(settings.seed, "seed", minimum=0)
    weights = settings.class_weights
    if not isinstance(weights, (tuple, list)) or len(weights) != len(CLASS_NAMES):
        raise ConfigError(
            f"class_weights must be {len(CLASS_NAMES)} numbers (for {', '.join(CLASS_NAMES)}), "
            f"got {weights!r}"
        )
    for name, weight in zip(CLASS_NAMES, weights, strict=True):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise ConfigError(f"class_weights[{name}] must be a number >= 0, got {weight!r}")
    if not sum(weights) > 0:
        raise ConfigError(f"class_weights must not all be 0, got {weights!r}")
    rate = settings.cross_class_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ConfigError(f"cross_class_rate must be a number in [0, 1], got {rate!r}")
    amplitude = settings.amplitude_px
    if not isinstance(amplitude, (tuple, list)) or len(amplitude) != 2:
        raise ConfigError(f"amplitude_px must be a pair (low, high), got {amplitude!r}")
    low = check_positive_float(amplitude[0], "amplitude_px[0]")
    high = check_positive_float(amplitude[1], "amplitude_px[1]")
    if low > high:
        raise ConfigError(f"amplitude_px == {tuple(amplitude)}, low must be <= high")
    if high > 5.0:
        raise ConfigError(
            f"amplitude_px[1] == {high}, must be <= 5.0 (micro-expressions are small motions)"
        )
    return settings


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class _ClipPlan:
    subject_index: int
    clip_index: int
    subject: str
    clip: str
    label: str
    emotion: str
    action_units: tuple[int, ...]
    onset: int
    apex: int
    offset: int
    borrowed: tuple[int, ...] = ()


# (emotion, probability, action-unit combinations) per class

_EMOTIONS: dict[str, tuple[tuple[str, float, tuple[tuple[int, ...], ...]], ...]] = {
    "positive": (("happiness", 1.0, ((6, 12), (6, 12), (12,))),),
    "surprise": (("surprise", 1.0, ((1, 2), (1, 2, 5), (1, 2, 26), (1, 2, 5, 26))),),
    "negative": (
        ("disgust", 0.40, ((9,), (10,), (9, 10), (4, 9), (4, 10), (4, 9, 10))),
        ("repression", 0.28, ((14,), (15,), (14, 15))),
        ("anger", 0.12, ((4,),)),
        ("sadness", 0.12, ((4, 15), (1, 4, 15))),
        ("fear", 0.08, ((1, 4), (1, 2, 4))),
    ),
}


# action units unrelated to the class, added to some clips of any class
_DISTRACTORS = (7, 17, 24)
# action units a clip may borrow from the other classes (cross_class_rate)
_BORROWED: dict[str, tuple[int, ...]] = {
    "positive": (4, 14, 1, 10),
    "surprise": (4, 12, 9),
    "negative": (12, 6, 1, 2),
}
_DISTRACTOR_RATE = 0.5


def _subject_names(n_subjects: int) -> list[str]:
    width = max(2, len(str(n_subjects)))
    return [f"s{i + 1:0{width}d}" for i in range(n_subjects)]


def _clip_counts(settings: SyntheticSettings) -> list[int]:
    # per-subject counts around the mean, summing to n_subjects * clips_per_subject
    rng = np.random.default_rng([settings.seed, 1])
    mean, n = settings.clips_per_subject, settings.n_subjects
    spread = min(2, mean - 1)
    counts = mean + rng.integers(-spread, spread + 1, size=n)
    while counts.sum() != mean * n:
        step = 1 if counts.sum() < mean * n else -1
        movable = np.flatnonzero(np.abs(counts + step - mean) <= spread)
        counts[rng.choice(movable)] += step
    return [int(c) for c in counts]


def _class_quota(weights: Sequence[float], total: int) -> list[int]:
    # largest remainder; every class with weight > 0 gets a clip when there are enough
    share = np.asarray(weights, dtype=np.float64) / float(sum(weights)) * total
    counts = np.floor(share).astype(int)
    for k in np.argsort(-(share - counts), kind="stable")[: total - counts.sum()]:
        counts[k] += 1
    for k in np.flatnonzero((counts == 0) & (share > 0)):
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[k] += 1
    return [int(c) for c in counts]


def _timeline(rng: np.random.Generator, n_frames: int, fps: int) -> tuple[int, int, int]:
    # micro-expression timings in ms (onset to apex about 30-75 ms, whole < 200 ms)
    def frames(low_ms: float, high_ms: float) -> int:
        return max(2, int(round(rng.uniform(low_ms, high_ms) * fps / 1000.0)))

    lead, rise, fall = frames(15, 50), frames(30, 75), frames(50, 150)
    onset = 1 + min(lead, max(1, n_frames // 5))
    rise = min(rise, max(1, n_frames - onset - max(1, n_frames // 6)))
    apex = onset + rise
    offset = min(n_frames, apex + fall)
    return onset, apex, offset


def _plan_clips(settings: SyntheticSettings) -> list[_ClipPlan]:
    subjects = _subject_names(settings.n_subjects)
    counts = _clip_counts(settings)
    total = sum(counts)
    quota = _class_quota(settings.class_weights, total)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), quota)
    labels = np.random.default_rng([settings.seed, 2]).permutation(labels)
    plans, k = [], 0
    for i, (subject, count) in enumerate(zip(subjects, counts, strict=True)):
        for j in range(count):
            rng = np.random.default_rng([settings.seed, 3, i, j])
            label = CLASS_NAMES[int(labels[k])]
            k += 1
            options = _EMOTIONS[label]
            choice = rng.choice(len(options), p=[o[1] for o in options])
            emotion, _, combinations = options[choice]
            action_units = tuple(combinations[rng.integers(len(combinations))])
            distractor = rng.integers(len(_DISTRACTORS))
            if rng.uniform() < _DISTRACTOR_RATE:
                action_units = (*action_units, _DISTRACTORS[distractor])
            onset, apex, offset = _timeline(rng, settings.n_frames, settings.fps)
            # drawn from its own stream so that the other draws do not depend on the rate
            cross = np.random.default_rng([settings.seed, 6, i, j])
            borrowed: tuple[int, ...] = ()
            if cross.uniform() < settings.cross_class_rate:
                pool = _BORROWED[label]
                borrowed = (pool[int(cross.integers(len(pool)))],)
                action_units = (*action_units, *borrowed)
            plans.append(
                _ClipPlan(
                    i, j, subject, f"{subject}_c{j + 1:02d}", label, emotion,
                    action_units, onset, apex, offset, borrowed,
                )
            )  # fmt: skip
    return plans


# --------------------------------------------------------------------------- rendering


@dataclass
class _Subject:
    face: SubjectFace
    frame: FaceFrame
    noise: float  # sensor noise, grey levels
    grid: tuple[np.ndarray, np.ndarray] = field(repr=False)


def _make_subject(index: int, settings: SyntheticSettings, detector: LandmarkDetector) -> _Subject:
    photos = load_face_photos()
    rng = np.random.default_rng([settings.seed, 4, index])
    # alternate photographs so that every one is used, mirror at random
    mirror = bool(rng.integers(2))
    noise = float(rng.uniform(1.5, 3.5))
    face = make_subject(
        photos[index % len(photos)], rng, size=settings.image_size, mirror=mirror,
        detector=detector, max_error=1.5,
    )  # fmt: skip
    size = settings.image_size
    grid = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return _Subject(face, FaceFrame.from_landmarks(face.landmarks), noise, grid)


def _profile(n_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    # frame numbers 1..n: 0 up to the onset, raised cosine up to 1 at apex, back to 0
    numbers = np.arange(1, n_frames + 1, dtype=np.float64)
    profile = np.zeros(n_frames)
    rising = (numbers > onset) & (numbers <= apex)
    profile[rising] = 0.5 - 0.5 * np.cos(np.pi * (numbers[rising] - onset) / (apex - onset))
    if offset > apex:
        falling = (numbers > apex) & (numbers <= offset)
        profile[falling] = 0.5 + 0.5 * np.cos(np.pi * (numbers[falling] - apex) / (offset - apex))
    profile[numbers == apex] = 1.0
    return profile


def _scaled_bumps(
    frame: FaceFrame,
    bumps: Sequence[Bump],
    gains: Sequence[float],
    side_gains: tuple[float, float],
    peak_px: float,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # bumps scaled so that the dense field's largest displacement is peak_px
    centres, vectors, sigmas = anchor_points(frame, bumps, gains, side_gains)
    dense = displacement_field((size, size), centres, vectors, sigmas)
    peak = float(np.sqrt((dense.astype(np.float64) ** 2).sum(axis=-1)).max())
    scale = peak_px / peak if peak > 0 else 0.0
    return centres, vectors * scale, sigmas, dense * np.float32(scale)


def _render_clip(
    subject: _Subject, plan: _ClipPlan, settings: SyntheticSettings
) -> tuple[list[np.ndarray], np.ndarray, dict[str, object]]:
    """Frames (uint8, one per frame number), landmarks (n, 68, 2) and what was drawn."""
    rng = np.random.default_rng([settings.seed, 5, plan.subject_index, plan.clip_index])
    size, n = settings.image_size, settings.n_frames
    frame = subject.frame
    to_px = frame.interocular / _ALIGNED_INTEROCULAR  # 128-px aligned units -> frame pixels

    # the expression: intensity per AU, asymmetry, peak amplitude
    amplitude = rng.uniform(*settings.amplitude_px)
    bumps: list[Bump] = []
    gains: list[float] = []
    for au in plan.action_units:
        # distractors are weaker than the action units of the class
        if au in plan.borrowed:
            intensity = rng.uniform(0.3, 0.8)
        elif au in _DISTRACTORS:
            intensity = rng.uniform(0.4, 0.9)
        else:
            intensity = rng.uniform(0.5, 1.0)
        bumps.extend(ACTION_UNITS[au])
        gains.extend([intensity] * len(ACTION_UNITS[au]))
    sides = (1.0, rng.uniform(0.65, 1.0))
    sides = sides if rng.integers(2) else sides[::-1]
    au_parts = _scaled_bumps(frame, bumps, gains, sides, amplitude * to_px, size)
    profile = _profile(n, plan.onset, plan.apex, plan.offset)

    # nuisance: a partial blink, at any time, in about 30% of the clips
    blink = np.zeros(n)
    blink_parts = None
    blink_start = 0
    if rng.uniform() < 0.3:
        duration = max(3, int(round(rng.uniform(0.05, 0.12) * settings.fps)))
        blink_start = int(rng.integers(1, n + 1))
        t = np.arange(1, n + 1) - blink_start
        inside = (t >= 0) & (t <= duration)
        blink[inside] = np.sin(np.pi * t[inside] / duration)
        strength = rng.uniform(1.5, 3.0) * to_px
        blink_parts = _scaled_bumps(frame, BLINK, [1.0] * len(BLINK), (1.0, 1.0), strength, size)

    # nuisance: slight head motion (drift, oscillation, jitter), in frame pixels
    progress = np.arange(n) / max(1, n - 1)
    drift = rng.normal(0.0, 0.7, size=2) * to_px
    sway = rng.uniform(0.0, 0.15, size=2) * to_px
    phase = rng.uniform(0, 2 * np.pi, size=2)
    hertz = rng.uniform(1.0, 4.0)
    seconds = np.arange(n) / settings.fps
    shift = (
        progress[:, None] * drift
        + sway * np.sin(2 * np.pi * hertz * seconds[:, None] + phase)
        + rng.normal(0.0, 0.04, size=(n, 2)) * to_px
    )
    roll = np.deg2rad(rng.normal(0.0, 0.12)) * progress
    zoom = 1.0 + rng.normal(0.0, 0.002) * progress
    centre = frame.centre

    # nuisance: illumination drift (global and a left-right gradient)
    grid_x, grid_y = subject.grid
    gain_global, gain_slope = rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)
    slope = ((grid_x - size / 2) / size).astype(np.float32)

    frames: list[np.ndarray] = []
    landmarks = np.empty((n, 68, 2))
    for f in range(n):
        cos, sin = np.cos(roll[f]) / zoom[f], np.sin(roll[f]) / zoom[f]
        # backward map: source = H^-1(x) - d(x); H is the head motion about the eyes
        rx = grid_x - np.float32(centre[0] + shift[f, 0])
        ry = grid_y - np.float32(centre[1] + shift[f, 1])
        map_x = np.float32(centre[0]) + np.float32(cos) * rx + np.float32(sin) * ry
        map_y = np.float32(centre[1]) - np.float32(sin) * rx + np.float32(cos) * ry
        parts = [(profile[f], au_parts)]
        if blink_parts is not None:
            parts.append((blink[f], blink_parts))
        for weight, (_, _, _, dense) in parts:
            if weight > 0:
                map_x -= np.float32(weight) * dense[..., 0]
                map_y -= np.float32(weight) * dense[..., 1]
        image = cv2.remap(
            subject.face.image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        gain = 1.0 + progress[f] * (gain_global + gain_slope * slope)
        image = image * gain + rng.standard_normal((size, size), dtype=np.float32) * np.float32(
            subject.noise
        )
        frames.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))

        # ground truth: the forward map solves x = H(p + d(x)) (fixed point, d is smooth)
        centres = np.concatenate([p[0] for _, p in parts])
        vectors = np.concatenate([w * p[1] for w, p in parts])
        sigmas = np.concatenate([p[2] for _, p in parts])
        rotation = np.array(
            [[np.cos(roll[f]), -np.sin(roll[f])], [np.sin(roll[f]), np.cos(roll[f])]]
        )
        points = subject.face.landmarks
        moved = points
        for _ in range(6):
            source = points + displacement_at(moved, centres, vectors, sigmas)
            moved = centre + zoom[f] * (source - centre) @ rotation.T + shift[f]
        landmarks[f] = moved
    info = {
        "action_units": "+".join(str(au) for au in plan.action_units),
        "amplitude_px": round(float(amplitude), 4),
        "blink_frame": blink_start,
    }
    return frames, landmarks, info


# --------------------------------------------------------------------------- disk


def _manifest(
    settings: SyntheticSettings,
    plans: Sequence[_ClipPlan],
    clips: dict[str, dict[str, object]],
    subjects: dict[str, dict[str, object]],
) -> dict[str, object]:
    counts = {name: sum(p.label == name for p in plans) for name in CLASS_NAMES}
    return {
        "generator": "microexpr.synthetic",
        "version": GENERATOR_VERSION,
        "settings": settings.as_dict(),
        "n_clips": len(plans),
        "class_counts": counts,
        "sources": [photo.name for photo in load_face_photos()],
        "subjects": subjects,
        "clips": clips,
    }


def _is_complete(root: Path, settings: SyntheticSettings) -> bool:
    manifest = root / _MANIFEST
    if not manifest.is_file() or (root / _INCOMPLETE).exists():
        return False
    try:
        content = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(content, dict)
        and content.get("version") == GENERATOR_VERSION
        and content.get("settings") == settings.as_dict()
        and (root / _ANNOTATIONS).is_file()
    )


def _clear(root: Path) -> None:
    # only what a generation writes: other files in root are left alone
    for name in (_MANIFEST, _ANNOTATIONS):
        (root / name).unlink(missing_ok=True)
    if (root / _LANDMARKS).is_dir():
        shutil.rmtree(root / _LANDMARKS)
    for path in root.iterdir():
        if path.is_dir() and _SUBJECT_FOLDER.match(path.name):
            shutil.rmtree(path)


def generate_synthetic_dataset(
    root: str | Path,
    settings: SyntheticSettings = SyntheticSettings(),  # noqa: B008 (frozen, immutable)
    *,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write the synthetic dataset under ``root``.

    Parameters
    ----------
    root : str or Path
        Folder to write into; created if missing. If it already holds a
        complete dataset generated with the same settings (and generator
        version), nothing is written. A dataset of other settings, or one
        whose generation was interrupted, is replaced.
    settings : SyntheticSettings
        What to generate.
    progress : bool
        Show a progress bar (on stderr).
    overwrite : bool
        Regenerate even if a complete dataset of the same settings is there,
        and write into a folder that holds other files.

    Returns
    -------
    Path
        ``root / "annotations.csv"``.

    Raises
    ------
    ConfigError
        If a setting is invalid, or ``root`` holds files of something else
        (and ``overwrite`` is False).
    """
    settings = _check_settings(settings)
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"root {str(root)!r} is a file, must be a folder")
    if not overwrite and _is_complete(root, settings):
        return root / _ANNOTATIONS
    if root.is_dir() and any(root.iterdir()):
        ours = (root / _MANIFEST).is_file() or (root / _INCOMPLETE).exists()
        if not ours and not overwrite:
            raise ConfigError(
                f"root {str(root)!r} is not empty and holds no synthetic dataset; "
                "choose an empty or new folder, or pass overwrite=True"
            )
    root.mkdir(parents=True, exist_ok=True)
    # the marker goes first and the manifest last: a killed run is seen as incomplete
    (root / _INCOMPLETE).write_text("generation in progress\n", encoding="utf-8")
    _clear(root)

    plans = _plan_clips(settings)
    detector = LandmarkDetector(upsample=1)
    subjects: dict[int, _Subject] = {}
    records: list[ClipRecord] = []
    clips: dict[str, dict[str, object]] = {}
    sources: dict[str, dict[str, object]] = {}
    bar = _progress_bar(len(plans), progress)
    try:
        for plan in plans:
            if plan.subject_index not in subjects:
                subjects = {
                    plan.subject_index: _make_subject(plan.subject_index, settings, detector)
                }
                face = subjects[plan.subject_index].face
                sources[plan.subject] = {"source": face.source, "mirrored": face.mirrored}
            frames, landmarks, clips[plan.clip] = _render_clip(
                subjects[plan.subject_index], plan, settings
            )
            folder = root / plan.subject / plan.clip
            folder.mkdir(parents=True, exist_ok=True)
            for number, image in enumerate(frames, start=1):
                if not cv2.imwrite(str(folder / f"img{number}.png"), image):
                    raise OSError(f"could not write {folder / f'img{number}.png'}")
            (root / _LANDMARKS / plan.subject).mkdir(parents=True, exist_ok=True)
            np.save(root / _LANDMARKS / plan.subject / f"{plan.clip}.npy", landmarks)
            records.append(
                ClipRecord(
                    dataset="synthetic", subject=plan.subject, clip=plan.clip,
                    onset=plan.onset, apex=plan.apex, offset=plan.offset,
                    emotion=plan.emotion, label=CLASS_NAMES.index(plan.label),
                )
            )  # fmt: skip
            bar.update(1)
    finally:
        bar.close()
    write_annotation_csv(records, root / _ANNOTATIONS)
    atomic_write_json(root / _MANIFEST, _manifest(settings, plans, clips, sources))
    (root / _INCOMPLETE).unlink()
    return root / _ANNOTATIONS


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="synthetic clips", unit="clip")


def load_ground_truth_landmarks(root: str | Path, subject: str, clip: str) -> np.ndarray:
    """Ground-truth landmarks of one synthetic clip.

    Parameters
    ----------
    root : str or Path
        Root of a dataset written by :func:`generate_synthetic_dataset`.
    subject, clip : str
        As in the annotation CSV (``s01``, ``s01_c01``).

    Returns
    -------
    ndarray of shape (n_frames, 68, 2), float64
        ``(x, y)`` of dlib's 68 points; row ``i`` belongs to frame file
        ``img{i + 1}.png``.

    Raises
    ------
    DatasetNotFoundError
        If the file does not exist.
    """
    path = Path(root).expanduser() / _LANDMARKS / subject / f"{clip}.npy"
    if not path.is_file():
        raise DatasetNotFoundError(
            f"ground-truth landmarks {str(path)!r} do not exist; generate the dataset "
            "with microexpr.synthetic.generate_synthetic_dataset"
        )
    return np.load(path)
