import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_grid import main as run_tiny
from tiny_grid import tiny_data

from microexpr.errors import RunFolderError
from microexpr.training.engine import RunStore, make_jobs, run_grid
from microexpr.training.executors import make_executor

SCRIPT = Path(__file__).with_name("tiny_grid.py")
EPOCHS, SUBJECTS = 3, 8


def _finished(folder: Path) -> list[Path]:
    return sorted((folder / "folds").glob("**/*.json"))


def test_sigkill_mid_run_then_resume_gives_identical_result(tmp_path, capsys):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(killed), str(EPOCHS), str(SUBJECTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(_finished(killed)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _finished(killed)
    assert 2 <= len(done) < SUBJECTS, "the run must be killed mid-way"
    for path in done:  # atomic writes: every saved fold file is complete
        json.loads(path.read_text())
    before = {p: p.stat().st_mtime_ns for p in done}

    resumed = subprocess.run(
        [sys.executable, str(SCRIPT), str(killed), str(EPOCHS), str(SUBJECTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert {p: p.stat().st_mtime_ns for p in done} == before  # finished folds were not rerun
    assert len(_finished(killed)) == SUBJECTS

    run_tiny(str(tmp_path / "uninterrupted"), EPOCHS, SUBJECTS)
    assert json.loads(resumed.stdout) == json.loads(capsys.readouterr().out)


def test_sigkill_mid_stack_resumes_from_checkpoint(tmp_path, capsys):
    # all folds trained as one stack: nothing is finished before the end, so
    # the run must resume from the stacked checkpoint, not from scratch
    killed, epochs = tmp_path / "killed", 40
    cmd = [sys.executable, str(SCRIPT), str(killed), str(epochs), "4", "always"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    ckpt = killed / "folds" / "stacked"
    while not list(ckpt.glob("*.pt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(ckpt.glob("*.pt")), "the stack must be killed after its first checkpoint"
    assert _finished(killed) == [], "the stack must be killed before it finished"
    saved = torch.load(next(ckpt.glob("*.pt")), weights_only=False)
    assert 0 <= saved["epoch"] < epochs - 1

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    assert len(_finished(killed)) == 4
    run_tiny(str(tmp_path / "uninterrupted"), epochs, 4, "always")
    assert json.loads(resumed.stdout) == json.loads(capsys.readouterr().out)


def test_changed_config_refused_unless_fresh(tmp_path):
    data = tiny_data(n_subjects=2, clips=4, epochs=1)
    jobs = make_jobs(data.variants, data.folds, [0])
    run_grid(jobs, data, make_executor("serial"), store=RunStore(tmp_path, {"epochs": 1}))
    assert len(_finished(tmp_path)) == 2
    with pytest.raises(RunFolderError, match="holds results of another configuration.*--fresh"):
        RunStore(tmp_path, {"epochs": 2})
    assert len(_finished(tmp_path)) == 2  # refused: nothing deleted
    RunStore(tmp_path, {"epochs": 2}, fresh=True)
    assert _finished(tmp_path) == []


def test_same_config_reuses_results(tmp_path):
    data = tiny_data(n_subjects=2, clips=4, epochs=1)
    jobs = make_jobs(data.variants, data.folds, [0])
    first = run_grid(jobs, data, make_executor("serial"), store=RunStore(tmp_path, {"a": 1}))
    seen = []
    again = run_grid(
        jobs,
        data,
        make_executor("serial"),
        store=RunStore(tmp_path, {"a": 1}),
        on_result=lambda r, done, total: seen.append((done, total)),
    )
    assert [r.to_json() for r in again] == [r.to_json() for r in first]
    assert seen == [(1, 2), (2, 2)]


def test_corrupt_fold_file_is_rerun(tmp_path):
    # one fold a unit, so that the rerun fold is bit-identical (a fold rerun
    # alone out of a stack equals its stacked result up to rounding only)
    data = tiny_data(n_subjects=2, clips=4, epochs=1, fold_batching="never")
    jobs = make_jobs(data.variants, data.folds, [0])
    store = RunStore(tmp_path, {"a": 1})
    first = run_grid(jobs, data, make_executor("serial"), store=store)
    store.path(jobs[1]).write_text("{not json")
    (store.path(jobs[1]).parent / ".x.json.tmp").write_text("partial")
    again = run_grid(jobs, data, make_executor("serial"), store=RunStore(tmp_path, {"a": 1}))
    assert again[1].proba == first[1].proba
    assert not list(tmp_path.glob("folds/**/.*.tmp"))
