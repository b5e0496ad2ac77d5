"""Evaluation: metrics following the MEGC2019 rule."""

from microexpr.evaluation.metrics import (
    confusion_counts,
    per_fold_mean_scores,
    pooled_scores,
    uar_score,
    uf1_score,
)

__all__ = ["confusion_counts", "per_fold_mean_scores", "pooled_scores", "uar_score", "uf1_score"]
