import math

import pandas as pd
import pytest

import microexpr.models.off_tanet  # noqa: F401
import microexpr.models.ststnet  # noqa: F401
from microexpr.reports.complexity_table import (
    complexity_table,
    markdown_table,
    write_complexity_table,
)


@pytest.fixture(scope="module")
def table():
    return complexity_table(["atscnn", "ststnet", "off_tanet"])


def test_complexity_table_rows_and_paper_figures(table):
    assert list(table["model"]) == ["atscnn", "ststnet", "off_tanet"]
    atscnn = table.set_index("model").loc["atscnn"]
    assert atscnn["input_size"] == "3x128x128"
    assert atscnn["params"] == pytest.approx(4.21e6, rel=1e-3)
    assert atscnn["mflops"] == pytest.approx(19.01, abs=0.01)
    assert atscnn["memory_mb"] == pytest.approx(20.5, abs=0.05)
    assert atscnn["paper_params"] == 4.21e6
    assert "ATSCNN paper" in atscnn["paper_source"]
    off_tanet = table.set_index("model").loc["off_tanet"]
    assert off_tanet["mflops"] == pytest.approx(off_tanet["paper_mflops"], abs=0.01)


def test_complexity_table_unknown_paper_figures_are_nan():
    t = complexity_table(["atscnn_relu"])
    assert math.isnan(t.loc[0, "paper_params"]) and t.loc[0, "paper_source"] == ""


def test_markdown_table_formats_cells():
    df = pd.DataFrame({"a": ["x"], "n": [1234567], "f": [0.123456], "g": [float("nan")]})
    assert (
        markdown_table(df)
        == "| a | n | f | g |\n| --- | --- | --- | --- |\n| x | 1,234,567 | 0.1235 |  |\n"
    )


def test_write_complexity_table_folder_and_stem(table, tmp_path):
    files = write_complexity_table(table, tmp_path / "out")
    assert files["md"] == tmp_path / "out" / "complexity.md"
    assert pd.read_csv(files["csv"])["model"].tolist() == ["atscnn", "ststnet", "off_tanet"]
    files = write_complexity_table(table, tmp_path / "t.md")
    assert files["csv"] == tmp_path / "t.csv" and files["md"].read_text().startswith("| model |")
