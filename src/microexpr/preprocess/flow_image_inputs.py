"""Flow images as model inputs, and microexpr's own flows in the MEGC2019 representation.

Two jobs, one representation.

1. A precomputed flow-image set (the MEGC2019 layout of
   :mod:`microexpr.data.flow_images`) becomes a dataset like any other:
   :func:`load_flow_image_features` reads it into a :class:`FlowImageFeatures`
   that the LOSO engine, the ablation and ``microexpr train`` use in place of a
   :class:`~microexpr.preprocess.pipeline.FeatureSet`. What each model gets is
   decided by the model's registered ``default_cfg``, never by a script
   (:func:`flow_images_for_model`):

   * ``inputs == "flow_image"`` (STSTNet): the image as stored, channel order
     as ``cv2.imread`` returns it (B, G, R = strain, v, u), values 0..255 not
     rescaled - what the official weights were trained on;
   * ``inputs == "uvs"`` or ``"uv"`` (ATSCNN, Off-ApexNet, Dual-Inception, ...):
     the u, v (and strain) channels in that order, divided by 255;
   * then, when ``default_cfg["input_size"]`` differs from the image size,
     a bilinear resize (``cv2.INTER_LINEAR``, half-pixel centres) to it:
     ATSCNN with ``input_size: 28`` runs on the 28x28 flows natively, with
     the default 128 it gets the flows resized 28 -> 128.

   A model may override the scale with ``default_cfg["flow_image_scale"]``.
   Models that take frames (``apex``, ``onset_apex``) cannot use a flow set.

2. :func:`flow_image_from_flow` turns microexpr's own onset -> apex flow (TV-L1
   and optical strain on the aligned 128-pixel face) into that representation,
   so that a model trained on a flow-image set can classify new footage
   (``microexpr predict``). How the MEGC2019 images were made, as read from
   the published data and code (STSTNet, Liong et al. FG 2019,
   github.com/christy1206/STSTNet; the same images in HTNet's repository):

   * TV-L1 flow from the onset to the apex frame (the IPOL implementation,
     Sanchez et al. 2013), then optical strain magnitude;
   * u, v and strain resized to 28x28 (the paper: "concatenated to form a
     single 3D image, then resize to 28x28x3"; the interpolation is not
     published - ``cv2.INTER_AREA``, an anti-aliased reduction like MATLAB's
     default ``imresize``, is used here);
   * each channel of each clip min-max scaled to 0..255 on its own, after
     the resize: in all 442 images every channel has exactly one pixel at 0
     and one at 255 (median count), which a normalisation before resizing
     would not leave; no statistic is shared between clips;
   * stored as an RGB PNG with R = u, G = v, B = strain (the folder is named
     ``norm_u_v_os``): ``cv2.imread`` gives (strain, v, u). Measured on the
     442 images: channel 1 is mirror-symmetric about the face's vertical
     axis (median left-right correlation +0.67) as vertical flow of a
     symmetric expression is, channel 2 antisymmetric (-0.25) as horizontal
     flow is, channel 0 is a magnitude (median 14 of 255);
   * signs as OpenCV's: x to the right, y downwards (surprise clips have low
     channel-1 values at the brows, i.e. upward motion; smiles move the left
     mouth corner left and the right one right).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from microexpr.data.flow_images import (
    MEGC2019_CHANNELS,
    MEGC2019_ENV,
    FlowImageError,
    FlowImageSet,
    check_megc2019_layout,
    read_megc2019_fold,
    read_megc2019_whole,
    select_inputs,
)
from microexpr.data.loso import Fold, loso_folds
from microexpr.data.records import CLASS_NAMES, ClipIssue, ClipRecord
from microexpr.errors import ConfigError, DatasetNotFoundError

__all__ = [
    "FLOW_IMAGES_DATASET",
    "MEGC2019_REPRESENTATION",
    "FlowImageFeatures",
    "FlowImageRepresentation",
    "flow_image_from_flow",
    "flow_image_scale",
    "flow_images_for_model",
    "load_flow_image_features",
    "model_input_from_flow",
]

#: Dataset name of a flow-image set in an experiment config (``data.dataset``).
FLOW_IMAGES_DATASET = "flow_images"

#: Name of the MEGC2019 (STSTNet) flow-image representation, as model.json records it.
MEGC2019_REPRESENTATION = "megc2019_flow_image"

_FLOW_KINDS = ("flow_image", "uvs", "uv")
_IMAGE_CHOICES = ("whole", "loso_test")


@dataclass(frozen=True)
class FlowImageRepresentation:
    """How one clip's flow becomes a flow image (what model.json records).

    Attributes
    ----------
    name : str
        :data:`MEGC2019_REPRESENTATION`.
    size : int
        Side of the square image (28).
    channels : tuple of str
        Feature of each channel in the array order (``cv2.imread``'s B, G, R).
    normalisation : str
        How values are scaled to 0..255.
    resize : str
        OpenCV interpolation used to reach ``size``.
    """

    name: str = MEGC2019_REPRESENTATION
    size: int = 28
    channels: tuple[str, ...] = ("strain", "v", "u")
    normalisation: str = "per clip and channel, min-max to 0..255 after resizing, rounded"
    resize: str = "area"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FlowImageRepresentation:
        """Inverse of :meth:`to_dict`; raises ConfigError on an unknown representation."""
        if raw.get("name") != MEGC2019_REPRESENTATION:
            raise ConfigError(
                f"unknown input representation {raw.get('name')!r}; "
                f"this microexpr knows {MEGC2019_REPRESENTATION!r}"
            )
        known = {k: raw[k] for k in ("size", "normalisation", "resize") if k in raw}
        rep = cls(**known)
        if "channels" in raw:
            rep = replace(rep, channels=tuple(raw["channels"]))
        return rep


_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def flow_image_from_flow(
    u: np.ndarray,
    v: np.ndarray,
    strain: np.ndarray,
    representation: FlowImageRepresentation | None = None,
) -> np.ndarray:
    """One clip's flow as a MEGC2019 flow image.

    Parameters
    ----------
    u, v, strain : ndarray of shape (H, W)
        Horizontal and vertical flow (pixels, x right, y down) and optical
        strain magnitude, e.g. :class:`~microexpr.preprocess.pipeline.ClipFeatures`.
    representation : FlowImageRepresentation, optional
        Defaults to the MEGC2019 one (28x28, strain/v/u, per-clip min-max).

    Returns
    -------
    ndarray of shape (3, size, size), float32
        Integer values 0..255, channels in ``representation.channels`` order:
        the array ``cv2.imread`` gives for a MEGC2019 PNG, channel-first.
    """
    rep = representation or FlowImageRepresentation()
    arrays = {"u": u, "v": v, "strain": strain}
    out = np.empty((len(rep.channels), rep.size, rep.size), dtype=np.float32)
    for i, name in enumerate(rep.channels):
        a = np.asarray(arrays[name], dtype=np.float32)
        small = cv2.resize(a, (rep.size, rep.size), interpolation=_INTERPOLATION[rep.resize])
        lo, hi = float(small.min()), float(small.max())
        scaled = (small - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(small)
        out[i] = np.rint(scaled)
    return out


def flow_image_scale(cfg: Mapping[str, Any]) -> float:
    """The factor a model's flow-image inputs are multiplied by (declared by its cfg).

    ``default_cfg["flow_image_scale"]`` when the model gives one; otherwise 1
    for ``inputs == "flow_image"`` (raw 0..255) and 1/255 for ``uvs``/``uv``.
    """
    if "flow_image_scale" in cfg:
        return float(cfg["flow_image_scale"])
    return 1.0 if cfg.get("inputs") == "flow_image" else 1.0 / 255.0


def flow_images_for_model(
    images: np.ndarray, cfg: Mapping[str, Any], *, model: str = "model"
) -> np.ndarray:
    """Arrange MEGC2019 flow images as the model of ``cfg`` takes them.

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W)
        Flow images as read (channels strain, v, u; 0..255).
    cfg : mapping
        The model's ``default_cfg`` (``inputs``, ``input_size``, optionally
        ``flow_image_scale``).
    model : str
        Model name, for the error message.

    Returns
    -------
    ndarray of shape (n, C, H', W'), float32
        Channels selected and ordered, scaled, resized to ``input_size``.

    Raises
    ------
    FlowImageError
        If the model takes frames rather than flows.
    """
    kind = str(cfg.get("inputs"))
    if kind not in _FLOW_KINDS:
        raise FlowImageError(
            f"model {model!r} takes {kind!r} inputs, which a flow-image set does not hold "
            f"(it gives {', '.join(_FLOW_KINDS)})"
        )
    x = select_inputs(images, kind, channels=MEGC2019_CHANNELS).astype(np.float32)
    x = x * np.float32(flow_image_scale(cfg))
    size = tuple(int(s) for s in cfg["input_size"][1:])
    if tuple(x.shape[2:]) != size and len(x):
        n, c = x.shape[:2]
        flat = x.reshape(n * c, *x.shape[2:])
        x = np.stack(
            [cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for a in flat]
        ).reshape(n, c, *size)
    return np.ascontiguousarray(x, dtype=np.float32)


def model_input_from_flow(
    u: np.ndarray,
    v: np.ndarray,
    strain: np.ndarray,
    cfg: Mapping[str, Any],
    representation: FlowImageRepresentation | None = None,
) -> np.ndarray:
    """Input of shape (C, H, W) for a model trained on flow images, from microexpr's flow."""
    image = flow_image_from_flow(u, v, strain, representation)
    return flow_images_for_model(image[None], cfg)[0]


