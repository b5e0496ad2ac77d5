"""The report summary: every column averaged over seeds, one scoring path."""

import pandas as pd
import pytest

from microexpr.reports.loso_report import render_markdown, summarize

NAMES = ["negative", "positive", "surprise"]


def _table() -> pd.DataFrame:
    # seed 0 gets all 4 clips right, seed 1 gets 2 of 4 right
    rows = []
    truth = [(0, "s1"), (1, "s1"), (2, "s2"), (0, "s2")]
    preds = {0: [0, 1, 2, 0], 1: [0, 0, 2, 1]}
    for seed, pred in preds.items():
        for (label, fold), p in zip(truth, pred, strict=True):
            rows.append(
                {
                    "variant": "atscnn",
                    "seed": seed,
                    "fold": fold,
                    "dataset": "synthetic",
                    "label": label,
                    "prediction": p,
                }
            )
    return pd.DataFrame(rows)


def test_summary_averages_accuracy_and_per_fold_mean_over_seeds():
    s = summarize(_table(), NAMES, main_variant="atscnn")
    v = s["variants"]["atscnn"]
    assert v["n_seeds"] == 2
    assert v["pooled"]["accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    assert v["pooled"]["accuracy_std"] == pytest.approx(0.25)
    seeds = v["seeds"]
    assert v["per_fold_mean"]["uf1"] == pytest.approx(
        (seeds["0"]["per_fold_mean"]["uf1"] + seeds["1"]["per_fold_mean"]["uf1"]) / 2
    )
    assert v["uf1"] == v["pooled"]["uf1"]  # the default headline is the pooled figure
    assert seeds["0"]["pooled"]["uf1"] == 1.0
    assert seeds["0"]["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_summary_per_fold_average_is_the_headline_when_configured():
    s = summarize(_table(), NAMES, main_variant="atscnn", average="per_fold")
    v = s["variants"]["atscnn"]
    assert s["average"] == "per_fold"
    assert v["uf1"] == v["per_fold_mean"]["uf1"] != v["pooled"]["uf1"]


def test_report_shows_mean_and_std_of_every_column():
    s = summarize(_table(), NAMES, main_variant="atscnn")
    text = render_markdown(
        s,
        title="t",
        config={"training": {"epochs": 1}},
        issues=[],
        n_clips=4,
        n_subjects=2,
        seconds=1.0,
    )
    assert "| atscnn | " in text
    assert "0.7500 ± 0.2500" in text  # accuracy over the two seeds
