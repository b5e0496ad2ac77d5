"""Nested leave-one-subject-out selection: every choice made inside the training subjects.

For each outer fold (one held-out subject), :func:`nested_loso` hands ONLY the
outer training subjects' inputs, labels and subject keys to
:func:`select_candidate`, which runs an inner LOSO over those subjects for
every candidate setting (epochs, learning rate, augmentation, model
options...) and keeps the candidate with the best pooled inner UF1 (TP, FP,
FN summed over all inner folds, the MEGC2019 rule; ties go to the earlier
candidate in the grid). The chosen candidate is then trained on all outer
training subjects and predicts the outer test subject. The outer test
subject's inputs and labels are sliced away before any selection call: no
choice can depend on them (``tests/training/test_nested.py`` checks that
shuffling them leaves every choice identical, and that changing a training
subject's labels can change a choice).

The cost is the grid times the inner folds times the outer folds (for
MEGC2019: 68 x 67 x |grid| trainings); ``inner_groups`` trades the inner
LOSO for a leave-k-groups-of-subjects-out split to cut it.

Training goes through a ``fit_predict(candidate, x_train, y_train, x_test,
seed)`` callable; :func:`torch_fit_predict` is the default, built on
:func:`microexpr.training.trainer.fit` and
:func:`~microexpr.training.trainer.predict_proba`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from microexpr.errors import ConfigError
from microexpr.evaluation.metrics import pooled_scores
from microexpr.models import create_model
from microexpr.training.trainer import TrainSettings, fit, predict_proba, seed_everything

__all__ = [
    "AUGMENTATIONS",
    "Candidate",
    "NestedFold",
    "Selection",
    "candidate_grid",
    "hflip_flow",
    "nested_loso",
    "select_candidate",
    "torch_fit_predict",
]


@dataclass(frozen=True)
class Candidate:
    """One setting the inner LOSO may choose.

    Attributes
    ----------
    name : str
        Readable, unique label (``epochs=300,lr=5e-05,augment=hflip``).
    model : str
        Registry name.
    model_options : dict
        Options of the model.
    settings : TrainSettings
        Optimisation settings (epochs, lr, batch size, weight decay).
    augment : str
        ``none`` or a key of :data:`AUGMENTATIONS`.
    """

    name: str
    model: str
    settings: TrainSettings
    model_options: dict[str, Any] = field(default_factory=dict)
    augment: str = "none"


@dataclass(frozen=True)
class Selection:
    """What one inner LOSO chose, and the score of every candidate.

    Attributes
    ----------
    chosen : int
        Index of the chosen candidate.
    scores : list of float
        Pooled inner UF1 of each candidate, in grid order.
    inner_folds : int
        Number of inner folds.
    subjects : tuple of str
        The subjects the selection saw (the outer training subjects only).
    """

    chosen: int
    scores: list[float]
    inner_folds: int
    subjects: tuple[str, ...]


@dataclass
class NestedFold:
    """One outer fold: the choice and the held-out subject's predictions."""

    test_subject: str
    test_indices: list[int]
    selection: Selection
    candidate: str
    proba: np.ndarray


