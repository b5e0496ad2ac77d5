"""Scoring spotted intervals with the MEGC spotting rule.

The rule of the MEGC spotting challenges (MEGC2020-2022, long videos of
CAS(ME)^2 and SAMM Long Videos): a spotted interval ``W_spot`` is a true
positive when its temporal intersection over union with a ground-truth
interval ``W_gt`` is at least 0.5,

    |W_spot ∩ W_gt| / |W_spot ∪ W_gt| >= 0.5,

each ground-truth interval being matched at most once and each spotted
interval at most once. Intervals are ``(onset, offset)`` frame numbers,
both inclusive (an interval of one frame has length 1), as the annotation
sheets give them. Then, with ``TP`` matches, ``n_pred`` spotted and
``n_true`` ground-truth intervals, ``FP = n_pred - TP`` and
``FN = n_true - TP``; precision, recall and F1 are computed once from the
counts summed over all videos (:func:`pooled_spotting_counts`), as the
challenge does, not averaged over videos.

Matching: candidate pairs with IoU >= the threshold are taken greedily by
decreasing IoU (ties: earlier true interval, then earlier prediction). When
the true intervals do not overlap each other (or the predictions do not), a
prediction can reach IoU >= 0.5 with at most one true interval, since more
than half of it must lie inside that one, so the greedy matching is then
also a maximum matching.

False alarms per minute: ``FP`` divided by the minutes of footage scored
(given by the caller: the frames with a face, or the whole video).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "IOU_THRESHOLD",
    "SpottingCounts",
    "check_intervals",
    "interval_iou",
    "match_intervals",
    "pooled_spotting_counts",
    "spotting_counts",
]

#: Temporal IoU at or above which a spotted interval hits a true one (MEGC).
IOU_THRESHOLD = 0.5

Interval = tuple[int, int]


def check_intervals(intervals: Iterable[Sequence[int]], name: str = "intervals") -> list[Interval]:
    """Validate ``(onset, offset)`` frame intervals; return them as integer tuples.

    Parameters
    ----------
    intervals : iterable of (onset, offset)
        Frame numbers, both inclusive, ``0 <= onset <= offset``.
    name : str
        Used in error messages.

    Returns
    -------
    list of tuple of int

    Raises
    ------
    ValueError
        If an interval is not two integers with ``0 <= onset <= offset``.
    """
    out: list[Interval] = []
    for i, item in enumerate(intervals):
        try:
            onset, offset = item
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{i}] == {item!r}, must be (onset, offset)") from None
        for value in (onset, offset):
            if isinstance(value, bool) or not float(value).is_integer():
                raise ValueError(
                    f"{name}[{i}] == {item!r}: onset and offset must be whole frame numbers"
                )
        onset, offset = int(onset), int(offset)
        if onset < 0 or offset < onset:
            raise ValueError(f"{name}[{i}] == ({onset}, {offset}), must have 0 <= onset <= offset")
        out.append((onset, offset))
    return out


def interval_iou(a: Sequence[int], b: Sequence[int]) -> float:
    """Temporal IoU of two inclusive frame intervals ``(onset, offset)``.

    Examples
    --------
    >>> interval_iou((10, 19), (15, 24))  # 5 shared frames of 15
    0.3333333333333333
    """
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


def match_intervals(
    true: Iterable[Sequence[int]],
    pred: Iterable[Sequence[int]],
    *,
    threshold: float = IOU_THRESHOLD,
) -> list[tuple[int, int, float]]:
    """One-to-one matches of spotted to true intervals with IoU >= ``threshold``.

    Parameters
    ----------
    true, pred : iterable of (onset, offset)
        Inclusive frame intervals.
    threshold : float
        Lowest temporal IoU of a hit (0.5 in MEGC), in (0, 1].

    Returns
    -------
    list of (true index, pred index, iou)
        Sorted by true index.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold == {threshold!r}, must be in (0, 1]")
    t = check_intervals(true, "true")
    p = check_intervals(pred, "pred")
    pairs = []
    for i, a in enumerate(t):
        for j, b in enumerate(p):
            iou = interval_iou(a, b)
            if iou >= threshold:
                pairs.append((-iou, i, j))
    pairs.sort()
    used_t: set[int] = set()
    used_p: set[int] = set()
    matches = []
    for neg, i, j in pairs:
        if i in used_t or j in used_p:
            continue
        used_t.add(i)
        used_p.add(j)
        matches.append((i, j, -neg))
    return sorted(matches)


