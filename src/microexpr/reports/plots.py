"""PNG plots of LOSO results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_confusion_matrix", "plot_training_curves"]


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """Save a confusion matrix (rows true, columns predicted) with counts and row shares."""
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (all folds pooled)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_training_curves(
    curves: Mapping[str, Sequence[Sequence[float]]], path: str | Path, *, title: str = ""
) -> Path:
    """Save the training loss per epoch of each model: the mean over its runs, band min..max.

    The one training-curve plot: a LOSO run passes one loss curve per fold
    and seed for each variant; a final model passes ``{name: [losses]}``.

    Parameters
    ----------
    curves : mapping of str to sequences of loss curves
        Per model, its runs' loss per epoch (runs of equal length).
    path : str or Path
        PNG to write.
    title : str
        Plot title (default: says what the band is).
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    for name, fold_curves in curves.items():
        arr = np.asarray([c for c in fold_curves if len(c)], dtype=float)
        if arr.size == 0:
            continue
        epochs = np.arange(1, arr.shape[1] + 1)
        ax.plot(epochs, arr.mean(axis=0), label=name)
        ax.fill_between(epochs, arr.min(axis=0), arr.max(axis=0), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(title or "training loss, mean over folds (band: min..max)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
