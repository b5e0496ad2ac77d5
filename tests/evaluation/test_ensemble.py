import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from microexpr.evaluation.ensemble import average_probabilities
from microexpr.evaluation.metrics import pooled_scores


def _run(probas, labels=(0, 1, 2), clips=("a", "b", "c")):
    p = np.asarray(probas, dtype=float)
    return pd.DataFrame(
        {
            "dataset": "casme2",
            "subject": ["s1", "s1", "s2"][: len(clips)],
            "clip": list(clips),
            "fold": ["casme2/s1", "casme2/s1", "casme2/s2"][: len(clips)],
            "label": list(labels),
            "prediction": p.argmax(1),
            "p_negative": p[:, 0],
            "p_positive": p[:, 1],
            "p_surprise": p[:, 2],
        }
    )


def test_hand_worked_soft_vote():
    a = _run([[0.6, 0.4, 0.0], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    b = _run([[0.2, 0.8, 0.0], [0.1, 0.3, 0.6], [0.1, 0.1, 0.8]])
    # shuffled rows: members are matched by clip, not by position
    ens = average_probabilities([a, b.iloc[[2, 0, 1]]])
    np.testing.assert_allclose(ens["p_negative"], [0.4, 0.1, 0.15])
    np.testing.assert_allclose(ens["p_positive"], [0.6, 0.4, 0.15])
    np.testing.assert_allclose(ens["p_surprise"], [0.0, 0.5, 0.7])
    assert ens["prediction"].tolist() == [1, 2, 2]
    assert ens["clip"].tolist() == ["a", "b", "c"]
    # a majority vote of hard classes would give 0/1 tie for clip a; the soft vote does not
    s = pooled_scores(ens["label"], ens["prediction"], labels=[0, 1, 2])
    assert s["uf1"] == pytest.approx(
        f1_score(ens["label"], ens["prediction"], average="macro", labels=[0, 1, 2])
    )


def test_one_member_is_itself_and_ties_go_to_the_lowest_class():
    a = _run([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    ens = average_probabilities([a])
    assert ens["prediction"].tolist() == [0, 2, 0]


@pytest.mark.parametrize(
    "other, message",
    [
        (_run([[1, 0, 0]] * 2, labels=(0, 1), clips=("a", "b")), "member 1 lacks clip casme2/s2/c"),
        (_run([[1, 0, 0]] * 3, labels=(0, 1, 1)), "clip casme2/s2/c has label 1, not 2"),
        (_run([[1, 0, 0]] * 3).drop(columns="p_surprise"), "member 1: classes"),
        (_run([[1, 0, 0]] * 3, clips=("a", "a", "c")), "member 1: clip casme2/s1/a appears twice"),
    ],
)
def test_mismatched_members_are_named(other, message):
    a = _run([[0.6, 0.4, 0.0], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    with pytest.raises(ValueError, match=message):
        average_probabilities([a, other])


def test_no_member():
    with pytest.raises(ValueError, match="at least one member"):
        average_probabilities([])