@dataclass
class FlowImageFeatures:
    """A flow-image set ready for the LOSO engine, ``train`` and the ablation.

    Duck-types :class:`~microexpr.preprocess.pipeline.FeatureSet` where the
    experiment code reads it (``records``, ``issues``, ``labels``, ``groups``)
    and adds what flow images need: model inputs depend on the model's
    ``default_cfg`` (:meth:`model_inputs`), and with ``images: loso_test`` each
    fold's test clips come from that fold's own folder (:meth:`engine_arrays`).

    Attributes
    ----------
    records : list of ClipRecord
        One per row of ``labels.csv`` (no frames; onset = apex = offset = 0).
    images : ndarray of shape (n, 3, H, W)
        The ``whole/`` images, row order of ``labels.csv``.
    test_images : ndarray of shape (n, 3, H, W) or None
        With ``images: loso_test``: row ``i`` is clip ``i`` as read from its
        fold's folder ``loso_test/<subject>/<label>/``.
    root : Path
    image_source : str
        ``whole`` or ``loso_test``.
    issues : list of ClipIssue
    """

    records: list[ClipRecord]
    images: np.ndarray
    test_images: np.ndarray | None
    root: Path
    image_source: str = "whole"
    issues: list[ClipIssue] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        """Class index of each clip, shape (n_clips,)."""
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def groups(self) -> list[str]:
        """LOSO subject key of each clip."""
        return [r.group for r in self.records]

    def inputs(self, kind: str) -> np.ndarray:
        """Inputs of ``kind`` at the images' own size (as ``FeatureSet.inputs``).

        Prefer :meth:`model_inputs`, which also resizes to the model's input size.
        """
        n_channels = {"flow_image": 3, "uvs": 3, "uv": 2}.get(kind, 0)
        size = (n_channels, *self.images.shape[2:])
        return flow_images_for_model(self.images, {"inputs": kind, "input_size": size})

    def model_inputs(self, cfg: Mapping[str, Any], *, model: str = "model") -> np.ndarray:
        """The ``whole/`` images arranged for one model (see :func:`flow_images_for_model`)."""
        return flow_images_for_model(self.images, cfg, model=model)

    def representation(self) -> FlowImageRepresentation:
        """The representation of these images (for model.json)."""
        return FlowImageRepresentation(size=int(self.images.shape[-1]))

    def engine_arrays(
        self, cfgs: Mapping[str, Mapping[str, Any]]
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[Fold]]:
        """Inputs per input kind, labels and folds for the LOSO engine's ``EngineData``.

        Parameters
        ----------
        cfgs : mapping of variant name to default_cfg
            The models of the experiment.

        Returns
        -------
        inputs : dict of str to ndarray
            One array per input kind. With ``loso_test`` it holds ``2 n``
            rows: the ``whole/`` images, then the fold images; each fold
            trains on rows ``< n`` and tests on its subject's rows ``>= n``.
        labels : ndarray
        folds : list of Fold

        Raises
        ------
        ConfigError
            If two variants take the same input kind at different sizes.
        """
        inputs: dict[str, np.ndarray] = {}
        sizes: dict[str, tuple[tuple[int, ...], str]] = {}
        for name, cfg in cfgs.items():
            kind = str(cfg.get("inputs"))
            size = tuple(int(s) for s in cfg["input_size"])
            if kind in sizes:
                if sizes[kind][0] != size:
                    raise ConfigError(
                        f"variants {sizes[kind][1]!r} and {name!r} both take {kind!r} flow "
                        f"images but at sizes {sizes[kind][0]} and {size}; run them apart"
                    )
                continue
            sizes[kind] = (size, name)
            x = flow_images_for_model(self.images, cfg, model=name)
            if self.test_images is not None:
                x = np.concatenate([x, flow_images_for_model(self.test_images, cfg, model=name)])
            inputs[kind] = x
        folds = loso_folds(self.groups)
        labels = self.labels
        if self.test_images is None:
            return inputs, labels, folds
        n = len(self.records)
        shifted = [
            Fold(f.index, f.test_subject, f.train_indices, tuple(i + n for i in f.test_indices))
            for f in folds
        ]
        return inputs, np.concatenate([labels, labels]), shifted

    def clip_index(self, engine_index: int) -> int:
        """Clip row of an engine row (undoes the ``loso_test`` offset)."""
        n = len(self.records)
        return engine_index - n if engine_index >= n else engine_index


