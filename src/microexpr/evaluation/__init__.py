"""Evaluation: metrics following the MEGC2019 rule, and the MEGC spotting rule."""

from microexpr.evaluation.ensemble import average_probabilities
from microexpr.evaluation.metrics import (
    confusion_counts,
    per_fold_mean_scores,
    pooled_scores,
    uar_score,
    uf1_score,
)
from microexpr.evaluation.spotting_metrics import (
    SpottingCounts,
    interval_iou,
    match_intervals,
    pooled_spotting_counts,
    spotting_counts,
)

__all__ = [
    "SpottingCounts",
    "average_probabilities",
    "confusion_counts",
    "interval_iou",
    "match_intervals",
    "per_fold_mean_scores",
    "pooled_scores",
    "pooled_spotting_counts",
    "spotting_counts",
    "uar_score",
    "uf1_score",
]
