"""UF1 and UAR, the metrics of MEGC2019 and of the ATSCNN paper (eqs. 12-17).

UF1 is the unweighted mean over classes of the per-class F1; UAR the
unweighted mean over classes of the per-class recall. The MEGC2019 rule,
which is the default here, sums TP, FP and FN of each class over *all* LOSO
folds first ("pooled") and computes the scores once. Some repositories
average per-fold scores instead; :func:`per_fold_mean_scores` offers that,
labelled as such, because a fold with one test clip makes it unstable.

A class absent from both truth and predictions contributes F1 = 0 and
recall = 0 when ``labels`` names it (as scikit-learn with ``zero_division=0``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "confusion_counts",
    "per_fold_mean_scores",
    "pooled_scores",
    "uar_score",
    "uf1_score",
]


def _labels(y_true: np.ndarray, y_pred: np.ndarray, labels: ArrayLike | None) -> np.ndarray:
    if labels is None:
        return np.unique(np.concatenate([y_true, y_pred]))
    return np.asarray(labels)


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}"
        )
    return t, p


def confusion_counts(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> dict[str, np.ndarray]:
    """Per-class true positives, false positives and false negatives.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_clips,)
        True and predicted class indices.
    labels : array-like, optional
        Classes to count, in order; defaults to the sorted union of both.

    Returns
    -------
    dict
        ``labels``, ``tp``, ``fp``, ``fn`` (each an array over the labels).
    """
    t, p = _check_pair(y_true, y_pred)
    labs = _labels(t, p, labels)
    tp = np.array([np.sum((t == c) & (p == c)) for c in labs])
    fp = np.array([np.sum((t != c) & (p == c)) for c in labs])
    fn = np.array([np.sum((t == c) & (p != c)) for c in labs])
    return {"labels": labs, "tp": tp, "fp": fp, "fn": fn}


def _f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(len(tp), dtype=float), where=denom > 0)


def _recall_from_counts(tp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = tp + fn
    return np.divide(tp, denom, out=np.zeros(len(tp), dtype=float), where=denom > 0)


def uf1_score(y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None) -> float:
    """Unweighted F1: mean over classes of 2TP / (2TP + FP + FN).

    Equal to ``sklearn.metrics.f1_score(average="macro", zero_division=0)``.
    Pass the predictions of all folds concatenated to get the MEGC2019
    pooled UF1.
    """
    c = confusion_counts(y_true, y_pred, labels=labels)
    return float(np.mean(_f1_from_counts(c["tp"], c["fp"], c["fn"])))


def uar_score(y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None) -> float:
    """Unweighted average recall: mean over classes of TP / (TP + FN).

    Equal to ``sklearn.metrics.recall_score(average="macro", zero_division=0)``.
    """
    c = confusion_counts(y_true, y_pred, labels=labels)
    return float(np.mean(_recall_from_counts(c["tp"], c["fn"])))


def pooled_scores(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> dict[str, float]:
    """UF1 and UAR with counts pooled over all clips (the MEGC2019 rule).

    Returns
    -------
    dict
        ``uf1``, ``uar``, ``accuracy`` and ``n``.
    """
    t, p = _check_pair(y_true, y_pred)
    return {
        "uf1": uf1_score(t, p, labels=labels),
        "uar": uar_score(t, p, labels=labels),
        "accuracy": float(np.mean(t == p)) if len(t) else 0.0,
        "n": int(len(t)),
    }


def per_fold_mean_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    folds: Sequence[object] | ArrayLike,
    *,
    labels: ArrayLike | None = None,
) -> dict[str, float]:
    """UF1 and UAR computed per fold, then averaged over folds (NOT the MEGC rule).

    Each fold's scores use only the classes present in that fold's truth or
    predictions, as the repositories that report this figure do.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_clips,)
    folds : array-like of shape (n_clips,)
        Fold (held-out subject) of each clip.
    labels : array-like, optional
        Restrict each fold's classes to these.
    """
    t, p = _check_pair(y_true, y_pred)
    f = np.asarray(folds, dtype=object).ravel()
    if f.shape != t.shape:
        raise ValueError(f"folds must have length {t.shape[0]}, got {f.shape[0]}")
    uf1s, uars = [], []
    for fold in sorted(set(f.tolist()), key=str):
        m = f == fold
        present = np.unique(np.concatenate([t[m], p[m]]))
        if labels is not None:
            present = np.intersect1d(present, np.asarray(labels))
        uf1s.append(uf1_score(t[m], p[m], labels=present))
        uars.append(uar_score(t[m], p[m], labels=present))
    return {
        "uf1": float(np.mean(uf1s)) if uf1s else 0.0,
        "uar": float(np.mean(uars)) if uars else 0.0,
        "n_folds": len(uf1s),
    }
