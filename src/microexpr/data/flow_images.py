"""Precomputed optical-flow image sets: the MEGC2019 layout and a generic one.

Some published results start from flow features computed elsewhere, one small
image per clip. This module reads them into arrays of shape
(n_clips, C, H, W), float32, without rescaling.

Generic layout (bring your own flows)
-------------------------------------
A labels CSV with one row per clip and the columns

``image``
    File name of the clip's flow, relative to the image folder: an 8-bit
    ``.png``/``.jpg``/``.bmp`` (read with ``cv2.imread`` unchanged, so a colour
    image keeps OpenCV's stored B, G, R channel order; values 0..255), or a
    ``.npy`` array of shape (C, H, W) (channel-first, any float values).
``label``
    Class index (0 = negative, 1 = positive, 2 = surprise for the 3-class
    protocols).
``subject``
    Subject identifier; the leave-one-subject-out folds are named after it.
``dataset``, ``clip`` (optional)
    Source dataset and clip identifier (default: empty, and the file stem).

Every image must have the same size and channel count; a file that differs
raises :class:`FlowImageError` naming it.

MEGC2019 layout (STSTNet's published flows)
-------------------------------------------
``root/labels.csv`` in the generic format (columns dataset, subject, clip,
label, image), ``root/whole/`` with the 442 images, and
``root/loso_test/<fold>/<label>/<image>`` with the test images of each
leave-one-subject-out fold; the fold is the held-out subject. Although the
folder names suggest a per-fold normalisation, every image is normalised on
its own (each channel min-max scaled to 0..255 within the clip): the 442
``loso_test`` images, and all 29,614 per-fold training images of the same
release in HTNet's repository, are pixel-identical to ``whole/`` (checked
image by image; PNG bytes differ, pixels do not), so no statistic of a test
subject reaches its training images through the normalisation.
The 28x28 PNGs hold u, v and strain as R, G, B (written from MATLAB),
so ``cv2.imread``'s B, G, R array is (strain, v, u): channel 0 is skewed
towards 0 as a magnitude is (median 14 of 255), channels 1 and 2 are centred
near 128 as signed flows are (see
:mod:`microexpr.preprocess.flow_image_inputs` for how the images were made).
STSTNet's weights take that array as it is (``inputs="flow_image"``);
:func:`select_inputs` reorders it for models that take ``uvs`` or ``uv`` streams.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from microexpr.errors import DatasetNotFoundError, MicroexprError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLOW_SUFFIXES",
    "MEGC2019_CHANNELS",
    "FlowImageError",
    "FlowImageSet",
    "MEGC2019_ENV",
    "check_megc2019_layout",
    "megc2019_folds",
    "read_flow_image",
    "read_flow_image_set",
    "read_megc2019_fold",
    "read_megc2019_whole",
    "select_inputs",
]

#: Environment variable that points at the MEGC2019 flow set.
MEGC2019_ENV = "MICROEXPR_MEGC2019"

#: File suffixes read as flow images.
FLOW_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".npy"})

_REQUIRED_COLUMNS = ("image", "label", "subject")

#: Channel index of each feature in a MEGC2019 flow image as ``cv2.imread`` returns it.
MEGC2019_CHANNELS: dict[str, int] = {"u": 2, "v": 1, "strain": 0}

_INPUT_FEATURES: dict[str, tuple[str, ...]] = {
    "uvs": ("u", "v", "strain"),
    "uv": ("u", "v"),
}


class FlowImageError(MicroexprError, ValueError):
    """A flow image cannot be read, or has the wrong size or channel count."""


@dataclass
class FlowImageSet:
    """Flow images of a set of clips with their labels and identities.

    Attributes
    ----------
    images : ndarray of shape (n_clips, C, H, W), float32
        The flows, channel-first, values as stored (0..255 for 8-bit images).
    labels : ndarray of shape (n_clips,), int64
        Class indices.
    subjects, datasets, clips : ndarray of shape (n_clips,), object
        Subject, source dataset and clip identifier of each row.
    files : list of Path
        The file each row was read from.
    """

    images: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    datasets: np.ndarray
    clips: np.ndarray
    files: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, mask: np.ndarray) -> FlowImageSet:
        """Rows where the boolean ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return FlowImageSet(
            self.images[idx],
            self.labels[idx],
            self.subjects[idx],
            self.datasets[idx],
            self.clips[idx],
            [self.files[i] for i in idx],
        )