FitPredict = Callable[[Candidate, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def hflip_flow(x: np.ndarray, *, u_channel: int, u_max: float | None) -> np.ndarray:
    """Mirror flow inputs left-right: flip the width axis and reverse horizontal motion.

    Parameters
    ----------
    x : ndarray of shape (n, C, H, W)
    u_channel : int
        Index of the horizontal-flow channel.
    u_max : float or None
        None for signed flows (u becomes -u); the top of the range for
        per-clip min-max scaled images (u becomes ``u_max - u``, which is what
        normalising -u gives).
    """
    out = np.ascontiguousarray(x[..., ::-1])
    out[:, u_channel] = -out[:, u_channel] if u_max is None else u_max - out[:, u_channel]
    return out


#: Augmentations a candidate may name (besides ``none``).
AUGMENTATIONS: tuple[str, ...] = ("hflip",)


def _augment(name: str, x: np.ndarray, cfg: Mapping[str, Any], u_max: float | None) -> np.ndarray:
    """Extra training inputs of augmentation ``name`` (``hflip``: the mirrored clips)."""
    kind = cfg.get("inputs")
    if name != "hflip":
        raise ConfigError(f"unknown augmentation {name!r}; known: none, {', '.join(AUGMENTATIONS)}")
    if kind == "flow_image":  # (strain, v, u) as stored, min-max scaled per clip
        return hflip_flow(x, u_channel=2, u_max=u_max if u_max is not None else 255.0)
    if kind in ("uvs", "uv"):
        return hflip_flow(x, u_channel=0, u_max=u_max)
    raise ConfigError(f"augmentation 'hflip' needs flow inputs; the model takes {kind!r}")


def candidate_grid(
    model: str,
    base: TrainSettings,
    grid: Mapping[str, Sequence[Any]],
    *,
    model_options: Mapping[str, Any] | None = None,
) -> list[Candidate]:
    """All combinations of ``grid`` as candidates, in a fixed order.

    Parameters
    ----------
    model : str
        Registry name.
    base : TrainSettings
        Settings the grid values replace.
    grid : mapping of str to list
        ``epochs``, ``lr``, ``batch_size``, ``weight_decay`` (training
        settings), ``augment`` (``none``/``hflip``) and ``model.<option>``
        (model options), each a list of values.
    model_options : mapping, optional
        Model options shared by every candidate.

    Returns
    -------
    list of Candidate
        The first key varies slowest.
    """
    train_keys = {"epochs", "lr", "batch_size", "weight_decay"}
    for key, values in grid.items():
        if key not in train_keys | {"augment"} and not key.startswith("model."):
            raise ConfigError(
                f"nested.grid: unknown key {key!r}; use {sorted(train_keys)}, 'augment' "
                "or 'model.<option>'"
            )
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"nested.grid.{key}: give a non-empty list, got {values!r}")
        if key == "augment":
            bad = [v for v in values if v != "none" and v not in AUGMENTATIONS]
            if bad:
                raise ConfigError(
                    f"nested.grid.augment: unknown {bad}; known: none, {', '.join(AUGMENTATIONS)}"
                )
    combos: list[dict[str, Any]] = [{}]
    for key, values in grid.items():
        combos = [{**c, key: v} for c in combos for v in values]
    out = []
    for combo in combos:
        settings = replace(base, **{k: v for k, v in combo.items() if k in train_keys})
        options = dict(model_options or {})
        options.update({k[6:]: v for k, v in combo.items() if k.startswith("model.")})
        name = ",".join(f"{k}={v}" for k, v in combo.items()) or "base"
        out.append(Candidate(name, model, settings, options, str(combo.get("augment", "none"))))
    return out


def torch_fit_predict(
    candidate: Candidate,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    seed: int,
    *,
    u_max: float | None = None,
) -> np.ndarray:
    """Train a fresh model of ``candidate`` on the given clips; class probabilities of ``x_test``.

    ``u_max``: the top of the u channel's range when the inputs are per-clip
    min-max scaled flow images (1.0 for a flow set's ``uvs`` inputs; a
    ``flow_image`` model's raw images default to 255), None for signed flows
    in pixels; only ``augment: hflip`` uses it.
    """
    seed_everything(seed)
    model = create_model(candidate.model, **candidate.model_options)
    if candidate.augment != "none":
        extra = _augment(candidate.augment, x_train, model.default_cfg, u_max)
        x_train = np.concatenate([x_train, extra])
        y_train = np.concatenate([y_train, y_train])
    fit(
        model,
        torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)),
        torch.from_numpy(np.asarray(y_train, dtype=np.int64)),
        candidate.settings,
        seed=seed,
    )
    return predict_proba(
        model,
        torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float32)),
        device=candidate.settings.device,
    )


def _inner_splits(groups: np.ndarray, inner_groups: int | None) -> list[np.ndarray]:
    subjects = sorted(set(groups.tolist()))
    if inner_groups is None or inner_groups >= len(subjects):
        return [np.asarray([s]) for s in subjects]
    if inner_groups < 2:
        raise ConfigError(f"nested.inner_groups == {inner_groups}, must be >= 2")
    return [np.asarray(subjects[i::inner_groups]) for i in range(inner_groups)]


