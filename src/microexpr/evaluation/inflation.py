"""The "test-picked" figure: what a run would publish had it kept the best test-subject epoch.

Several published MEGC2019 results (HTNet, CausalNet, ...) evaluate the test
subject after every epoch and keep, per fold, the epoch that scores best on
that same subject. That is selection on the test set: the figure is not an
estimate of how the model does on new people. microexpr never does it for its
own figures (the last epoch's model is evaluated); this module computes the
inflated figure beside the honest one, from per-epoch test predictions that
are recorded for it alone (``TrainSettings.record_test_curve``, stored in
``FoldResult.test_curve``), so the size of the inflation can be shown.

The picking rule, per fold: the epoch whose predictions have the highest
accuracy on that fold's test clips, the earliest epoch on ties. The picked
predictions of all folds are then pooled and scored with the MEGC2019 rule
(:func:`~microexpr.evaluation.metrics.pooled_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from microexpr.evaluation.metrics import pooled_scores

if TYPE_CHECKING:
    from microexpr.training.engine import FoldResult

__all__ = [
    "TEST_PICKED_LABEL",
    "best_test_epoch",
    "has_test_curves",
    "picked_predictions",
    "picked_scores",
]

#: How every test-picked figure is labelled wherever it is shown.
TEST_PICKED_LABEL = "test-picked, as commonly published — not a valid estimate"


def best_test_epoch(curve: Sequence[Sequence[int]], y_true: ArrayLike) -> int:
    """Index of the epoch whose predictions are most accurate on ``y_true`` (earliest on ties).

    Parameters
    ----------
    curve : sequence of sequences of int, shape (n_epochs, n_test_clips)
        Predicted class of every test clip after each epoch.
    y_true : array-like of shape (n_test_clips,)

    Returns
    -------
    int
        0-based index into ``curve`` (epoch ``index + 1``).

    Raises
    ------
    ValueError
        ``curve`` is empty or a row's length differs from ``y_true``'s.
    """
    t = np.asarray(y_true).ravel()
    if len(curve) == 0:
        raise ValueError("test curve is empty (record it with training.record_test_curve)")
    preds = np.asarray(curve)
    if preds.ndim != 2 or preds.shape[1] != t.shape[0]:
        raise ValueError(
            f"test curve rows must each hold {t.shape[0]} predictions, got shape {preds.shape}"
        )
    correct = (preds == t[None, :]).sum(axis=1)
    return int(np.argmax(correct))  # argmax returns the first maximum: the earliest epoch


def has_test_curves(results: Sequence[FoldResult]) -> bool:
    """Whether every result carries a per-epoch test curve (and there is at least one)."""
    return bool(results) and all(len(r.test_curve) > 0 for r in results)


def picked_predictions(results: Sequence[FoldResult]) -> list[dict[str, Any]]:
    """Each fold's predictions at its best test-subject epoch, one row per test clip.

    Parameters
    ----------
    results : sequence of FoldResult
        With ``test_curve`` recorded.

    Returns
    -------
    list of dict
        ``variant``, ``seed``, ``fold`` (held-out subject), ``test_index``,
        ``label``, ``prediction`` and ``epoch`` (1-based epoch picked).

    Raises
    ------
    ValueError
        A result has no test curve.
    """
    rows: list[dict[str, Any]] = []
    for res in results:
        if not res.test_curve:
            raise ValueError(
                f"{res.variant} seed {res.seed} fold {res.test_subject}: no test curve recorded "
                "(training.record_test_curve was off)"
            )
        epoch = best_test_epoch(res.test_curve, res.y_true)
        for idx, t, p in zip(res.test_indices, res.y_true, res.test_curve[epoch], strict=True):
            rows.append(
                {
                    "variant": res.variant,
                    "seed": res.seed,
                    "fold": res.test_subject,
                    "test_index": int(idx),
                    "label": int(t),
                    "prediction": int(p),
                    "epoch": epoch + 1,
                }
            )
    return rows


def picked_scores(
    results: Sequence[FoldResult], *, labels: ArrayLike | None = None
) -> dict[str, Any]:
    """Pooled UF1/UAR of the test-picked predictions of one run (one variant and seed).

    Parameters
    ----------
    results : sequence of FoldResult
        Every fold of the run, with test curves.
    labels : array-like, optional
        Classes scored (as :func:`~microexpr.evaluation.metrics.pooled_scores`).

    Returns
    -------
    dict
        ``uf1``, ``uar``, ``accuracy``, ``n`` (pooled over folds, MEGC2019 rule),
        ``epochs`` (the 1-based epoch picked per fold, by subject) and
        ``label`` (:data:`TEST_PICKED_LABEL`).
    """
    rows = picked_predictions(results)
    t = np.array([r["label"] for r in rows], dtype=np.int64)
    p = np.array([r["prediction"] for r in rows], dtype=np.int64)
    scores: dict[str, Any] = dict(pooled_scores(t, p, labels=labels))
    scores["epochs"] = {r["fold"]: r["epoch"] for r in rows}
    scores["label"] = TEST_PICKED_LABEL
    return scores