def read_flow_image(
    path: str | Path,
    *,
    channels: int | None = 3,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read one flow image as a float32 array of shape (C, H, W).

    Parameters
    ----------
    path : str or Path
        An 8-bit image (read with ``cv2.imread`` unchanged, channels as
        stored) or a ``.npy`` array of shape (C, H, W).
    channels : int or None
        Required channel count; None accepts any.
    size : (int, int) or None
        Required (H, W); None accepts any.

    Returns
    -------
    ndarray of shape (C, H, W), float32

    Raises
    ------
    FlowImageError
        The file cannot be read, or its channels or size differ.
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise FlowImageError(f"{p}: cannot be read as a .npy array ({exc})") from exc
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise FlowImageError(
                f"{p}: a .npy flow must have shape (C, H, W), got {tuple(arr.shape)}"
            )
    else:
        import cv2

        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FlowImageError(f"{p}: cannot be read as an image")
        arr = img[None] if img.ndim == 2 else np.transpose(img, (2, 0, 1))
    c, h, w = arr.shape
    if channels is not None and c != channels:
        raise FlowImageError(f"{p}: has {c} channel(s), expected {channels}")
    if size is not None and (h, w) != tuple(size):
        raise FlowImageError(f"{p}: is {h}x{w} (HxW), expected {size[0]}x{size[1]}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _read_many(
    files: Sequence[Path], channels: int | None, size: tuple[int, int] | None
) -> np.ndarray:
    arrays: list[np.ndarray] = []
    for f in files:
        if not f.is_file():
            raise DatasetNotFoundError(f"{f}: flow image listed but not found")
        # The first file fixes size and channels when the caller does not.
        arr = read_flow_image(f, channels=channels, size=size)
        if channels is None:
            channels = arr.shape[0]
        if size is None:
            size = (arr.shape[1], arr.shape[2])
        arrays.append(arr)
    if not arrays:
        c = channels or 0
        h, w = size or (0, 0)
        return np.zeros((0, c, h, w), dtype=np.float32)
    return np.stack(arrays)


def _read_labels(labels_csv: Path) -> pd.DataFrame:
    if not labels_csv.is_file():
        raise DatasetNotFoundError(f"labels file {str(labels_csv)!r} does not exist")
    import pandas as pd  # imported when used: `microexpr --help` starts faster

    # Subjects such as SAMM's "006" must stay strings.
    df = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    missing = [c for c in _REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FlowImageError(
            f"{labels_csv}: missing column(s) {missing}; required {list(_REQUIRED_COLUMNS)}"
        )
    bad = df.loc[~df["label"].str.fullmatch(r"\d+"), "image"]
    if len(bad):
        raise FlowImageError(f"{labels_csv}: non-integer label for image {bad.iloc[0]!r}")
    if "dataset" not in df.columns:
        df["dataset"] = ""
    if "clip" not in df.columns:
        df["clip"] = [Path(i).stem for i in df["image"]]
    return df


def read_flow_image_set(
    labels_csv: str | Path,
    image_dir: str | Path | None = None,
    *,
    channels: int | None = 3,
    size: tuple[int, int] | None = None,
) -> FlowImageSet:
    """Read a flow-image set in the generic layout.

    Parameters
    ----------
    labels_csv : str or Path
        CSV with columns ``image``, ``label``, ``subject`` and optionally
        ``dataset``, ``clip`` (see the module docstring).
    image_dir : str or Path, optional
        Folder the ``image`` names are relative to; defaults to the CSV's folder.
    channels : int or None
        Required channel count of every image; None takes the first image's.
    size : (int, int) or None
        Required (H, W) of every image; None takes the first image's.

    Returns
    -------
    FlowImageSet
        Rows in the order of the CSV.
    """
    labels_csv = Path(labels_csv).expanduser()
    df = _read_labels(labels_csv)
    base = Path(image_dir).expanduser() if image_dir is not None else labels_csv.parent
    if not base.is_dir():
        raise DatasetNotFoundError(f"image folder {str(base)!r} does not exist")
    files = [base / name for name in df["image"]]
    images = _read_many(files, channels, size)
    return FlowImageSet(
        images=images,
        labels=df["label"].astype(np.int64).to_numpy(copy=True),
        subjects=df["subject"].to_numpy(dtype=object),
        datasets=df["dataset"].to_numpy(dtype=object),
        clips=df["clip"].to_numpy(dtype=object),
        files=files,
    )


def _check_megc_root(root: str | Path) -> Path:
    r = Path(root).expanduser()
    if not (r / "labels.csv").is_file():
        raise DatasetNotFoundError(
            f"MEGC2019 flow set not found at {str(r)!r}: expected labels.csv, whole/ and "
            f"loso_test/ there (set {MEGC2019_ENV} or pass the folder)"
        )
    return r


def check_megc2019_layout(root: str | Path, *, need_folds: bool = False) -> Path:
    """Check that ``root`` holds a flow-image set in the MEGC2019 layout.

    Parameters
    ----------
    root : str or Path
        The set's folder.
    need_folds : bool
        Also require ``root/loso_test/``.

    Returns
    -------
    Path
        ``root``, expanded.

    Raises
    ------
    DatasetNotFoundError
        One line naming what is missing and what the folder holds instead.
    """
    r = Path(root).expanduser()
    if not r.is_dir():
        raise DatasetNotFoundError(f"flow-image set folder {str(r)!r} does not exist")
    needed = ["labels.csv", "whole/"] + (["loso_test/"] if need_folds else [])
    missing = [n for n in needed if not (r / n.rstrip("/")).is_dir() and not (r / n).is_file()]
    if missing:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in r.iterdir())[:8]
        raise DatasetNotFoundError(
            f"{r} is not a flow-image set in the MEGC2019 layout: {', '.join(missing)} "
            f"missing (expected labels.csv, whole/<image> and loso_test/<fold>/<label>/<image>; "
            f"found {', '.join(found) or 'nothing'})"
        )
    return r


def read_megc2019_whole(
    root: str | Path, *, channels: int | None = 3, size: tuple[int, int] | None = None
) -> FlowImageSet:
    """Read ``root/whole`` (one normalisation for all 442 clips) with ``root/labels.csv``."""
    r = _check_megc_root(root)
    return read_flow_image_set(r / "labels.csv", r / "whole", channels=channels, size=size)


def megc2019_folds(root: str | Path) -> list[str]:
    """Names of the folds (held-out subjects) in ``root/loso_test``, sorted."""
    r = _check_megc_root(root)
    test = r / "loso_test"
    if not test.is_dir():
        raise DatasetNotFoundError(f"folder {str(test)!r} does not exist")
    return sorted(d.name for d in test.iterdir() if d.is_dir())


def read_megc2019_fold(
    root: str | Path,
    fold: str,
    *,
    channels: int | None = 3,
    size: tuple[int, int] | None = None,
) -> FlowImageSet:
    """Read the test images of one fold, ``root/loso_test/<fold>/<label>/<image>``.

    The label is the folder name; dataset, subject and clip come from
    ``root/labels.csv`` by image name (the fold name when the image is not
    listed). Rows are sorted by label folder, then image name.
    """
    r = _check_megc_root(root)
    fold_dir = r / "loso_test" / fold
    if not fold_dir.is_dir():
        raise DatasetNotFoundError(f"fold folder {str(fold_dir)!r} does not exist")
    table = _read_labels(r / "labels.csv").set_index("image")
    files: list[Path] = []
    labels: list[int] = []
    for label_dir in sorted(d for d in fold_dir.iterdir() if d.is_dir()):
        if not label_dir.name.isdigit():
            raise FlowImageError(f"{label_dir}: label folders must be class indices (0, 1, 2)")
        for f in sorted(label_dir.iterdir(), key=lambda q: q.name):
            if f.suffix.lower() in FLOW_SUFFIXES:
                files.append(f)
                labels.append(int(label_dir.name))
    images = _read_many(files, channels, size)
    names = [f.name for f in files]
    known = [n in table.index for n in names]

    def column(col: str, default: list[str]) -> np.ndarray:
        return np.array(
            [table.at[n, col] if k else d for n, k, d in zip(names, known, default, strict=True)],
            dtype=object,
        )

    return FlowImageSet(
        images=images,
        labels=np.asarray(labels, dtype=np.int64),
        subjects=column("subject", [fold] * len(files)),
        datasets=column("dataset", [""] * len(files)),
        clips=column("clip", [os.path.splitext(n)[0] for n in names]),
        files=files,
    )


def select_inputs(
    images: np.ndarray,
    inputs: str,
    *,
    channels: dict[str, int] | None = None,
) -> np.ndarray:
    """Arrange flow-image channels as a model's ``default_cfg["inputs"]`` expects.

    Parameters
    ----------
    images : ndarray of shape (n_clips, C, H, W)
        Flow images as read.
    inputs : str
        ``flow_image`` (returned unchanged), ``uvs`` (u, v, strain) or ``uv``.
    channels : dict, optional
        Channel index of ``u``, ``v`` and ``strain`` in ``images``; defaults to
        :data:`MEGC2019_CHANNELS`.

    Returns
    -------
    ndarray of shape (n_clips, S, H, W)
    """
    if inputs == "flow_image":
        return images
    if inputs not in _INPUT_FEATURES:
        raise FlowImageError(
            f"inputs must be one of {['flow_image', *_INPUT_FEATURES]} for flow images, "
            f"got {inputs!r}"
        )
    order = channels or MEGC2019_CHANNELS
    return np.ascontiguousarray(images[:, [order[f] for f in _INPUT_FEATURES[inputs]]])