def _expand_root(root: str | Path | None) -> Path:
    if root is None:
        raise ConfigError(
            f"data.root is not set for dataset {FLOW_IMAGES_DATASET!r} "
            f"(give the flow set's folder, or ${MEGC2019_ENV})"
        )
    text = os.path.expandvars(os.path.expanduser(str(root)))
    if "$" in text:
        raise DatasetNotFoundError(
            f"data.root {str(root)!r}: environment variable not set "
            f"(e.g. export {MEGC2019_ENV}=/path/to/megc2019)"
        )
    return Path(text)


def _records(flows: FlowImageSet) -> list[ClipRecord]:
    records = []
    for dataset, subject, clip, label in zip(
        flows.datasets, flows.subjects, flows.clips, flows.labels, strict=True
    ):
        if not 0 <= int(label) < len(CLASS_NAMES):
            raise FlowImageError(
                f"clip {dataset}/{subject}/{clip}: label {label} is not a class index "
                f"0..{len(CLASS_NAMES) - 1}"
            )
        records.append(
            ClipRecord(
                dataset=str(dataset) or "flow_images",
                subject=str(subject),
                clip=str(clip),
                onset=0,
                apex=0,
                offset=0,
                emotion=CLASS_NAMES[int(label)],
                label=int(label),
            )
        )
    return records


