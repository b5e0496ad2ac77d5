"""Score a table of predictions: one path and one layout for every evaluation.

Both the LOSO runs (:mod:`microexpr.reports.loso_report`) and the published
per-fold weights (:mod:`microexpr.evaluation.pretrained`) turn their
predictions into a :class:`pandas.DataFrame` with integer class indices and
score it with :func:`score_predictions`; their ``metrics.json`` share the
layout it returns. Class names appear only at the edges (tables written for
people, plots).

Layout::

    rule, average, class_names, main_variant,
    variants:
      <variant>:
        uf1, uar                 # the figure of `average` (mean over seeds)
        uf1_std, uar_std         # standard deviation over seeds (0 for one seed)
        pooled:        {uf1, uar, accuracy, uf1_std, uar_std, accuracy_std}
        per_fold_mean: {uf1, uar, accuracy, uf1_std, uar_std, accuracy_std}
        n_seeds
        seeds:
          <seed>: {pooled, per_fold_mean, per_dataset, per_subject, confusion_matrix}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from microexpr._validation import check_choice
from microexpr.evaluation.metrics import per_fold_mean_scores, pooled_scores

__all__ = ["AVERAGES", "POOLED_RULE", "PREDICTION_COLUMNS", "score_predictions"]

#: How the headline UF1/UAR is averaged: ``pooled`` (MEGC2019) or ``per_fold``.
AVERAGES = ("pooled", "per_fold")

#: Columns :func:`score_predictions` reads.
PREDICTION_COLUMNS = ("variant", "seed", "fold", "dataset", "label", "prediction")

POOLED_RULE = "UF1/UAR with TP/FP/FN pooled over all folds (MEGC2019)"
_PER_FOLD_RULE = "UF1/UAR computed per fold (held-out subject), then averaged over folds"


def _mean_std(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in keys:
        values = np.array([r[key] for r in runs], dtype=float)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


def _accuracy(t: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(t == p)) if len(t) else 0.0


def _score_run(frame: pd.DataFrame, labels: list[int]) -> dict[str, Any]:
    t = frame["label"].to_numpy(dtype=np.int64)
    p = frame["prediction"].to_numpy(dtype=np.int64)
    folds = frame["fold"].astype(str).to_numpy()
    per_fold = per_fold_mean_scores(t, p, folds, labels=labels)
    per_fold["accuracy"] = float(
        np.mean([_accuracy(t[folds == f], p[folds == f]) for f in np.unique(folds)])
    )
    per_subject = {}
    for subject, g in frame.groupby("fold", sort=True):
        gt, gp = g["label"].to_numpy(), g["prediction"].to_numpy()
        # one subject rarely shows every class: score it on the classes it shows
        per_subject[str(subject)] = pooled_scores(
            gt, gp, labels=np.unique(np.concatenate([gt, gp]))
        )
    return {
        "pooled": pooled_scores(t, p, labels=labels),
        "per_fold_mean": per_fold,
        "per_dataset": {
            str(d): pooled_scores(g["label"], g["prediction"], labels=labels)
            for d, g in frame.groupby("dataset", sort=True)
            if str(d)
        },
        "per_subject": per_subject,
        "confusion_matrix": confusion_matrix(t, p, labels=labels).tolist(),
    }


def score_predictions(
    frame: pd.DataFrame,
    *,
    class_names: Sequence[str],
    main_variant: str | None = None,
    average: str = "pooled",
) -> dict[str, Any]:
    """Score every (variant, seed) of a predictions table, and average over seeds.

    Parameters
    ----------
    frame : DataFrame
        One row per clip and (variant, seed): columns ``variant``, ``seed``,
        ``fold`` (held-out subject), ``dataset``, ``label`` and
        ``prediction`` (integer class indices).
    class_names : sequence of str
        Names of the class indices 0..K-1 (every class is scored, present or not).
    main_variant : str, optional
        The variant a report leads with (default: the first one).
    average : str
        Which figure ``uf1`` and ``uar`` of each variant hold: ``pooled``
        (TP/FP/FN summed over folds first, the MEGC2019 rule) or
        ``per_fold`` (the mean of per-fold scores, which some repositories
        report). Both are always given under their own names.

    Returns
    -------
    dict
        The layout of the module docstring.

    Raises
    ------
    ConfigError
        ``average`` is not ``pooled`` or ``per_fold``.
    ValueError
        A column is missing.
    """
    check_choice(average, "average", list(AVERAGES))
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"predictions table lacks columns {missing}")
    labels = list(range(len(class_names)))
    variants: dict[str, Any] = {}
    for variant, vframe in frame.groupby("variant", sort=False):
        seeds = {
            str(seed): _score_run(run, labels) for seed, run in vframe.groupby("seed", sort=True)
        }
        runs = list(seeds.values())
        pooled = _mean_std([r["pooled"] for r in runs], ("uf1", "uar", "accuracy"))
        per_fold = _mean_std([r["per_fold_mean"] for r in runs], ("uf1", "uar", "accuracy"))
        head = pooled if average == "pooled" else per_fold
        variants[str(variant)] = {
            "uf1": head["uf1"],
            "uar": head["uar"],
            "uf1_std": head["uf1_std"],
            "uar_std": head["uar_std"],
            "pooled": pooled,
            "per_fold_mean": per_fold,
            "n_seeds": len(seeds),
            "seeds": seeds,
        }
    first = next(iter(variants), "")
    return {
        "rule": POOLED_RULE if average == "pooled" else _PER_FOLD_RULE,
        "average": average,
        "class_names": list(class_names),
        "main_variant": main_variant if main_variant is not None else first,
        "variants": variants,
    }
