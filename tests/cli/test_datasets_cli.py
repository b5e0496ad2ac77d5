import pytest
from dataset_fixtures import (
    make_casme2,
    make_megc_casme2,
    make_megc_samm,
    make_megc_smic,
    make_samm,
)
from typer.testing import CliRunner

from microexpr.cli.datasets import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, list(args))


def test_cli_check_dataset_prints_table_and_problems(tmp_path):
    root = make_casme2(tmp_path)
    result = _run("check", "--dataset", "casme2", "--root", str(root))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Check of dataset casme2 at {root}"
    assert "casme2   4      3         2         1         1         5        1" in lines
    assert "5 problem(s); 5 clip(s) skipped:" in lines
    assert any("apex '/' is not a frame number" in line for line in lines)


def test_cli_check_dataset_options(tmp_path):
    root = make_casme2(tmp_path, release="cropped")
    sheet = (root / "CASME2-coding-20190701.xlsx").rename(tmp_path / "sheet.xlsx")
    result = _run(
        "check",
        "--dataset",
        "casme2",
        "--root",
        str(root),
        "--sheet",
        str(sheet),
        "--release",
        "cropped",
        "--markdown",
        "--no-read-frames",
    )
    assert result.exit_code == 0, result.output
    assert "| casme2 | 4 | 3 | 2 | 1 | 1 | 5 | 1 |" in result.output


def test_cli_check_protocol(tmp_path):
    roots = {
        "casme2": make_megc_casme2(tmp_path / "c2"),
        "samm": make_megc_samm(tmp_path / "s"),
        "smic": make_megc_smic(tmp_path / "sm"),
    }
    args = [f"--root={name}={path}" for name, path in roots.items()]
    result = _run("check", "--protocol", "megc2019", *args)
    assert result.exit_code == 0, result.output
    assert "total    442 (442)  68 (68)   250 (250)  109 (109)  83 (83)   0        5" in (
        result.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "casme2", "--root", "{tmp}"], "does not look like a CASME II copy"),
        (["--dataset", "casme_2", "--root", "{tmp}"], "unknown dataset 'casme_2'; did you mean"),
        (["--dataset", "casme2"], "--dataset needs exactly one --root PATH"),
        (["--protocol", "atscnn", "--root", "{tmp}"], "with --protocol, write --root NAME=PATH"),
        (["--protocol", "atscnn", "--root", "casme={tmp}"], "missing: casme2, samm"),
        (["--protocol", "atscnn", "--release", "raw"], "apply to --dataset, not --protocol"),
        (["--root", "{tmp}"], "give either dataset (with root) or protocol"),
    ],
)
def test_cli_check_errors_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["check", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_check_bad_sheet_names_file(tmp_path):
    make_samm(tmp_path)
    (tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx").write_text("oops")
    result = _run("check", "--dataset", "samm", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert "SAMM_Micro_FACS_Codes_v2.xlsx: not a readable spreadsheet" in result.output


def test_cli_list():
    result = _run("list")
    assert result.exit_code == 0
    assert "protocols: atscnn, megc2019" in result.output