def _fold_images(root: Path, whole: FlowImageSet, size: tuple[int, int]) -> np.ndarray:
    """Each clip's image from its fold folder, aligned with the rows of ``whole``."""
    out = np.empty_like(whole.images)
    names = [f.name for f in whole.files]
    for subject in dict.fromkeys(whole.subjects.tolist()):
        rows = np.flatnonzero(whole.subjects == subject)
        fold = read_megc2019_fold(root, str(subject), size=size)
        found = {f.name: i for i, f in enumerate(fold.files)}
        for r in rows:
            if names[r] not in found:
                raise FlowImageError(
                    f"{root / 'loso_test' / str(subject)}: image {names[r]!r} of subject "
                    f"{subject!r} (labels.csv) is not in its fold folder"
                )
            i = found[names[r]]
            if int(fold.labels[i]) != int(whole.labels[r]):
                raise FlowImageError(
                    f"{fold.files[i]}: label folder {fold.labels[i]} differs from "
                    f"labels.csv ({whole.labels[r]})"
                )
            out[r] = fold.images[i]
        extra = sorted(set(found) - {names[r] for r in rows})
        if extra:
            raise FlowImageError(
                f"{root / 'loso_test' / str(subject)}: {len(extra)} image(s) not listed for "
                f"subject {subject!r} in labels.csv, first {extra[0]!r}"
            )
    return out


def load_flow_image_features(
    root: str | Path | None,
    *,
    images: str = "whole",
    size: Sequence[int] | None = None,
    subjects: Sequence[str] | None = None,
) -> FlowImageFeatures:
    """Read a flow-image set in the MEGC2019 layout as an experiment dataset.

    Parameters
    ----------
    root : str or Path
        Folder with ``labels.csv``, ``whole/`` and (for ``loso_test``)
        ``loso_test/<fold>/<label>/``; ``$VARS`` and ``~`` are expanded.
    images : str
        ``whole`` (every fold trains and tests on ``whole/``) or
        ``loso_test`` (training clips from ``whole/``, each fold's test clips
        from ``loso_test/<subject>/``). In the published MEGC2019 set both are
        pixel-identical: every image is normalised on its own.
    size : (int, int), optional
        Required image (H, W); default: the first image's.
    subjects : sequence of str, optional
        Keep only these subjects (as written in labels.csv), e.g. for a quick run.

    Returns
    -------
    FlowImageFeatures

    Raises
    ------
    DatasetNotFoundError, FlowImageError, ConfigError
        One line naming the file and what is wrong.
    """
    if images not in _IMAGE_CHOICES:
        raise ConfigError(
            f"data.options.images == {images!r}; choose one of {list(_IMAGE_CHOICES)}"
        )
    r = check_megc2019_layout(_expand_root(root), need_folds=images == "loso_test")
    whole = read_megc2019_whole(r, size=tuple(size) if size is not None else None)
    if subjects is not None:
        wanted = [str(s) for s in subjects]
        unknown = sorted(set(wanted) - set(whole.subjects.tolist()))
        if unknown:
            raise ConfigError(f"data.options.subjects: {unknown} not in {r / 'labels.csv'}")
        whole = whole.subset(np.isin(whole.subjects, wanted))
    if len(whole) == 0:
        raise FlowImageError(f"{r / 'labels.csv'}: lists no clip")
    records = _records(whole)
    test = None
    if images == "loso_test":
        test = _fold_images(r, whole, tuple(whole.images.shape[2:]))
    return FlowImageFeatures(
        records=records, images=whole.images, test_images=test, root=r, image_source=images
    )
