"""How close microexpr's own flows come to the MEGC2019 flow-image representation.

``microexpr predict`` with a model trained on the MEGC2019 flow images builds
its input with :func:`microexpr.preprocess.flow_image_inputs.flow_image_from_flow`
from microexpr's TV-L1 + strain on the aligned 128-pixel face. This script
compares, channel by channel (strain, v, u as ``cv2.imread`` gives them), the
442 published images with flow images made that way from real faces:

* ``real video pairs``: frame pairs 5 frames apart (about 0.2 s) of the real
  face videos in ``$MICROEXPR_VIDEO`` (head motion, speech, expression);
* ``real face + injected AU``: one real frame of each video warped by a known
  1.5-pixel action-unit displacement (brow raise AU1+2, lip corner pull AU12,
  brow lowerer AU4) anchored on its landmarks, onset = the frame itself.

Per channel: mean, standard deviation, percentiles, and the median left-right
mirror correlation (positive for vertical flow and strain of a symmetric
movement, negative for horizontal flow). Prints a Markdown table and writes
``benchmarks/results/megc2019_representation.{md,csv}``::

    MICROEXPR_MEGC2019=../shared/megc2019 MICROEXPR_VIDEO=../shared/video \\
        .venv/bin/python benchmarks/megc2019_representation.py [--model runs/ststnet-megc2019]

With ``--model``, a model trained on the flow images also classifies the
injected movements (brow raise should read as surprise, lip corner pull as
positive, brow lowerer as negative).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from microexpr.data.flow_images import MEGC2019_ENV, read_megc2019_whole
from microexpr.errors import MicroexprError
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.flow_image_inputs import FlowImageRepresentation, flow_image_from_flow
from microexpr.preprocess.pipeline import PreprocessSettings, preprocess_pair
from microexpr.reports.complexity_table import markdown_table
from microexpr.synthetic.action_units import (
    ACTION_UNITS,
    FaceFrame,
    anchor_points,
    displacement_field,
)

RESULTS = Path(__file__).resolve().parent / "results"
CHANNELS = FlowImageRepresentation().channels  # strain, v, u
VIDEO_ENV = "MICROEXPR_VIDEO"


def _frames(path: Path, every: int = 1, limit: int = 400) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    i = 0
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        if i % every == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        i += 1
    cap.release()
    return frames


def _warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # backward map: the apex pixel at p shows the onset pixel at p - d
    return cv2.remap(image, gx - field[..., 0], gy - field[..., 1], cv2.INTER_LINEAR)


def _injected(image: np.ndarray, landmarks: np.ndarray, aus: list[int], amplitude: float):
    face = FaceFrame.from_landmarks(landmarks)
    bumps = [b for au in aus for b in ACTION_UNITS[au]]
    centres, vectors, sigmas = anchor_points(face, bumps)
    field = displacement_field(image.shape[:2], centres, vectors, sigmas)
    peak = float(np.sqrt((field.astype(np.float64) ** 2).sum(-1)).max())
    to_px = face.interocular / (0.40 * 128)
    return _warp(image, field * np.float32(amplitude * to_px / peak))


#: Injected action units and the class a 3-class model should give them.
INJECTED = {
    "AU1+2 (brow raise)": ([1, 2], "surprise"),
    "AU12 (lip corner pull)": ([12], "positive"),
    "AU4 (brow lowerer)": ([4], "negative"),
}


def our_images(
    video_dir: Path, gap: int, amplitude: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Flow images made by microexpr from real frames: video pairs and injected AUs.

    Returns the images per source, and the injected ones per action unit.
    """
    settings = PreprocessSettings()
    detector = LandmarkDetector(settings.upsample)
    pairs, injected = [], []
    by_au: dict[str, list[np.ndarray]] = {k: [] for k in INJECTED}
    for video in sorted(video_dir.glob("*.mp4")) + sorted(video_dir.glob("*.mov")):
        frames = _frames(video)
        for t in range(0, len(frames) - gap, 10):
            try:
                lm = detector.landmarks(frames[t])
            except MicroexprError:
                continue
            f = preprocess_pair(frames[t], frames[t + gap], settings, landmarks=lm)
            pairs.append(flow_image_from_flow(f.u, f.v, f.strain))
            if t % 40 == 0:
                for name, (aus, _) in INJECTED.items():
                    apex = _injected(frames[t], lm, aus, amplitude)
                    g = preprocess_pair(frames[t], apex, settings, landmarks=lm)
                    injected.append(flow_image_from_flow(g.u, g.v, g.strain))
                    by_au[name].append(injected[-1])
    sources = {
        f"real video pairs ({gap} frames apart)": np.stack(pairs),
        f"real face + injected AU ({amplitude} px)": np.stack(injected),
    }
    return sources, {k: np.stack(v) for k, v in by_au.items()}


