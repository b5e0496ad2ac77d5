"""Leave-one-subject-out (LOSO) folds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Fold", "loso_folds"]


@dataclass(frozen=True)
class Fold:
    """One LOSO fold.

    Attributes
    ----------
    index : int
        Position of the fold (folds are ordered by subject key).
    test_subject : str
        The held-out subject key.
    train_indices, test_indices : tuple of int
        Indices into the clip list; disjoint, and no training clip belongs to
        ``test_subject``.
    """

    index: int
    test_subject: str
    train_indices: tuple[int, ...]
    test_indices: tuple[int, ...]


def loso_folds(groups: Sequence[str]) -> list[Fold]:
    """Split clips into leave-one-subject-out folds.

    Parameters
    ----------
    groups : sequence of str
        Subject key of each clip (``ClipRecord.group``), shape (n_clips,).

    Returns
    -------
    list of Fold
        One fold per distinct subject, sorted by subject key; every clip is
        in exactly one test set.
    """
    keys = np.asarray(list(groups), dtype=object)
    folds = []
    for index, subject in enumerate(sorted(set(keys.tolist()))):
        test = np.flatnonzero(keys == subject)
        train = np.flatnonzero(keys != subject)
        folds.append(Fold(index, subject, tuple(train.tolist()), tuple(test.tolist())))
    return folds
