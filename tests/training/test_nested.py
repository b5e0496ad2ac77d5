"""Nested LOSO selection: the held-out subject can never reach a choice."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.errors import ConfigError
from microexpr.training.nested import (
    Candidate,
    candidate_grid,
    hflip_flow,
    nested_loso,
    select_candidate,
    torch_fit_predict,
)
from microexpr.training.trainer import TrainSettings

N_SUBJECTS, PER_SUBJECT = 5, 9


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature 0 carries the label in every subject; feature 1 is noise."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(3), N_SUBJECTS * PER_SUBJECT // 3)
    x = rng.normal(size=(len(y), 2)).astype(np.float32)
    x[:, 0] += 3.0 * y
    groups = np.repeat([f"s{i}" for i in range(N_SUBJECTS)], PER_SUBJECT)
    return x, y, groups


class CentroidRecorder:
    """A nearest-centroid classifier on the candidate's feature; records what it is given."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, cand, x_train, y_train, x_test, seed):
        self.seen.append(x_train)
        self.seen.append(x_test)
        f = int(cand.model_options["feature"])
        centroids = np.array(
            [x_train[y_train == k, f].mean() if (y_train == k).any() else np.inf for k in range(3)]
        )
        d = -np.abs(x_test[:, f, None] - centroids[None])
        return np.exp(d) / np.exp(d).sum(axis=1, keepdims=True)


CANDIDATES = [
    Candidate("feature=1", "none", TrainSettings(epochs=1), {"feature": 1}),
    Candidate("feature=0", "none", TrainSettings(epochs=1), {"feature": 0}),
]


def test_inner_loso_picks_the_informative_setting():
    x, y, g = _data()
    sel = select_candidate(x, y, g, CANDIDATES, fit_predict=CentroidRecorder())
    assert sel.chosen == 1 and sel.scores[1] > 0.9 > sel.scores[0]
    assert sel.inner_folds == N_SUBJECTS


def test_held_out_labels_and_inputs_never_reach_a_choice():
    x, y, g = _data()
    base = nested_loso(x, y, g, CANDIDATES, fit_predict=CentroidRecorder())
    rng = np.random.default_rng(1)
    for fold in base:
        test = g == fold.test_subject
        x2, y2 = x.copy(), y.copy()
        y2[test] = rng.permutation(3 * np.ones(test.sum(), dtype=int) - y2[test] - 1)
        x2[test] = np.nan  # poisoned: any selection that touched them would see NaN
        recorder = CentroidRecorder()
        again = nested_loso(
            x2, y2, g, CANDIDATES, fit_predict=recorder, subjects=[fold.test_subject]
        )[0]
        assert again.selection == fold.selection  # every score, every choice identical
        # only the final prediction of the outer test subject received its (NaN) inputs
        poisoned = [i for i, a in enumerate(recorder.seen) if np.isnan(a).any()]
        assert poisoned == [len(recorder.seen) - 1]


def test_changing_a_training_subjects_labels_can_change_the_choice():
    x, y, g = _data()
    base = nested_loso(x, y, g, CANDIDATES, fit_predict=CentroidRecorder(), subjects=["s0"])[0]
    assert base.candidate == "feature=0"
    # relabel every TRAINING subject so that feature 1 predicts the label: the choice must follow
    x2, y2 = x.copy(), y.copy()
    train = g != "s0"
    y2[train] = np.tile(np.arange(3), train.sum() // 3)
    x2[train, 1] = 3.0 * y2[train] + 0.01 * np.arange(train.sum()) % 1
    x2[train, 0] = 0.0
    moved = nested_loso(x2, y2, g, CANDIDATES, fit_predict=CentroidRecorder(), subjects=["s0"])[0]
    assert moved.candidate == "feature=1"


def test_candidate_grid_and_bad_keys():
    grid = candidate_grid(
        "ststnet",
        TrainSettings(epochs=5, lr=1e-3),
        {"epochs": [1, 2], "augment": ["none", "hflip"], "model.dropout": [0.5]},
    )
    assert [c.name for c in grid][:2] == [
        "epochs=1,augment=none,model.dropout=0.5",
        "epochs=1,augment=hflip,model.dropout=0.5",
    ]
    assert grid[3].settings.epochs == 2 and grid[3].settings.lr == 1e-3
    assert grid[0].model_options == {"dropout": 0.5}
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        candidate_grid("ststnet", TrainSettings(), {"epoch": [1]})
    with pytest.raises(ConfigError, match="unknown \\['rotate'\\]"):
        candidate_grid("ststnet", TrainSettings(), {"augment": ["rotate"]})


def test_hflip_flow_mirrors_and_reverses_u():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    signed = hflip_flow(x, u_channel=0, u_max=None)
    np.testing.assert_array_equal(signed[:, 0], -x[:, 0, :, ::-1])
    np.testing.assert_array_equal(signed[:, 1:], x[:, 1:, :, ::-1])
    scaled = hflip_flow(x, u_channel=2, u_max=255.0)
    np.testing.assert_array_equal(scaled[:, 2], 255.0 - x[:, 2, :, ::-1])


def test_nested_loso_with_torch_training_on_three_subjects():
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(3), 6)
    x = rng.integers(0, 256, size=(len(y), 3, 28, 28)).astype(np.float32)
    g = np.repeat(["a", "b", "c"], 6)
    grid = candidate_grid(
        "ststnet", TrainSettings(epochs=1, batch_size=8, lr=1e-3), {"augment": ["none", "hflip"]}
    )
    folds = nested_loso(x, y, g, grid, fit_predict=torch_fit_predict)
    assert [f.test_subject for f in folds] == ["a", "b", "c"]
    assert all(f.proba.shape == (6, 3) for f in folds)
    assert all(len(f.selection.scores) == 2 and f.selection.inner_folds == 2 for f in folds)