def classify_injected(model_dir: str, by_au: dict[str, np.ndarray]) -> pd.DataFrame:
    """Class counts a model trained on flow images gives each injected action unit."""
    import torch

    from microexpr.inference.checkpoint import load_checkpoint
    from microexpr.preprocess.flow_image_inputs import flow_images_for_model

    model, info = load_checkpoint(model_dir)
    rows = []
    for name, images in by_au.items():
        with torch.no_grad():
            pred = model(torch.from_numpy(flow_images_for_model(images, model.default_cfg)))
        counts = np.bincount(pred.argmax(1).numpy(), minlength=len(info.class_names))
        expected = INJECTED[name][1]
        rows.append(
            {
                "injected": name,
                "expected": expected,
                "n": len(images),
                **{c: int(k) for c, k in zip(info.class_names, counts, strict=True)},
                "share_expected": counts[info.class_names.index(expected)] / len(images),
            }
        )
    return pd.DataFrame(rows)


def channel_stats(name: str, images: np.ndarray) -> list[dict[str, object]]:
    """Per-channel statistics of (n, 3, H, W) flow images."""
    rows = []
    for c, channel in enumerate(CHANNELS):
        x = images[:, c].reshape(len(images), -1)
        mirror = [
            np.corrcoef(a - np.median(a), (a - np.median(a)).reshape(28, 28)[:, ::-1].ravel())[0, 1]
            for a in x
            if a.std() > 0
        ]
        p = np.percentile(x, [5, 25, 50, 75, 95])
        rows.append(
            {
                "source": name,
                "n": len(images),
                "channel": channel,
                "mean": x.mean(),
                "std": x.std(),
                "p5": p[0],
                "p25": p[1],
                "median": p[2],
                "p75": p[3],
                "p95": p[4],
                "mirror_corr": float(np.median(mirror)),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(MEGC2019_ENV))
    parser.add_argument("--video", default=os.environ.get(VIDEO_ENV))
    parser.add_argument("--gap", type=int, default=5)
    parser.add_argument("--amplitude", type=float, default=1.5)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--model",
        default=None,
        help="a model trained on the flow images (microexpr train): classify the injected AUs",
    )
    args = parser.parse_args(argv)
    if not args.data or not args.video:
        print(f"error: set {MEGC2019_ENV} and {VIDEO_ENV} (or --data, --video)", file=sys.stderr)
        return 2
    rows = channel_stats("MEGC2019 whole/ (published)", read_megc2019_whole(args.data).images)
    sources, by_au = our_images(Path(args.video), args.gap, args.amplitude)
    for name, images in sources.items():
        rows += channel_stats(f"microexpr: {name}", images)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "megc2019_representation.csv", index=False)
    md = [
        "# microexpr's flows in the MEGC2019 representation, against the published images",
        "",
        "Command: `MICROEXPR_MEGC2019=../shared/megc2019 MICROEXPR_VIDEO=../shared/video "
        f".venv/bin/python benchmarks/megc2019_representation.py --gap {args.gap} "
        f"--amplitude {args.amplitude}" + (f" --model {args.model}" if args.model else "") + "`",
        "",
        "Channels as cv2.imread gives them (strain, v, u), values 0..255 after the per-clip "
        "min-max scaling; `mirror_corr`: median over images of the correlation of a channel "
        "with its left-right mirror (median-centred).",
        "",
        markdown_table(table, floatfmt=".3g"),
    ]
    if args.model:
        classes = classify_injected(args.model, by_au)
        classes.to_csv(out / "megc2019_representation_classes.csv", index=False)
        md += [
            f"Classes given to the injected movements by the model in `{args.model}` "
            "(`microexpr train --config configs/megc2019_flows_ststnet.yaml`, all 442 clips; "
            "the model itself is derived from licensed data and not committed):",
            "",
            markdown_table(classes, floatfmt=".3g"),
        ]
    (out / "megc2019_representation.md").write_text("\n".join(md))
    print(markdown_table(table, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
