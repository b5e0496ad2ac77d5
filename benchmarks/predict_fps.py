"""Frames per second of ``microexpr predict`` on a 640x360 video.

Makes 640x360 videos at 30 fps of a real face photo (scikit-image's
astronaut, scaled into the frame) with a micro-expression (AU6+AU12, 2 px at
the 128-px aligned face) injected every 5 seconds, runs
:func:`microexpr.inference.predict` on them and prints a table: frames,
seconds, frames per second, time per stage, and the peak resident memory of
a fresh process during each run (streaming: it must not grow with the length).

The model is the paper's ATSCNN (128x128 inputs, head 1024-1024) with random
weights unless ``--model`` names a trained one: the classes are then
meaningless, the speed is not (classification is a small share of it).

Usage::

    python benchmarks/predict_fps.py [--model model/] [--seconds 10 60 240]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from skimage import data

from microexpr import __version__
from microexpr._markdown import markdown_table
from microexpr.inference import predict, save_checkpoint
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


class PeakRss:
    """Sample the resident memory of this process while a block runs."""

    def __enter__(self) -> PeakRss:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as f:
                self.peak = max(self.peak, int(f.read().split()[1]) * page)
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


def run_one(video: Path, model: Path, out: Path, apexes: list[int]) -> dict[str, object]:
    """Predict on ``video`` in this (fresh) process; the row of the table."""
    # load dlib's models and torch once, outside the timings
    make_video(out.parent / "warm.avi", 1)
    predict(out.parent / "warm.avi", model, out.parent / "warm", progress=False)
    with PeakRss() as rss:
        start = time.perf_counter()
        result = predict(video, model, out, progress=False)
        wall = time.perf_counter() - start
    t = result.timings
    return {
        "frames": result.frames_read,
        "wall": wall,
        "fps": result.frames_read / wall,
        **{k: t[k] for k in ("decode", "face", "motion", "classify", "figures")},
        "spot_fps": result.frames_read / (t["decode"] + t["face"] + t["motion"]),
        "rss": rss.peak / 2**20,
        "injected": apexes,
        "spotted": [c.apex for c in result.candidates],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="trained model folder (default: random ATSCNN)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0, 240.0])
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # VIDEO MODEL OUT (child run)
    args = parser.parse_args()
    if args.one:
        video, model, out = (Path(p) for p in args.one)
        apexes = json.loads((video.with_suffix(".json")).read_text())
        print(json.dumps(run_one(video, model, out, apexes)))
        return
    rows = []
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = args.model or random_model(tmp_path / "model")
        for seconds in args.seconds:
            video = tmp_path / f"v{seconds:g}.avi"
            video.with_suffix(".json").write_text(json.dumps(make_video(video, seconds)))
            # a fresh process per video, so that peak memory compares lengths
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(video), str(model), str(tmp_path / "o")],
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    load.append(os.getloadavg()[0])
    model_text = f"trained, {args.model}" if args.model else "ATSCNN 128x128, random weights"
    lines = [
        "# `microexpr predict` speed on a 640x360 video",
        "",
        f"microexpr {__version__}, torch {torch.__version__}, OpenCV {cv2.__version__}; "
        f"{cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
        f"model: {model_text}. Load average (1 min) {load[0]:.1f} before, {load[1]:.1f} after "
        "(other jobs share the machine: times vary from run to run).",
        "",
        "Video: MJPG, 30 fps, astronaut face (~110 px wide) with an AU6+12 micro-expression "
        "(2 px at the 128-px face) every 5 s. Stage times in seconds; 'spotting fps' counts "
        "decode + face tracking + alignment/flow only; 'figures' is one panel per candidate "
        "plus the motion plot.",
        "",
    ]
    table = []
    for r in rows:
        found = sum(any(abs(a - b) <= 2 for b in r["spotted"]) for a in r["injected"])
        table.append(
            (
                r["frames"],
                f"{r['wall']:.2f}",
                f"{r['fps']:.1f}",
                f"{r['spot_fps']:.1f}",
                f"{r['decode']:.2f}",
                f"{r['face']:.2f}",
                f"{r['motion']:.2f}",
                f"{r['classify']:.2f}",
                f"{r['figures']:.2f}",
                f"{r['rss']:.0f}",
                len(r["injected"]),
                found,
                len(r["spotted"]) - found,
            )
        )
    columns = [
        "frames",
        "seconds",
        "fps",
        "spotting fps",
        "decode",
        "face",
        "align+flow",
        "classify",
        "figures",
        "peak RSS (MiB)",
        "injected",
        "found (apex +-2 frames)",
        "other candidates",
    ]
    lines.append(markdown_table(pd.DataFrame(table, columns=columns)).rstrip("\n"))
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
