"""Soft-voting ensembles of finished LOSO runs: no choice, so nothing to select.

An ensemble here is a fixed rule stated before any score is seen: every
member's class probabilities for a clip are averaged with equal weights and
the class with the highest mean is predicted (the lowest class index on an
exact tie). No weight, member or threshold is fitted, so no figure of the
held-out subject can reach a choice: there is none. Each member is an
ordinary LOSO run whose model for a clip never saw that clip's subject, so
the average of those models never did either.

Members are predictions tables in the layout the LOSO runs write
(``predictions.csv``: one row per clip with ``dataset``, ``subject``,
``clip``, ``fold``, ``label``, ``prediction`` and one ``p_<class>`` column
per class).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["CLIP_KEY", "PROBA_PREFIX", "average_probabilities"]

#: Columns that name one clip in a predictions table.
CLIP_KEY = ("dataset", "subject", "clip")

#: Prefix of the class-probability columns.
PROBA_PREFIX = "p_"


def _proba_columns(frame: pd.DataFrame, name: str) -> list[str]:
    cols = [c for c in frame.columns if c.startswith(PROBA_PREFIX)]
    if not cols:
        raise ValueError(f"{name}: no class-probability columns ({PROBA_PREFIX}<class>)")
    return cols


def average_probabilities(
    members: Sequence[pd.DataFrame], *, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Equal-weight soft vote over the predictions tables of finished runs.

    Parameters
    ----------
    members : sequence of DataFrame
        One predictions table per member run (at least one), each with one
        row per clip.
    names : sequence of str, optional
        Member names for error messages (default ``member 0``, ``member 1``...).

    Returns
    -------
    DataFrame
        One row per clip in the first member's order: the clip key, ``fold``,
        ``label``, the averaged ``p_<class>`` columns and ``prediction`` (their
        argmax, as a class index in the order of the probability columns).

    Raises
    ------
    ValueError
        No member; a member without probability columns, with other classes
        than the first, with a clip twice, or whose clips or labels differ
        from the first member's (the message names the member and a clip).
    """
    if not members:
        raise ValueError("an ensemble needs at least one member")
    names = list(names) if names is not None else [f"member {i}" for i in range(len(members))]
    first = members[0]
    cols = _proba_columns(first, names[0])
    key = list(CLIP_KEY)
    base = first[key + ["fold", "label"]].reset_index(drop=True)
    index = pd.MultiIndex.from_frame(base[key])
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise ValueError(f"{names[0]}: clip {'/'.join(map(str, dup))} appears twice")
    total = np.zeros((len(base), len(cols)), dtype=np.float64)
    for name, frame in zip(names, members, strict=True):
        if _proba_columns(frame, name) != cols:
            raise ValueError(f"{name}: classes {_proba_columns(frame, name)} differ from {cols}")
        other = frame.set_index(key)
        if other.index.has_duplicates:
            dup = other.index[other.index.duplicated()][0]
            raise ValueError(f"{name}: clip {'/'.join(map(str, dup))} appears twice")
        missing = index.difference(other.index)
        extra = other.index.difference(index)
        if len(missing) or len(extra):
            clip = (missing if len(missing) else extra)[0]
            where = "lacks" if len(missing) else "has an extra"
            raise ValueError(f"{name} {where} clip {'/'.join(map(str, clip))}")
        aligned = other.reindex(index)
        if not np.array_equal(aligned["label"].to_numpy(), base["label"].to_numpy()):
            bad = np.flatnonzero(aligned["label"].to_numpy() != base["label"].to_numpy())[0]
            raise ValueError(
                f"{name}: clip {'/'.join(map(str, index[bad]))} has label "
                f"{aligned['label'].iloc[bad]}, not {base['label'].iloc[bad]}"
            )
        total += aligned[cols].to_numpy(dtype=np.float64)
    mean = total / len(members)
    out = base.copy()
    for j, col in enumerate(cols):
        out[col] = mean[:, j]
    out["prediction"] = mean.argmax(axis=1)
    return out