@dataclass(frozen=True)
class SpottingCounts:
    """Counts of the MEGC spotting rule, and the scores they give.

    Counts add up over videos (``a + b``); scores are computed from the sums.

    Attributes
    ----------
    tp : int
        Spotted intervals that hit a true one.
    n_true : int
        True intervals.
    n_pred : int
        Spotted intervals.
    minutes : float
        Minutes of footage scored (for false alarms per minute); 0 if unknown.
    """

    tp: int
    n_true: int
    n_pred: int
    minutes: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.tp <= min(self.n_true, self.n_pred):
            raise ValueError(
                f"tp == {self.tp}, must be in [0, min(n_true, n_pred)] == "
                f"[0, {min(self.n_true, self.n_pred)}]"
            )
        if self.minutes < 0:
            raise ValueError(f"minutes == {self.minutes!r}, must be >= 0")

    @property
    def fp(self) -> int:
        """Spotted intervals that hit nothing."""
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        """True intervals not hit."""
        return self.n_true - self.tp

    def precision(self, *, zero_division: float = 0.0) -> float:
        """TP / spotted; ``zero_division`` when nothing was spotted."""
        return self.tp / self.n_pred if self.n_pred else zero_division

    def recall(self, *, zero_division: float = 0.0) -> float:
        """TP / true; ``zero_division`` when there is no true interval."""
        return self.tp / self.n_true if self.n_true else zero_division

    def f1(self, *, zero_division: float = 0.0) -> float:
        """2 TP / (2 TP + FP + FN); ``zero_division`` with no interval on either side."""
        denom = self.n_true + self.n_pred
        return 2 * self.tp / denom if denom else zero_division

    def false_alarms_per_minute(self) -> float:
        """FP per minute of footage; NaN when ``minutes`` is 0."""
        return self.fp / self.minutes if self.minutes > 0 else math.nan

    def __add__(self, other: SpottingCounts) -> SpottingCounts:
        if not isinstance(other, SpottingCounts):
            return NotImplemented
        return SpottingCounts(
            self.tp + other.tp,
            self.n_true + other.n_true,
            self.n_pred + other.n_pred,
            self.minutes + other.minutes,
        )

    def as_dict(self, *, zero_division: float = 0.0) -> dict[str, float]:
        """Counts and scores, for tables."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "n_true": self.n_true,
            "n_pred": self.n_pred,
            "precision": self.precision(zero_division=zero_division),
            "recall": self.recall(zero_division=zero_division),
            "f1": self.f1(zero_division=zero_division),
            "minutes": self.minutes,
            "false_alarms_per_minute": self.false_alarms_per_minute(),
        }


def spotting_counts(
    true: Iterable[Sequence[int]],
    pred: Iterable[Sequence[int]],
    *,
    threshold: float = IOU_THRESHOLD,
    minutes: float = 0.0,
) -> SpottingCounts:
    """Score one video's spotted intervals against its true intervals.

    Parameters
    ----------
    true, pred : iterable of (onset, offset)
        Inclusive frame intervals.
    threshold : float
        Lowest temporal IoU of a hit (0.5 in MEGC).
    minutes : float
        Minutes of footage scored (for false alarms per minute).

    Returns
    -------
    SpottingCounts

    Examples
    --------
    >>> c = spotting_counts([(10, 19), (40, 49)], [(12, 21), (60, 65)])
    >>> (c.tp, c.fp, c.fn, round(c.f1(), 2))
    (1, 1, 1, 0.5)
    """
    t = check_intervals(true, "true")
    p = check_intervals(pred, "pred")
    tp = len(match_intervals(t, p, threshold=threshold))
    return SpottingCounts(tp, len(t), len(p), float(minutes))


def pooled_spotting_counts(counts: Iterable[SpottingCounts]) -> SpottingCounts:
    """Sum per-video counts (the MEGC overall score is computed from the sum)."""
    total = SpottingCounts(0, 0, 0, 0.0)
    for c in counts:
        total = total + c
    return total
