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


def test_paper_table3_at_128_matches_or_explains(tmp_path):
    from microexpr.reports.complexity_table import (
        PaperSTSTNet,
        paper_complexity_table,
        write_paper_complexity_table,
    )

    t = paper_complexity_table()
    assert set(t["input_size"].str.endswith("x128x128")) == {True}
    by = {
        (m, p.split(",")[0].split(" (")[0]): r
        for m, p, r in zip(t["model"], t["profiled"], t.to_dict("records"), strict=True)
    }
    assert by[("ststnet", "paper's layout")]["match"] == "yes/yes/yes"
    assert by[("dual_inception", "no ReLU on the 1x1 branch")]["match"] == "yes/yes/yes"
    assert by[("dual_inception", "registered")]["match"] == "yes/NO/NO"
    assert by[("micro_attention", "registered")]["match"] == "yes/yes/yes"
    assert by[("off_tanet", "registered")]["match"] == "NO/yes/yes"
    # the 29 parameters are the channel-attention MLP's biases: without them, all three match
    no_bias = by[("off_tanet", "channel-attention MLP without biases")]
    assert no_bias["match"] == "yes/yes/yes" and no_bias["params"] == 67_083
    assert by[("atscnn", "registered")]["match"] == "yes/yes/yes"
    assert by[("macnn", "registered")]["match"] == "yes/-/yes"
    # every row that does not match everywhere carries an explanation
    assert all(len(e) > 20 for e in t["explanation"])
    # the reconstruction is the Off-TANet authors' STSTNet: 162,051 parameters at 28x28
    assert sum(p.numel() for p in PaperSTSTNet(28).parameters()) == 162_051
    files = write_paper_complexity_table(t, tmp_path)
    assert files["md"].name == "complexity_paper.md"
    assert "Explanations:" in files["md"].read_text()


def test_cli_complexity_paper(tmp_path):
    from typer.testing import CliRunner

    from microexpr.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["complexity", "--all", "--paper", "--out", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "complexity_paper.csv").is_file()
    bad = runner.invoke(app, ["complexity", "--paper"])
    assert bad.exit_code == 2 and "give --all with it" in bad.output
