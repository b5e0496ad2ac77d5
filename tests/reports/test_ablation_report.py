"""The ablation table: each variant measured against the full model, beside Table 4."""

import numpy as np
import pytest

from microexpr.ablation import PAPER_TABLE4
from microexpr.reports.ablation_report import ablation_table, render_ablation_markdown


def _metrics(scores: dict[str, tuple[float, float]]) -> dict:
    return {
        "variants": {
            name: {"pooled": {"uar": uar, "uf1": uf1}, "n_seeds": 2}
            for name, (uar, uf1) in scores.items()
        }
    }


def test_differences_are_full_minus_variant_beside_the_papers():
    metrics = _metrics({"atscnn": (0.80, 0.70), "atscnn_relu": (0.60, 0.75)})
    table = ablation_table(metrics, full="atscnn", paper=PAPER_TABLE4)
    # variants that did not run are left out, the full model comes first
    assert list(table["variant"]) == ["atscnn", "atscnn_relu"]
    relu = table.iloc[1]
    assert relu["d_uar"] == pytest.approx(0.20)
    assert relu["d_uf1"] == pytest.approx(-0.05)  # negative: the variant did better
    assert (relu["paper_d_uar"], relu["paper_d_uf1"]) == PAPER_TABLE4["atscnn_relu"][1:]
    assert relu["description"] == PAPER_TABLE4["atscnn_relu"][0]
    assert np.isnan(table.iloc[0]["d_uar"]) and table.iloc[0]["seeds"] == 2
    text = render_ablation_markdown(table, title="Ablation")
    assert "| atscnn_relu | ReLU instead of SELU | 0.6000 | 0.7500 | +0.2000 | -0.0500 |" in text


def test_missing_full_model_is_an_error():
    with pytest.raises(KeyError, match="full model 'atscnn' not among the results"):
        ablation_table(_metrics({"atscnn_uv": (0.5, 0.5)}), full="atscnn", paper=PAPER_TABLE4)