def select_candidate(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    candidates: Sequence[Candidate],
    *,
    fit_predict: FitPredict = torch_fit_predict,
    seed: int = 0,
    labels: Sequence[int] = (0, 1, 2),
    inner_groups: int | None = None,
) -> Selection:
    """Choose a candidate by LOSO inside the given (training) subjects.

    Parameters
    ----------
    x, y : ndarray
        Inputs and labels of the outer training subjects ONLY.
    groups : sequence of str
        Subject key of each row.
    candidates : sequence of Candidate
    fit_predict : callable
        ``fit_predict(candidate, x_train, y_train, x_test, seed)`` ->
        probabilities (n_test, n_classes).
    seed : int
        Seed of every inner training.
    labels : sequence of int
        Classes scored by the pooled UF1.
    inner_groups : int, optional
        Split the subjects into this many groups instead of one fold per subject.

    Returns
    -------
    Selection
        The candidate with the best pooled inner UF1 (the first on ties).
    """
    g = np.asarray(list(groups), dtype=object)
    if len(set(g.tolist())) < 2:
        raise ConfigError("nested selection needs at least 2 training subjects")
    if not candidates:
        raise ConfigError("nested selection needs at least one candidate")
    splits = _inner_splits(g, inner_groups)
    scores = []
    for cand in candidates:
        preds = np.empty(len(y), dtype=np.int64)
        for held in splits:
            test = np.isin(g, held)
            proba = fit_predict(cand, x[~test], y[~test], x[test], seed)
            preds[test] = np.asarray(proba).argmax(axis=1)
        scores.append(float(pooled_scores(y, preds, labels=list(labels))["uf1"]))
    chosen = int(np.argmax(scores))  # first maximum: ties go to the earlier candidate
    return Selection(chosen, scores, len(splits), tuple(sorted(set(g.tolist()))))


def nested_loso(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    candidates: Sequence[Candidate],
    *,
    fit_predict: FitPredict = torch_fit_predict,
    seed: int = 0,
    labels: Sequence[int] = (0, 1, 2),
    inner_groups: int | None = None,
    subjects: Sequence[str] | None = None,
    x_test: np.ndarray | None = None,
    on_fold: Callable[[NestedFold], None] | None = None,
) -> list[NestedFold]:
    """Outer LOSO whose every choice is made by an inner LOSO on the training subjects.

    Parameters
    ----------
    x, y : ndarray
        Inputs (n, ...) and labels (n,) of all clips.
    groups : sequence of str
        Subject key of each clip.
    candidates : sequence of Candidate
    fit_predict, seed, labels, inner_groups
        As :func:`select_candidate`.
    subjects : sequence of str, optional
        Outer folds to run (default: every subject, sorted).
    x_test : ndarray, optional
        Inputs the outer test subject is predicted from, row-aligned with
        ``x`` (a flow set's per-fold ``loso_test`` images); default ``x``.
    on_fold : callable, optional
        Called with each finished :class:`NestedFold`.

    Returns
    -------
    list of NestedFold
    """
    g = np.asarray(list(groups), dtype=object)
    folds = []
    for subject in subjects if subjects is not None else sorted(set(g.tolist())):
        test = g == subject
        train = ~test
        # the selection sees the outer training subjects' rows, nothing else
        selection = select_candidate(
            x[train],
            y[train],
            g[train].tolist(),
            candidates,
            fit_predict=fit_predict,
            seed=seed,
            labels=labels,
            inner_groups=inner_groups,
        )
        best = candidates[selection.chosen]
        source = x if x_test is None else x_test
        proba = np.asarray(fit_predict(best, x[train], y[train], source[test], seed))
        fold = NestedFold(str(subject), np.flatnonzero(test).tolist(), selection, best.name, proba)
        if on_fold is not None:
            on_fold(fold)
        folds.append(fold)
    return folds
