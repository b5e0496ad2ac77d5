"""A corpus of bad inputs, one group per command: never a traceback, always one clear line.

Each case builds its inputs in a temporary folder, runs the command through
Click's runner and checks the exit code, that no traceback is printed and
that the message says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from microexpr.cli import app

runner = CliRunner()

Args = Callable[[Path], list[str]]

GOOD_MODEL = "model: {name: atscnn, options: {input_size: 64, head: [16]}}\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _config(tmp: Path, text: str) -> str:
    return str(_write(tmp / "exp.yaml", text))


def _synthetic(tmp: Path, extra: str = "") -> str:
    """A config whose data root exists but is empty, plus ``extra``."""
    (tmp / "data").mkdir(exist_ok=True)
    return _config(
        tmp,
        f"data: {{dataset: synthetic, root: {tmp / 'data'}}}\n"
        f"cache_dir: {tmp / 'cache'}\n{GOOD_MODEL}{extra}",
    )


def _run(args: list[str], expected: str, code: int = 2) -> None:
    result = runner.invoke(app, args)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == code, (result.exit_code, output)
    assert re.search(expected, output), output
    # one line: the error itself (Click may add its usage lines for usage errors)
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1, output


# -------------------------------------------------------------- config files (loso)

CONFIG_CASES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing file": (lambda t: str(t / "none.yaml"), r"config file .*none\.yaml.* does not exist"),
    "a folder": (lambda t: str(t), r"is a folder, not a config file"),
    "not yaml": (lambda t: _config(t, "data: [unclosed\n"), r"not valid YAML"),
    "binary": (lambda t: str(_write(t / "exp.yaml", b"\xff\xfe\x00\x81")), r"not a text file"),
    "list at top": (lambda t: _config(t, "- 1\n- 2\n"), r"expected a mapping at the top level"),
    "unknown key": (lambda t: _config(t, "epochs: 3\n"), r"unknown keys \['epochs'\]"),
    "unknown model": (lambda t: _config(t, "model: atscn\n"), r"unknown model 'atscn'"),
    "model not a name": (lambda t: _config(t, "model: 5\n"), r"expected a model name"),
    "unknown model option": (
        lambda t: _config(t, "model: {name: atscnn, options: {colour: red}}\n"),
        r"model 'atscnn': unknown option colour",
    ),
    "bad activation": (
        lambda t: _config(t, "model: {name: atscnn, options: {activation: gelu}}\n"),
        r"model 'atscnn': option activation='gelu' is not one of",
    ),
    "options not a mapping": (
        lambda t: _config(t, "model: {name: atscnn, options: 3}\n"),
        r"options must be a mapping",
    ),
    "bad variant option": (
        lambda t: _config(t, "variants: {small: {name: atscnn, options: {input_size: x}}}\n"),
        r"variants\.small: model 'atscnn': option input_size='x' must be an integer",
    ),
    "variants not a mapping": (
        lambda t: _config(t, "variants: [atscnn_uv]\n"),
        r"variants: expected a mapping",
    ),
    "zero epochs": (lambda t: _config(t, "training: {epochs: 0}\n"), r"training\.epochs == 0"),
    "epochs not a number": (
        lambda t: _config(t, "training: {epochs: many}\n"),
        r"training\.epochs must be an integer",
    ),
    "training not a mapping": (
        lambda t: _config(t, "training: 5\n"),
        r"training: expected a mapping",
    ),
    "unknown average": (
        lambda t: _config(t, "evaluation: {average: median}\n"),
        r"evaluation\.average must be one of",
    ),
    "no seeds": (lambda t: _config(t, "evaluation: {seeds: []}\n"), r"evaluation\.seeds is empty"),
    "small preprocess size": (
        lambda t: _config(t, "preprocess: {size: 4}\n"),
        r"preprocess.*size",
    ),
    "dataset and protocol": (
        lambda t: _config(t, "data: {dataset: casme2, protocol: atscnn}\n"),
        r"give either `dataset` or `protocol`",
    ),
    "missing data root": (
        lambda t: _config(t, f"data: {{dataset: synthetic, root: {t / 'nowhere'}}}\n"),
        r"does not exist",
    ),
    "no data root": (
        lambda t: _config(t, "data: {dataset: synthetic}\n"),
        r"data\.root is not set",
    ),
    "unknown dataset": (
        lambda t: _config(t, f"data: {{dataset: casme9, root: {t}}}\n"),
        r"unknown dataset 'casme9'",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_loso_bad_config(case, tmp_path):
    make, expected = CONFIG_CASES[case]
    _run(["loso", "--config", make(tmp_path), "--out", str(tmp_path / "run"), "-q"], expected)


# ------------------------------------------------------------------- loso options

LOSO_CASES: dict[str, tuple[Args, str]] = {
    "unknown executor": (
        lambda t: ["--config", _synthetic(t), "--executor", "cluster"],
        r"executor must be one of",
    ),
    "zero workers": (
        lambda t: ["--config", _synthetic(t), "--executor", "local", "--workers", "0"],
        r"workers == 0",
    ),
    "address without ray": (
        lambda t: ["--config", _synthetic(t), "--executor", "local", "--address", "h:1"],
        r"address is an option of the ray executor",
    ),
    "zero epochs override": (
        lambda t: ["--config", _synthetic(t), "--epochs", "0"],
        r"training\.epochs == 0",
    ),
    "unknown device": (
        lambda t: ["--config", _synthetic(t, "training: {device: tpu}\n")],
        r"training\.device must be cpu, cuda",
    ),
    "empty dataset": (lambda t: ["--config", _synthetic(t)], r"annotations\.csv|no usable clips"),
}


@pytest.mark.parametrize("case", sorted(LOSO_CASES))
def test_loso_bad_options(case, tmp_path):
    make, expected = LOSO_CASES[case]
    _run(["loso", *make(tmp_path), "--out", str(tmp_path / "run"), "-q"], expected)


def test_loso_out_is_a_file(tmp_path):
    out = _write(tmp_path / "taken", "not a folder")
    _run(
        ["loso", "--config", _synthetic(tmp_path), "--out", str(out), "-q"],
        r"output folder .*taken.* is a file, not a folder",
    )


def test_loso_out_cannot_be_created(tmp_path):
    blocker = _write(tmp_path / "file", "x")
    _run(
        ["loso", "--config", _synthetic(tmp_path), "--out", str(blocker / "run"), "-q"],
        r"output folder .*file/run.* cannot be created",
    )


# ---------------------------------------------------------------------- demo

DEMO_CASES: dict[str, tuple[Args, str]] = {
    "one subject": (lambda t: ["--subjects", "1"], r"--subjects == 1, must be >= 2"),
    "zero epochs": (lambda t: ["--epochs", "0"], r"training\.epochs == 0"),
    "unknown device": (lambda t: ["--device", "tpu"], r"training\.device must be cpu, cuda"),
    "unknown executor": (lambda t: ["--executor", "cluster"], r"executor must be one of"),
    "out is a file": (
        lambda t: ["--out", str(_write(t / "taken", "x"))],
        r"output folder .*taken.* is a file, not a folder",
    ),
}


@pytest.mark.parametrize("case", sorted(DEMO_CASES))
def test_demo_bad_input(case, tmp_path):
    make, expected = DEMO_CASES[case]
    args = make(tmp_path)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "demo")]
    _run(
        ["demo", *args, "--subjects", "2", "-q"]
        if "--subjects" not in args
        else ["demo", *args, "-q"],
        expected,
    )


# --------------------------------------------------------------------- ablate

ABLATE_CASES: dict[str, tuple[Args, str]] = {
    "not atscnn": (
        lambda t: ["--config", _config(t, "model: ststnet\n")],
        r"model\.name must be 'atscnn'",
    ),
    "missing config": (lambda t: ["--config", str(t / "no.yaml")], r"does not exist"),
    "bad option": (
        lambda t: ["--config", _config(t, "model: {name: atscnn, options: {attention: all}}\n")],
        r"option attention='all' is not one of",
    ),
}


@pytest.mark.parametrize("case", sorted(ABLATE_CASES))
def test_ablate_bad_input(case, tmp_path):
    make, expected = ABLATE_CASES[case]
    _run(["ablate", *make(tmp_path), "--out", str(tmp_path / "run"), "-q"], expected)


# ----------------------------------------------------------------- complexity

COMPLEXITY_CASES: dict[str, tuple[list[str], str]] = {
    "letters as size": (["atscnn", "--input-size", "a,b"], r"expected three positive integers"),
    "two numbers": (["atscnn", "--input-size", "128,128"], r"expected three positive integers"),
    "negative size": (["atscnn", "--input-size", "3,-1,-1"], r"expected three positive integers"),
    "wrong channels": (["atscnn", "--input-size", "2,64,64"], r"takes 3 channels"),
    "not square": (["atscnn", "--input-size", "3,64,32"], r"square inputs"),
    "too small": (["atscnn", "--input-size", "3,8,8"], r"option input_size=8 must be >= 16"),
    "not a multiple": (["off_tanet", "--input-size", "3,100,100"], r"multiple of 16"),
    "unknown model": (["atscn"], r"unknown model 'atscn'.*did you mean atscnn"),
    "no model": ([], r"give a MODEL name or --all"),
    "all with a model": (["atscnn", "--all"], r"--all profiles every model"),
    "out without all": (["atscnn", "--out", "x"], r"--out applies to --all"),
}


@pytest.mark.parametrize("case", sorted(COMPLEXITY_CASES))
def test_complexity_bad_input(case):
    args, expected = COMPLEXITY_CASES[case]
    _run(["complexity", *args], expected)


def test_models_pattern_matching_nothing():
    _run(["models", "zz*"], r"no model matches 'zz\*'")


# ------------------------------------------------------------------- evaluate


@pytest.fixture
def flow_set(tmp_path):
    """A one-fold MEGC2019-layout flow set with two 28x28 images."""
    root = tmp_path / "flows"
    rows = ["dataset,subject,clip,label,image"]
    for i, label in enumerate((0, 1)):
        name = f"c{i}.png"
        folder = root / "loso_test" / "s1" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), np.full((28, 28, 3), 100 + i, np.uint8))
        rows.append(f"casme2,s1,c{i},{label},{name}")
    _write(root / "labels.csv", "\n".join(rows) + "\n")
    return root


EVALUATE_CASES: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "no weights folder": (
        lambda t, f: ["--weights", str(t / "none"), "--data", str(f)],
        r"weights_dir: folder .* does not exist",
    ),
    "no data folder": (
        lambda t, f: ["--weights", str(t), "--data", str(t / "none")],
        r"data_root: folder .* does not exist",
    ),
    "fold without weights": (
        lambda t, f: [
            "--weights",
            str(_write(t / "w" / "other.pth", "x").parent),
            "--data",
            str(f),
        ],
        r"has no matching weights file",
    ),
    "corrupt weights": (
        lambda t, f: [
            "--weights",
            str(_write(t / "w" / "s1.pth", b"garbage").parent),
            "--data",
            str(f),
        ],
        r"cannot be read by torch\.load",
    ),
    "weights of another model": (
        lambda t, f: [
            "--weights",
            str(_save(t / "w" / "s1.pth", {"fc.weight": torch.zeros(2, 2)}).parent),
            "--data",
            str(f),
        ],
        r"is not for model 'ststnet'",
    ),
    "not a state dict": (
        lambda t, f: ["--weights", str(_save(t / "w" / "s1.pth", [1, 2]).parent), "--data", str(f)],
        r"does not hold a PyTorch state dict",
    ),
    "model not on flow images": (
        lambda t, f: [
            "--model",
            "atscnn_apex",
            "--weights",
            str(_save(t / "w" / "s1.pth", {}).parent),
            "--data",
            str(f),
        ],
        r"takes 'apex' inputs, not flow images",
    ),
    "unknown model": (
        lambda t, f: [
            "--model",
            "ststnett",
            "--weights",
            str(_save(t / "w" / "s1.pth", {}).parent),
            "--data",
            str(f),
        ],
        r"unknown model 'ststnett'",
    ),
}


def _save(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("case", sorted(EVALUATE_CASES))
def test_evaluate_bad_input(case, tmp_path, flow_set, monkeypatch):
    monkeypatch.delenv("MICROEXPR_MEGC2019", raising=False)
    make, expected = EVALUATE_CASES[case]
    _run(["evaluate", *make(tmp_path, flow_set)], expected)


# ------------------------------------------------------------- datasets check

DATASETS_CASES: dict[str, tuple[Args, str]] = {
    "unknown dataset": (
        lambda t: ["--dataset", "casme9", "--root", str(t)],
        r"unknown dataset 'casme9'; did you",
    ),
    "missing root": (
        lambda t: ["--dataset", "casme2", "--root", str(t / "none")],
        r"CASME II root .* does not exist",
    ),
    "no root": (lambda t: ["--dataset", "casme2"], r"--dataset needs exactly one --root PATH"),
    "protocol root without name": (
        lambda t: ["--protocol", "megc2019", "--root", str(t)],
        r"with --protocol, write --root NAME=PATH",
    ),
    "sheet with protocol": (
        lambda t: ["--protocol", "megc2019", "--sheet", str(t), "--root", f"casme2={t}"],
        r"--sheet and --release apply to --dataset",
    ),
    "not the dataset": (
        lambda t: ["--dataset", "samm", "--root", str(_write(t / "empty" / "x.txt", "").parent)],
        r"does not look like a SAMM copy",
    ),
}


@pytest.mark.parametrize("case", sorted(DATASETS_CASES))
def test_datasets_check_bad_input(case, tmp_path):
    make, expected = DATASETS_CASES[case]
    _run(["datasets", "check", *make(tmp_path)], expected)


# ---------------------------------------------------------------------- train

TRAIN_CASES: dict[str, tuple[Args, str]] = {
    "missing config": (lambda t: ["--config", str(t / "none.yaml")], r"does not exist"),
    "bad model option": (
        lambda t: ["--config", _config(t, "model: {name: atscnn, options: {head: [0]}}\n")],
        r"option head=0 must be >= 1",
    ),
    "zero epochs": (
        lambda t: ["--config", _synthetic(t), "--epochs", "0"],
        r"training\.epochs == 0",
    ),
    "out is a file": (
        lambda t: ["--config", _synthetic(t), "--out", str(_write(t / "taken", "x"))],
        r"output folder .*taken.* is a file, not a folder",
    ),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_train_bad_input(case, tmp_path):
    make, expected = TRAIN_CASES[case]
    args = make(tmp_path)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "model")]
    _run(["train", *args, "-q"], expected)


# -------------------------------------------------------------------- predict


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((32, 32), np.uint8))
    return path


PREDICT_CASES: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "missing video": (
        lambda t, m: [str(t / "none.mp4"), "--model", str(m)],
        r"input .*none\.mp4' does not exist",
    ),
    "garbage video": (
        lambda t, m: [str(_write(t / "v.mp4", b"not a video at all")), "--model", str(m)],
        r"v\.mp4' is not a readable video",
    ),
    "empty frame folder": (
        lambda t, m: [str(_write(t / "frames" / "notes.txt", "").parent), "--model", str(m)],
        r"holds no image files",
    ),
    "image pair, one missing": (
        lambda t, m: [str(_png(t / "a.png")), str(t / "b.png"), "--model", str(m)],
        r"apex image .*b\.png' does not exist",
    ),
    "image pair, not images": (
        lambda t, m: [
            str(_write(t / "a.png", b"xx")),
            str(_write(t / "b.png", b"yy")),
            "--model",
            str(m),
        ],
        r"onset image .*a\.png' is not a readable image",
    ),
    "three images": (
        lambda t, m: [
            str(_png(t / "a.png")),
            str(_png(t / "b.png")),
            str(_png(t / "c.png")),
            "--model",
            str(m),
        ],
        r"give one video or folder, or two images .*got 3 inputs",
    ),
    "missing model": (
        lambda t, m: [str(_png(t / "a.png")), str(_png(t / "b.png")), "--model", str(t / "none")],
        r"no model at .*none",
    ),
    "corrupt checkpoint": (
        lambda t, m: [
            str(_png(t / "a.png")),
            str(_png(t / "b.png")),
            "--model",
            str(_write(t / "bad" / "checkpoint.pt", b"garbage").parent),
        ],
        r"not a readable microexpr checkpoint",
    ),
    "onset without apex": (
        lambda t, m: [str(_write(t / "v.mp4", b"x")), "--model", str(m), "--onset", "3"],
        r"give both --onset and --apex",
    ),
    "out is a file": (
        lambda t, m: [
            str(_png(t / "a.png")),
            str(_png(t / "b.png")),
            "--model",
            str(m),
            "--out",
            str(_write(t / "taken", "x")),
        ],
        r"output folder .*taken.* is a file, not a folder",
    ),
}


@pytest.mark.parametrize("case", sorted(PREDICT_CASES))
def test_predict_bad_input(case, tmp_path, untrained_model_dir):
    make, expected = PREDICT_CASES[case]
    args = make(tmp_path, untrained_model_dir)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "prediction")]
    _run(["predict", *args, "-q"], expected)


# ---------------------------------------------------------- unexpected errors


def test_unexpected_error_is_one_line_naming_type_and_where_to_report(monkeypatch):
    import microexpr.models

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero somewhere deep")

    monkeypatch.setattr(microexpr.models, "get_model_cfg", broken)
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unexpected ZeroDivisionError: division by zero somewhere deep" in result.output
    assert "report it" in result.output and "MICROEXPR_DEBUG=1" in result.output


def test_debug_env_shows_the_traceback(monkeypatch):
    import microexpr.models

    def broken(*args, **kwargs):
        raise ZeroDivisionError("deep")

    monkeypatch.setattr(microexpr.models, "get_model_cfg", broken)
    monkeypatch.setenv("MICROEXPR_DEBUG", "1")
    result = runner.invoke(app, ["models"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_corpus_is_large():
    n = (
        len(CONFIG_CASES)
        + len(LOSO_CASES)
        + len(DEMO_CASES)
        + len(ABLATE_CASES)
        + len(COMPLEXITY_CASES)
        + len(EVALUATE_CASES)
        + len(DATASETS_CASES)
        + len(TRAIN_CASES)
        + len(PREDICT_CASES)
    )
    assert n >= 30
