"""Figures of a prediction: a panel per candidate, the motion over time.

PNG files with matplotlib's Agg backend (no display needed). The functions
take plain arrays, so they serve any model and any input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["PlotInterval", "plot_candidate_panel", "plot_motion"]


@dataclass(frozen=True)
class PlotInterval:
    """An interval to mark on the motion plot.

    Attributes
    ----------
    start, end : float
        Times in seconds.
    apex : float or None
        Apex time in seconds.
    label : str
        Text written at the apex (class and probability).
    """

    start: float
    end: float
    apex: float | None = None
    label: str = ""


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_candidate_panel(
    path: str | Path,
    *,
    onset: np.ndarray,
    apex: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    strain: np.ndarray,
    attention: np.ndarray | None,
    title: str,
    probabilities: Mapping[str, float] | None = None,
) -> Path:
    """Save one candidate's panel: onset, apex, u, v, strain, spatial attention.

    Parameters
    ----------
    path : str or Path
        PNG file.
    onset, apex : ndarray of shape (H, W), uint8
        Aligned grayscale faces.
    u, v : ndarray of shape (H, W)
        Flow from onset to apex, in pixels (shown on a symmetric scale).
    strain : ndarray of shape (H, W)
        Optical strain magnitude.
    attention : ndarray of shape (H, W) or None
        Spatial attention upsampled to the face (sigmoid outputs, 0..1),
        drawn over the apex face on its own colour scale; None when the model
        has none.
    title : str
        Figure title (frames, times, class).
    probabilities : mapping of str to float, optional
        Class probabilities, written under the title.
    """
    fig, axes = plt.subplots(1, 6, figsize=(15, 3.1), dpi=100)
    axes[0].imshow(onset, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("onset face")
    axes[1].imshow(apex, cmap="gray", vmin=0, vmax=255)
    axes[1].set_title("apex face")
    limit = float(max(np.abs(u).max(initial=0), np.abs(v).max(initial=0), 1e-6))
    for ax, field, name in ((axes[2], u, "u (horizontal flow)"), (axes[3], v, "v (vertical flow)")):
        im = ax.imshow(field, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="px")
    im = axes[4].imshow(strain, cmap="magma", vmin=0)
    axes[4].set_title("optical strain")
    fig.colorbar(im, ax=axes[4], fraction=0.046, pad=0.03)
    axes[5].imshow(apex, cmap="gray", vmin=0, vmax=255)
    if attention is not None:
        im = axes[5].imshow(attention, cmap="jet", alpha=0.45)
        fig.colorbar(im, ax=axes[5], fraction=0.046, pad=0.03)
        axes[5].set_title("CBAM spatial attention")
    else:
        axes[5].set_title("no spatial attention\nin this model", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    text = title
    if probabilities:
        text += "\n" + "   ".join(f"{k}: {p:.2f}" for k, p in probabilities.items())
    fig.suptitle(text, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def plot_motion(
    path: str | Path,
    times: Sequence[float],
    motion: Sequence[float],
    *,
    threshold: Sequence[float] | None = None,
    intervals: Sequence[PlotInterval] = (),
    no_face: Sequence[tuple[float, float]] = (),
    dropped: Sequence[tuple[float, float]] = (),
    title: str = "",
    signal_label: str = "motion vs neutral reference",
    ylabel: str = "motion (px, aligned face)",
) -> Path:
    """Save the motion signal over time with the spotted intervals marked.

    Parameters
    ----------
    path : str or Path
        PNG file.
    times, motion : sequence of float
        Seconds and signal (pixels of the aligned face; NaN where no face).
    threshold : sequence of float, optional
        Onset threshold at each time.
    intervals : sequence of PlotInterval
        Spotted candidates (shaded, apex marked and labelled).
    no_face : sequence of (start, end)
        Times without a face (grey).
    dropped : sequence of (start, end)
        Movements too long to be micro-expressions (hatched).
    title : str
    signal_label, ylabel : str
        Legend entry of the signal and label of its axis.
    """
    fig, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
    t = np.asarray(times, dtype=float)
    m = np.asarray(motion, dtype=float)
    ax.plot(t, m, color="black", lw=1.0, label=signal_label)
    if threshold is not None:
        ax.plot(
            t,
            np.asarray(threshold, float),
            color="tab:red",
            lw=0.8,
            ls="--",
            label="threshold",
        )
    for k, (a, b) in enumerate(no_face):
        ax.axvspan(a, b, color="0.8", alpha=0.6, label="no face" if k == 0 else None)
    for k, (a, b) in enumerate(dropped):
        ax.axvspan(
            a,
            b,
            fill=False,
            hatch="//",
            edgecolor="0.5",
            lw=0,
            label="too long for a micro-expression" if k == 0 else None,
        )
    top = float(np.nanmax(m)) if np.isfinite(m).any() else 1.0
    for k, iv in enumerate(intervals):
        ax.axvspan(
            iv.start,
            iv.end,
            color="tab:orange",
            alpha=0.3,
            label="spotted (onset-offset)" if k == 0 else None,
        )
        if iv.apex is not None:
            ax.axvline(iv.apex, color="tab:orange", lw=1.2)
            ax.text(iv.apex, top * 1.02, iv.label, ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(top * 1.18, 1e-3))
    if len(t):
        ax.set_xlim(t.min(), max(t.max(), t.min() + 1e-3))
    ax.set_title(title or "motion over time", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)
