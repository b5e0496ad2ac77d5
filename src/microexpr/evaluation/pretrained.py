"""Evaluate published per-fold weights on per-fold test data (LOSO, no training).

A leave-one-subject-out result published as weights - one state dict per
fold, named after the held-out subject - is checked by predicting each
fold's test clips with that fold's weights and scoring the predictions of
all folds together (UF1 and UAR pooled over all clips, the MEGC2019 rule).
STSTNet's official weights on the MEGC2019 flows give UF1 0.7209, UAR 0.7250.

Layout read: ``data_root/loso_test/<fold>/<label>/<image>`` with
``data_root/labels.csv`` (see :mod:`microexpr.data.flow_images`), and
``weights_dir/<fold>.pth`` for every fold folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import microexpr.models  # noqa: F401  (registers the models)
from microexpr._io import atomic_write_text
from microexpr._validation import check_existing_dir
from microexpr.data.flow_images import (
    megc2019_folds,
    read_megc2019_fold,
    select_inputs,
)
from microexpr.data.records import CLASS_NAMES
from microexpr.errors import ConfigError, WeightsError
from microexpr.evaluation.scoring import score_predictions
from microexpr.models._registry import create_model, get_model_cfg

__all__ = ["FoldWeightsEvaluation", "evaluate_fold_weights", "load_weights"]

_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass
class FoldWeightsEvaluation:
    """Result of :func:`evaluate_fold_weights`.

    Attributes
    ----------
    model : str
        Registered model name.
    predictions : DataFrame
        One row per test clip: fold, dataset, subject, clip, image, label,
        prediction.
    pooled : dict
        ``uf1``, ``uar``, ``accuracy``, ``n`` over all folds (MEGC2019 rule).
    per_dataset : dict
        The same, pooled within each source dataset.
    per_fold_mean : dict
        UF1 and UAR averaged over folds (NOT the MEGC2019 rule; for reference).
    metrics : dict
        Everything, in the layout of
        :func:`~microexpr.evaluation.scoring.score_predictions` (the one of
        a LOSO run's metrics.json), the published weights as seed ``weights``.
    files : dict
        Paths written (``predictions``, ``metrics``), empty without ``out_dir``.
    """

    model: str
    predictions: pd.DataFrame
    pooled: dict[str, float]
    per_dataset: dict[str, dict[str, float]]
    per_fold_mean: dict[str, float]
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Scores as a table: one row for all clips, one per dataset."""
        rows = [{"subset": "all (pooled)", **self.pooled}]
        rows += [{"subset": name, **s} for name, s in self.per_dataset.items()]
        rows.append(
            {
                "subset": "mean over folds (not MEGC)",
                "uf1": self.per_fold_mean["uf1"],
                "uar": self.per_fold_mean["uar"],
                "accuracy": np.nan,
                "n": self.per_fold_mean["n_folds"],
            }
        )
        return pd.DataFrame(rows, columns=["subset", "uf1", "uar", "accuracy", "n"])


def _state_dict_from(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in _CHECKPOINT_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise WeightsError(f"weights file {path} does not hold a PyTorch state dict")


def _mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches (file vs model)", shapes),
    ):
        if items:
            more = f", ... ({len(items)} in all)" if len(items) > 3 else ""
            parts.append(f"{label} {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def load_weights(
    model: nn.Module, path: str | Path, *, model_name: str = "", device: str = "cpu"
) -> nn.Module:
    """Load a state dict file into ``model`` with ``strict=True``.

    Parameters
    ----------
    model : nn.Module
        The model to fill.
    path : str or Path
        A ``torch.save``'d state dict, or a checkpoint dict holding one under
        ``state_dict``, ``model_state_dict`` or ``model``.
    model_name : str
        Name used in error messages.
    device : str
        Where to map the tensors.

    Returns
    -------
    nn.Module
        ``model``, loaded.

    Raises
    ------
    WeightsError
        The file is missing, unreadable, or holds weights of another architecture.
    """
    p = Path(path)
    name = model_name or type(model).__name__
    if not p.is_file():
        raise WeightsError(f"weights file {p} does not exist")
    try:
        obj = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many kinds on a bad file
        raise WeightsError(f"weights file {p} cannot be read by torch.load ({exc})") from exc
    state = _state_dict_from(obj, p)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = _mismatch(model, state) or str(exc).splitlines()[0]
        raise WeightsError(f"weights file {p} is not for model {name!r} ({detail})") from exc
    return model


def _predict(model: nn.Module, x: np.ndarray, device: str, batch_size: int = 256) -> np.ndarray:
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[i : i + batch_size]).to(device)
            preds.append(model(xb).argmax(dim=1).cpu().numpy())
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def evaluate_fold_weights(
    model_name: str,
    weights_dir: str | Path,
    data_root: str | Path,
    *,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    folds: Sequence[str] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> FoldWeightsEvaluation:
    """Predict each fold's test clips with that fold's weights and score them.

    Parameters
    ----------
    model_name : str
        Registered model (e.g. ``ststnet``); its ``default_cfg`` gives the
        expected image size and inputs (``flow_image``, ``uvs`` or ``uv``).
    weights_dir : str or Path
        Folder with ``<fold>.pth`` for every fold.
    data_root : str or Path
        Flow set in the MEGC2019 layout (``labels.csv``, ``loso_test/``).
    out_dir : str or Path, optional
        Where to write ``predictions.csv`` and ``metrics.json``.
    device : str
        Torch device.
    folds : sequence of str, optional
        Evaluate only these folds (default: every folder in ``loso_test``).
    model_kwargs : mapping, optional
        Extra arguments for :func:`~microexpr.models.create_model`.

    Returns
    -------
    FoldWeightsEvaluation

    Raises
    ------
    WeightsError
        A fold folder has no ``<fold>.pth``, or a file holds other weights.
    FlowImageError
        An image has the wrong size or channel count (the message names it).
    DatasetNotFoundError
        ``data_root`` or ``weights_dir`` is missing.
    """
    weights = check_existing_dir(weights_dir, "weights_dir")
    root = check_existing_dir(data_root, "data_root")
    all_folds = megc2019_folds(root)
    chosen = list(folds) if folds is not None else all_folds
    unknown = [f for f in chosen if f not in all_folds]
    if unknown:
        raise ConfigError(f"folds {unknown} are not in {root / 'loso_test'}")
    if not chosen:
        raise ConfigError(f"no fold folders in {root / 'loso_test'}")
    # Check every fold has weights before spending time on any of them.
    for fold in chosen:
        if not (weights / f"{fold}.pth").is_file():
            raise WeightsError(
                f"fold folder {root / 'loso_test' / fold} has no matching weights file "
                f"{weights / (fold + '.pth')}"
            )
    cfg = get_model_cfg(model_name, **dict(model_kwargs or {}))
    inputs, (_, height, width) = cfg["inputs"], cfg["input_size"]
    if inputs not in ("flow_image", "uvs", "uv"):
        raise ConfigError(
            f"model {model_name!r} takes {inputs!r} inputs, not flow images (flow_image, uvs or uv)"
        )
    labels_all = list(range(int(cfg.get("num_classes", 3))))

    frames = []
    for fold in chosen:
        data = read_megc2019_fold(root, fold, channels=3, size=(height, width))
        model = create_model(model_name, **dict(model_kwargs or {})).to(device)
        load_weights(model, weights / f"{fold}.pth", model_name=model_name, device=device)
        model.eval()
        pred = _predict(model, select_inputs(data.images, inputs), device)
        frames.append(
            pd.DataFrame(
                {
                    "fold": fold,
                    "dataset": data.datasets,
                    "subject": data.subjects,
                    "clip": data.clips,
                    "image": [f.name for f in data.files],
                    "label": data.labels,
                    "prediction": pred,
                }
            )
        )
    predictions = pd.concat(frames, ignore_index=True)
    scored = predictions.assign(variant=model_name, seed="weights")
    metrics = score_predictions(scored, class_names=_class_names(len(labels_all)))
    run = metrics["variants"][model_name]["seeds"]["weights"]
    pooled = run["pooled"]
    per_dataset = run["per_dataset"]
    per_fold = run["per_fold_mean"]
    metrics.update(
        model=model_name,
        weights_dir=str(weights),
        data_root=str(root),
        n_folds=len(chosen),
        n_clips=len(predictions),
    )
    result = FoldWeightsEvaluation(
        model_name, predictions, pooled, per_dataset, per_fold, metrics=metrics
    )
    if out_dir is not None:
        out = Path(out_dir).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        result.files["predictions"] = out / "predictions.csv"
        result.files["metrics"] = out / "metrics.json"
        atomic_write_text(result.files["predictions"], predictions.to_csv(index=False))
        atomic_write_text(result.files["metrics"], json.dumps(metrics, indent=2) + "\n")
    return result


def _class_names(n: int) -> list[str]:
    """Names of the class indices: the three MEGC2019 classes, else the indices."""
    return list(CLASS_NAMES) if len(CLASS_NAMES) == n else [str(i) for i in range(n)]
