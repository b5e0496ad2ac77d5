"""The honest MEGC2019 leaderboard: every configured model, LOSO, pooled UF1/UAR, seeds.

One command trains each model of ``configs/megc2019_flows_*.yaml`` on the
published MEGC2019 flow images (442 clips, 68 subjects) with leave-one-
subject-out, at the training protocol its config states (epochs, batch,
learning rate, source), once per seed, and writes

- ``benchmarks/results/leaderboard.md`` and ``leaderboard.csv``: per model,
  input variant and image set, the pooled UF1/UAR (MEGC2019 rule: TP/FP/FN
  summed over all folds, the last epoch's model evaluated) as mean ± std over
  seeds and per seed, per source dataset (CASME II, SAMM, SMIC, as the flow
  set's labels.csv names each clip), the fold-job and wall time of each run,
  the protocol; and beside each honest figure the one the same run would
  have published had it kept each fold's best test-subject epoch, labelled
  "test-picked, as commonly published — not a valid estimate"
  (:mod:`microexpr.evaluation.inflation`; the per-epoch test predictions
  feed that column and nothing else);
- ``benchmarks/results/leaderboard/<run>/predictions.csv`` (the honest
  predictions, as the run wrote them) and ``test_picked_predictions.csv``
  (the picked epoch's predictions per clip), from which every figure is
  recomputed by :func:`rescore`.

Each run (model x images x epochs x seed) is an ordinary ``microexpr loso``
run in its own folder under ``--out`` (default ``runs/leaderboard``), through
:func:`microexpr.experiment.run_loso`, so a killed command resumes from the
finished folds, and a finished run is only re-read. The tables cover every
finished run under ``--out``, so runs made by separate commands accumulate.

``--epochs N`` or ``--epochs-scale F`` shorten the runs (for a smoke run on a
small machine); every output row then says ``SHORTENED`` with the protocol's
epoch count. ATSCNN appears twice: at the flows' native 28x28
(``atscnn_28``) and at its paper's 128x128 with the flows resized
(``atscnn_128``, said in its input column).

Entries. Every ``configs/megc2019_flows_<entry>.yaml`` is an entry (``--models
all``, the default, runs them all). ATSCNN's Table 4 ablation variants
(``atscnn_*`` in the registry) need no config of their own: ``--models
atscnn_128@atscnn_relu`` runs the variant at the ``atscnn_128`` entry's
protocol and input, and ``--models ablations`` runs every variant whose input
the flow images hold (``atscnn_apex`` takes the grayscale apex frame, which a
flow-image set does not have: it is listed as not run, with that reason).

Too slow or too large for the machine. Before an entry's first run that still
has to train on the CPU, the leaderboard estimates its training memory (one
forward pass at the batch size, times the parallel fold jobs) and, with
``--max-hours H``, its time: a few timed training steps on random inputs at
the model's input size, one torch thread as each worker has, scaled to the
fold-epochs of the entry's planned runs still to train, over the machine's
cores. An entry
over either limit is not run; one line says why, with the estimate, on stderr
and in leaderboard.md ("Not run here"), and the other entries go on.
``--project K`` instead trains the first K folds of each entry for ``--epochs``
(default 1) on the real flows, one fold at a time, and writes the measured
seconds per fold-epoch and the projected protocol time per entry to
``leaderboard_projection.{md,csv}``.

Example (shortened, one seed)::

    export MICROEXPR_MEGC2019=/path/to/megc2019
    nice -n 15 .venv/bin/python benchmarks/leaderboard.py --models off_apexnet,ststnet \\
        --seeds 1 --epochs 40
    nice -n 15 .venv/bin/python benchmarks/leaderboard.py --models all --max-hours 48
    nice -n 15 .venv/bin/python benchmarks/leaderboard.py --models all --project 2 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from microexpr import __version__
from microexpr._io import atomic_write_text
from microexpr.config import ExperimentConfig, load_config
from microexpr.data.flow_images import (
    MEGC2019_ENV,
    check_megc2019_layout,
    megc2019_folds,
    read_flow_image,
)
from microexpr.errors import MicroexprError
from microexpr.evaluation.ensemble import average_probabilities
from microexpr.evaluation.inflation import TEST_PICKED_LABEL, has_test_curves, picked_predictions
from microexpr.evaluation.metrics import pooled_scores
from microexpr.experiment import run_loso
from microexpr.models import ModelSpec, get_model_cfg, list_models
from microexpr.reports.markdown import markdown_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ROOT / "configs"
LABELS = [0, 1, 2]
DATASETS = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC"}
IMAGE_SETS = ("whole", "loso_test")
RUN_FILE = "leaderboard_run.json"

CONFIG_PREFIX = "megc2019_flows_"
#: The entry whose protocol and input ATSCNN's ablation variants take (the paper's Table 4 size).
ABLATION_BASE = "atscnn_128"
#: Pattern of the registered ablation variants.
ABLATION_PATTERN = "atscnn_*"
#: Input kinds a flow-image set can feed (microexpr.data.flow_images.select_inputs).
FLOW_INPUTS = ("flow_image", "uvs", "uv")


def discover_entries(configs: Path = CONFIGS) -> dict[str, str]:
    """Leaderboard entries: name -> config file, one per ``megc2019_flows_<name>.yaml``."""
    return {
        path.stem[len(CONFIG_PREFIX) :]: path.name
        for path in sorted(configs.glob(f"{CONFIG_PREFIX}*.yaml"))
    }


#: Leaderboard entries: name -> config file (the training protocol is the config's).
ENTRIES: dict[str, str] = discover_entries()

#: Published figures on the same composite, for orientation (not run here).
PUBLISHED = pd.DataFrame(
    [
        ("STSTNet, official per-fold weights (PyTorch re-run)", 0.7209, 0.7250, "honest"),
        ("STSTNet, MEB study (arXiv 2211.11425), 500 epochs, last epoch", 0.713, None, "honest"),
        ("Off-ApexNet, MEB study, last epoch", 0.703, None, "honest"),
        ("STSTNet from scratch (paper, MATLAB)", 0.7353, 0.7605, "as published"),
        ("HTNet (2024)", 0.8603, 0.8475, "test-picked"),
        ("CausalNet (ICCV 2025)", 0.8976, None, "test-picked"),
    ],
    columns=["result", "UF1", "UAR", "kind"],
)

_PROTOCOL_STOP = ("#   ", "# Input", "# Differences", "# (benchmarks")


@dataclass(frozen=True)
class Run:
    """One leaderboard run: an entry on one image set at one epoch count and seed."""

    entry: str
    images: str
    epochs: int
    seed: int

    @property
    def name(self) -> str:
        """Folder name of the run."""
        return f"{self.entry}-{self.images}-e{self.epochs}-seed{self.seed}"


def protocol_source(config_file: Path) -> str:
    """The config's comment paragraph that states its training protocol, as one line."""
    lines = config_file.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    for line in lines:
        if not out and line.startswith("# Protocol"):
            out.append(line[1:].strip())
        elif out:
            if not line.startswith("#") or line.startswith(_PROTOCOL_STOP):
                break
            out.append(line[1:].strip())
    return " ".join(out) or "not stated in the config"


def ablation_variants() -> list[str]:
    """Registered ATSCNN ablation variants whose input a flow-image set holds."""
    return [m for m in list_models(ABLATION_PATTERN) if get_model_cfg(m)["inputs"] in FLOW_INPUTS]


def entry_config(entry: str, configs: Path = CONFIGS) -> tuple[ExperimentConfig, Path]:
    """The experiment config of a leaderboard entry, and its file.

    ``<entry>@<variant>`` is ``entry``'s config with its model replaced by the
    registered ATSCNN variant ``variant`` (same options, protocol and input size).
    """
    entries = discover_entries(configs)
    base_name, _, variant = entry.partition("@")
    if base_name not in entries:
        raise MicroexprError(
            f"--models: unknown entry {base_name!r}; choose from all, ablations, "
            f"{', '.join(entries)}, or <entry>@<atscnn variant>"
        )
    path = configs / entries[base_name]
    config = load_config(path)
    if variant:
        if variant not in list_models(ABLATION_PATTERN):
            raise MicroexprError(
                f"--models: {entry!r}: {variant!r} is not a registered ATSCNN variant; "
                f"choose from {', '.join(list_models(ABLATION_PATTERN))}"
            )
        if get_model_cfg(variant)["inputs"] not in FLOW_INPUTS:
            raise MicroexprError(
                f"--models: {entry!r}: {variant} takes {get_model_cfg(variant)['inputs']!r} "
                "inputs, which a flow-image set does not hold"
            )
        if config.model.name.split("_")[0] != variant.split("_")[0]:
            raise MicroexprError(
                f"--models: {entry!r}: {variant} is not a variant of {config.model.name}"
            )
        config = config.replace(
            name=f"{config.name}-{variant}",
            model=ModelSpec(variant, dict(config.model.options)),
        )
    return config, path


def expand_models(text: str, configs: Path = CONFIGS) -> list[str]:
    """``--models`` as a list of entries: ``all``, ``ablations`` or names, comma-separated."""
    out: list[str] = []
    for item in (m.strip() for m in text.split(",")):
        if item == "all":
            out += list(discover_entries(configs))
        elif item == "ablations":
            out += [f"{ABLATION_BASE}@{v}" for v in ablation_variants() if v != "atscnn"]
        elif item:
            out.append(item)
    return list(dict.fromkeys(out))


def training_description(settings: Any) -> str:
    """The optimisation protocol in a few words, e.g. ``Adam lr 0.001, lr x0.3 every 60 epochs``."""
    text = f"{'SGD' if settings.optimizer == 'sgd' else 'Adam'} lr {settings.lr:g}"
    if settings.momentum:
        text += f", momentum {settings.momentum:g}"
    if settings.weight_decay:
        text += f", weight decay {settings.weight_decay:g}"
    if settings.lr_step and settings.lr_gamma != 1:
        text += f", lr x{settings.lr_gamma:g} every {settings.lr_step} epochs"
    return text


def input_description(config: ExperimentConfig, image_size: int = 28) -> str:
    """What the model is fed, e.g. ``uvs 3x128x128 (flows resized 28->128, bilinear)``."""
    cfg = config.model.cfg()
    size = tuple(int(s) for s in cfg["input_size"])
    text = f"{cfg['inputs']} {'x'.join(map(str, size))}"
    if size[-1] != image_size:
        return text + f" (flows resized {image_size}->{size[-1]}, bilinear)"
    return text + " (native)"


def run_config(base: ExperimentConfig, run: Run, data_root: str) -> ExperimentConfig:
    """``base`` for one run: data root and image set, epochs, one seed, test curve on."""
    options = {**base.data.options, "images": run.images}
    return base.replace(
        name=f"leaderboard-{run.name}",
        data=replace(base.data, root=data_root, options=options),
        training=replace(base.training, epochs=run.epochs, record_test_curve=True),
        evaluation=replace(base.evaluation, seeds=(run.seed,)),
    )


def machine() -> str:
    """One line describing this machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {cores} cores, torch {torch.__version__}, microexpr {__version__}, CPU"


def _score_by_dataset(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    out = {}
    for key in DATASETS:
        part = frame[frame["dataset"] == key]
        if len(part):
            out[key] = pooled_scores(part["label"], part["prediction"], labels=LABELS)
    return out


def score_run_folder(copy_dir: Path) -> dict[str, Any]:
    """Honest and test-picked figures of one run from its copied prediction files."""
    honest = pd.read_csv(copy_dir / "predictions.csv", dtype={"subject": str, "fold": str})
    row: dict[str, Any] = {}
    h = pooled_scores(honest["label"], honest["prediction"], labels=LABELS)
    row.update(uf1=h["uf1"], uar=h["uar"], n=h["n"])
    for key, s in _score_by_dataset(honest).items():
        row[f"{key}_uf1"], row[f"{key}_uar"] = s["uf1"], s["uar"]
    picked_file = copy_dir / "test_picked_predictions.csv"
    if picked_file.is_file():
        picked = pd.read_csv(picked_file, dtype={"subject": str, "fold": str})
        p = pooled_scores(picked["label"], picked["prediction"], labels=LABELS)
        row.update(test_picked_uf1=p["uf1"], test_picked_uar=p["uar"])
    else:
        row.update(test_picked_uf1=float("nan"), test_picked_uar=float("nan"))
    return row


def rescore(results: Path = RESULTS) -> pd.DataFrame:
    """Every run's figures recomputed from ``results/leaderboard/<run>/*.csv`` alone."""
    rows = []
    for folder in sorted((results / "leaderboard").glob("*/")):
        if (folder / "predictions.csv").is_file():
            rows.append({"run": folder.name, **score_run_folder(folder)})
    return pd.DataFrame(rows)


def execute_run(
    run: Run, base: ExperimentConfig, data_root: str, out: Path, *, executor: str, progress: bool
) -> dict[str, Any]:
    """Train (or resume, or re-read) one run; write its record to ``out/<run>/``."""
    folder = out / run.name
    record_file = folder / RUN_FILE
    before = len(list((folder / "folds").rglob("*.json"))) if (folder / "folds").is_dir() else 0
    start = time.perf_counter()
    loso = run_loso(run_config(base, run, data_root), folder, executor=executor, progress=progress)
    wall = time.perf_counter() - start
    old = json.loads(record_file.read_text()) if record_file.is_file() else {}
    n_folds = len(loso.results)
    if before >= n_folds and old.get("complete"):
        wall_s, wall_note = old["wall_s"], old.get("wall_note", "")
    else:
        wall_s = round(wall, 1)
        wall_note = f"resumed: {before} of {n_folds} folds were done" if before else ""
    records = loso.features.records
    picked_rows = []
    if has_test_curves(loso.results):
        for r in picked_predictions(loso.results):
            rec = records[r["test_index"]]
            picked_rows.append(
                {
                    "variant": r["variant"],
                    "seed": r["seed"],
                    "fold": r["fold"],
                    "dataset": rec.dataset,
                    "subject": rec.subject,
                    "clip": rec.clip,
                    "label": r["label"],
                    "prediction": r["prediction"],
                    "epoch": r["epoch"],
                }
            )
    pd.DataFrame(picked_rows).to_csv(folder / "test_picked_predictions.csv", index=False)
    record = {
        "entry": run.entry,
        "images": run.images,
        "epochs": run.epochs,
        "seed": run.seed,
        "protocol_epochs": base.training.epochs,
        "batch_size": base.training.batch_size,
        "lr": base.training.lr,
        "training": training_description(base.training),
        "model": base.model.name,
        "input": input_description(base),
        "complete": True,
        "folds": n_folds,
        "fold_job_s": round(sum(r.seconds for r in loso.results), 1),
        "wall_s": wall_s,
        "wall_note": wall_note,
        "machine": old.get("machine") if old.get("complete") else machine(),
        "load_average": old.get("load_average")
        if old.get("complete")
        else round(os.getloadavg()[0], 1),
        "test_curves": bool(picked_rows),
    }
    atomic_write_text(record_file, json.dumps(record, indent=2))
    return record


def _copy_predictions(folder: Path, results: Path) -> Path:
    dest = results / "leaderboard" / folder.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("predictions.csv", "test_picked_predictions.csv"):
        if (folder / name).is_file():
            shutil.copyfile(folder / name, dest / name)
    return dest


def collect(out: Path, results: Path, configs: Path = CONFIGS) -> pd.DataFrame:
    """One row per finished run under ``out``, its predictions copied to ``results``.

    Runs already in ``results/leaderboard.csv`` whose folder is not under
    ``out`` (made on another machine, or whose run folder was removed) keep
    their row, its figures recomputed from their copied predictions.
    """
    rows = []
    for record_file in sorted(out.glob(f"*/{RUN_FILE}")):
        record = json.loads(record_file.read_text())
        if not record.get("complete"):
            continue
        dest = _copy_predictions(record_file.parent, results)
        shortened = record["epochs"] < record["protocol_epochs"]
        config_file = configs / discover_entries(configs).get(record["entry"].split("@")[0], "")
        rows.append(
            {
                "run": record_file.parent.name,
                "entry": record["entry"],
                "model": record["model"],
                "input": record["input"],
                "images": record["images"],
                "seed": record["seed"],
                "epochs": record["epochs"],
                "protocol_epochs": record["protocol_epochs"],
                "shortened": "SHORTENED" if shortened else "",
                "batch_size": record["batch_size"],
                "lr": record["lr"],
                "training": record.get("training", f"Adam lr {record['lr']:g}"),
                **score_run_folder(dest),
                "fold_job_s": record["fold_job_s"],
                "wall_s": record["wall_s"],
                "wall_note": record["wall_note"],
                "load_average": record.get("load_average"),
                "machine": record["machine"],
                "protocol_source": protocol_source(config_file) if config_file.is_file() else "",
            }
        )
    seen = {row["run"] for row in rows}
    table = results / "leaderboard.csv"
    # a command whose every entry was skipped wrote a table without rows (an empty file)
    if table.is_file() and table.read_text().strip():
        old = pd.read_csv(table, dtype={"shortened": str, "wall_note": str})
        old[["shortened", "wall_note"]] = old[["shortened", "wall_note"]].fillna("")
        for row in old.to_dict("records"):
            dest = results / "leaderboard" / str(row["run"])
            if row["run"] not in seen and (dest / "predictions.csv").is_file():
                rows.append({**row, **score_run_folder(dest)})
    frame = pd.DataFrame(rows)
    return frame.sort_values("run", kind="stable").reset_index(drop=True) if len(frame) else frame


def _pm(values: pd.Series) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return "not recorded"
    return f"{v.mean():.4f}" + (f" ± {v.std():.4f}" if len(v) > 1 else "")


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds per (entry, images, epochs)."""
    rows = []
    for (entry, images, epochs), g in runs.groupby(["entry", "images", "epochs"], sort=False):
        first = g.iloc[0]
        label = entry + (
            f" (SHORTENED: {epochs} of {first['protocol_epochs']} epochs)"
            if first["shortened"]
            else f" ({epochs} epochs, the protocol's)"
        )
        row = {
            "model": label,
            "input": first["input"],
            "images": images,
            "protocol": f"{first['protocol_epochs']} epochs, batch {first['batch_size']}, "
            f"{first['training']}",
            "seeds": len(g),
            "UF1": _pm(g["uf1"]),
            "UAR": _pm(g["uar"]),
            "UF1 per seed": ", ".join(
                f"{s}: {u:.4f}" for s, u in zip(g["seed"], g["uf1"], strict=True)
            ),
        }
        for key, name in DATASETS.items():
            row[f"{name} UF1"] = _pm(g[f"{key}_uf1"]) if f"{key}_uf1" in g else ""
        row["UF1 test-picked (not valid)"] = _pm(g["test_picked_uf1"])
        row["UAR test-picked (not valid)"] = _pm(g["test_picked_uar"])
        row["fold-job time per run (min)"] = f"{g['fold_job_s'].mean() / 60:.1f}"
        row["wall per run (min)"] = f"{g['wall_s'].mean() / 60:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def per_run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run, every figure."""
    cols = {
        "run": "run",
        "shortened": "shortened",
        "seed": "seed",
        "uf1": "UF1",
        "uar": "UAR",
        "casme2_uf1": "CASME II UF1",
        "casme2_uar": "CASME II UAR",
        "samm_uf1": "SAMM UF1",
        "samm_uar": "SAMM UAR",
        "smic_uf1": "SMIC UF1",
        "smic_uar": "SMIC UAR",
        "test_picked_uf1": "UF1 test-picked (not valid)",
        "test_picked_uar": "UAR test-picked (not valid)",
        "fold_job_s": "fold-job s",
        "wall_s": "wall s",
        "wall_note": "wall note",
        "load_average": "load average",
    }
    present = [c for c in cols if c in runs]
    table = runs[present].rename(columns=cols)
    for col in ("fold-job s", "wall s"):
        table[col] = [f"{v:.0f}" for v in table[col]]
    if "load average" in table:
        table["load average"] = [f"{v:.1f}" if pd.notna(v) else "" for v in table["load average"]]
    return table


def ensemble_table(runs: pd.DataFrame, results: Path) -> pd.DataFrame:
    """Soft-vote ensembles of finished runs, by fixed rules (nothing selected).

    - per entry, image set and epoch count with two or more seeds: all its seeds;
    - per image set, when two or more entries ran their full protocol on it:
      every full-protocol (not SHORTENED) run of every entry.

    Probabilities are averaged with equal weights
    (:func:`microexpr.evaluation.ensemble.average_probabilities`), read from
    the copied ``results/leaderboard/<run>/predictions.csv``, so every figure
    is recomputable from the committed files.
    """
    rows: list[dict[str, Any]] = []

    def add(label: str, rule: str, members: pd.DataFrame) -> None:
        frames = [
            pd.read_csv(
                results / "leaderboard" / run / "predictions.csv",
                dtype={"subject": str, "fold": str},
            )
            for run in members["run"]
        ]
        ens = average_probabilities(frames, names=list(members["run"]))
        s = pooled_scores(ens["label"], ens["prediction"], labels=LABELS)
        row = {"ensemble": label, "rule": rule, "members": len(frames)}
        row.update(UF1=s["uf1"], UAR=s["uar"])
        row["best member UF1"] = float(members["uf1"].max())
        row["mean member UF1"] = float(members["uf1"].mean())
        for key, part in _score_by_dataset(ens).items():
            row[f"{DATASETS[key]} UF1"] = part["uf1"]
        row["runs"] = ", ".join(members["run"])
        rows.append(row)

    if not len(runs):
        return pd.DataFrame(rows)
    for (entry, images, epochs), g in runs.groupby(["entry", "images", "epochs"], sort=False):
        if len(g) >= 2:
            tag = " SHORTENED" if g.iloc[0]["shortened"] else ""
            add(f"{entry} x{len(g)} seeds ({images}, {epochs} epochs{tag})", "all seeds", g)
    for images, g in runs[runs["shortened"] == ""].groupby("images", sort=False):
        if g["entry"].nunique() >= 2:
            add(
                f"every full-protocol run ({images})",
                "all entries, all seeds",
                g,
            )
    return pd.DataFrame(rows)


def loso_test_identity(root: Path) -> dict[str, Any]:
    """Compare every ``loso_test/<fold>/<label>/<image>`` with ``whole/<image>``, pixel by pixel.

    Also counts the ``whole/`` image channels whose minimum is 0 and maximum
    255 (each image min-max normalised on its own).
    """
    whole = {p.name: read_flow_image(p, channels=None) for p in sorted((root / "whole").iterdir())}
    identical, differing, missing, label_mismatch = 0, [], [], []
    labels = pd.read_csv(root / "labels.csv", dtype=str).set_index("image")["label"]
    n_test = 0
    folds = megc2019_folds(root) if (root / "loso_test").is_dir() else []
    for fold in folds:
        for path in sorted((root / "loso_test" / fold).glob("*/*")):
            n_test += 1
            if path.name not in whole:
                missing.append(f"{fold}/{path.parent.name}/{path.name}")
                continue
            if labels.get(path.name) != path.parent.name:
                label_mismatch.append(path.name)
            a = read_flow_image(path, channels=None)
            if a.shape == whole[path.name].shape and np.array_equal(a, whole[path.name]):
                identical += 1
            else:
                differing.append(f"{fold}/{path.parent.name}/{path.name}")
    channels = [img[c] for img in whole.values() for c in range(img.shape[0])]
    full_range = sum(1 for ch in channels if ch.min() == 0 and ch.max() == 255)
    return {
        "whole": len(whole),
        "folds": len(folds),
        "loso_test": n_test,
        "identical": identical,
        "differing": differing,
        "missing_from_whole": missing,
        "label_mismatch": label_mismatch,
        "channels": len(channels),
        "channels_full_range": full_range,
    }


def _identity_note(check: dict[str, Any]) -> str:
    text = (
        f"`whole/` vs `loso_test/`, checked image by image over the whole set by "
        f"`benchmarks/leaderboard.py` (`loso_test_identity`): {check['loso_test']} test images "
        f"in {check['folds']} fold folders, {check['identical']} pixel-identical to the "
        f"`whole/` image of the same name, {len(check['differing'])} differing, "
        f"{len(check['missing_from_whole'])} absent from `whole/`, "
        f"{len(check['label_mismatch'])} in a label folder other than labels.csv's label; "
        f"{check['channels_full_range']} of {check['channels']} `whole/` image channels span "
        "exactly 0..255 (each image min-max normalised on its own)."
    )
    if check["identical"] == check["loso_test"] == check["whole"] and not check["differing"]:
        text += (
            " So the two image sets give the models the same inputs, and no statistic of a "
            "test subject reaches training through the normalisation: with the same seed a "
            "`loso_test` run reproduces its `whole` run."
        )
    elif check["differing"]:
        text += f" First differing: {', '.join(check['differing'][:5])}."
    return text


def entry_models(configs: Path = CONFIGS) -> dict[str, list[str]]:
    """Registered model -> the entries that run it (ablation variants through ``ABLATION_BASE``)."""
    out: dict[str, list[str]] = {}
    for entry, name in discover_entries(configs).items():
        out.setdefault(load_config(configs / name).model.name, []).append(entry)
    for variant in ablation_variants():
        out.setdefault(variant, []).append(f"{ABLATION_BASE}@{variant}")
    return out


def not_run_models(configs: Path = CONFIGS) -> dict[str, str]:
    """Registered models no leaderboard entry runs -> why."""
    covered = entry_models(configs)
    out = {}
    for m in list_models():
        if m in covered:
            continue
        inputs = get_model_cfg(m)["inputs"]
        if inputs not in FLOW_INPUTS:
            out[m] = (
                f"takes {inputs!r} inputs, which a flow-image set does not hold (the "
                "MEGC2019 release has flows only); not run"
            )
        else:
            out[m] = (
                f"no `configs/{CONFIG_PREFIX}*.yaml` with a published training protocol "
                "yet; not run"
            )
    return out


def write_outputs(
    runs: pd.DataFrame,
    results: Path,
    *,
    commands: Sequence[str],
    identity: str,
    not_run_here: dict[str, str] | None = None,
) -> str:
    """Write leaderboard.md and leaderboard.csv; return the Markdown."""
    results.mkdir(parents=True, exist_ok=True)
    runs.to_csv(results / "leaderboard.csv", index=False)
    shortened = bool(len(runs)) and bool((runs["shortened"] != "").any())
    lines = [
        "# MEGC2019 leaderboard: honest LOSO figures beside the test-picked ones",
        "",
        "Published MEGC2019 flow images (442 clips, 68 subjects; CASME II 145, SMIC-HS 164, "
        "SAMM 133), leave-one-subject-out, every model trained from scratch per fold; the "
        "**last epoch's model** is evaluated. UF1/UAR pool TP/FP/FN over all folds (the "
        "MEGC2019 rule); per dataset, the clips of that dataset pooled the same way.",
        "",
        f"Columns marked *test-picked* are {TEST_PICKED_LABEL}: the same run scored at each "
        "fold's epoch with the best accuracy on that fold's test subject (ties: earliest), "
        "predictions pooled. They are computed from test predictions recorded after every "
        "epoch for this column alone; nothing else reads them.",
        "",
    ]
    if shortened:
        lines += [
            "**SHORTENED runs**: rows marked SHORTENED trained fewer epochs than their "
            "protocol (stated in the row). They are smoke figures of this machine, not the "
            "protocol's result.",
            "",
        ]
    lines += ["Commands:", ""] + [f"    {c}" for c in commands] + [""]
    machines = sorted(set(runs["machine"])) if len(runs) else [machine()]
    lines += [
        "Machine(s): " + "; ".join(machines) + ". Shared with other sessions: the load "
        "average when each run finished is in the per-run table, and times are inflated by it.",
        "",
    ]
    lines += ["## Summary (mean ± std over seeds)", ""]
    if len(runs):
        lines += [markdown_table(summary_table(runs)), ""]
        lines += ["## Every run", "", markdown_table(per_run_table(runs), floatfmt=".4f"), ""]
        ensembles = ensemble_table(runs, results)
        ensembles.to_csv(results / "leaderboard_ensembles.csv", index=False)
        if len(ensembles):
            lines += [
                "## Ensembles (fixed rules, nothing selected)",
                "",
                "Each clip's class probabilities averaged with equal weights over the "
                "members, the highest mean predicted. The rules were fixed before any "
                "score was seen and have no parameter: all seeds of one entry; all "
                "full-protocol runs of all entries on one image set. No member, weight or "
                "epoch is chosen, so no figure of a test subject reaches a choice "
                "(`microexpr.evaluation.ensemble`). Also in `leaderboard_ensembles.csv`.",
                "",
                markdown_table(ensembles, floatfmt=".4f"),
                "",
            ]
        lines += ["## Protocols (from each config)", ""]
        for entry, g in runs.groupby("entry", sort=False):
            first = g.iloc[0]
            config_name = ENTRIES.get(entry.split("@")[0], "?")
            lines.append(
                f"- `{entry}` (`configs/{config_name}`): {first['protocol_epochs']} "
                f"epochs, batch {first['batch_size']}, {first['training']}. "
                f"{first['protocol_source']}"
            )
        lines.append("")
    else:
        lines += ["No finished runs yet.", ""]
    lines += [
        "Fold-job time: the sum over folds of each fold's training and prediction time "
        "(survives resumes). Wall: the command that finished the run (marked when it resumed "
        "earlier folds); jobs ran in parallel processes, one torch thread each.",
        "",
        "## Not run here (too slow or too large for this machine)",
        "",
        *([f"- `{e}`: {why}" for e, why in (not_run_here or {}).items()] or ["None."]),
        "",
        "## Not on the leaderboard",
        "",
        *([f"- `{m}`: {why}." for m, why in not_run_models().items()] or ["None."]),
        "",
        "## Published figures on the same composite (not run here)",
        "",
        markdown_table(PUBLISHED, floatfmt=".4f"),
        "",
        "## Notes",
        "",
        f"- {identity}",
        "- Every figure is recomputable from `benchmarks/results/leaderboard/<run>/` "
        "(`predictions.csv`: the honest predictions; `test_picked_predictions.csv`: the "
        "picked epoch per fold and its predictions) with `rescore()` in "
        "`benchmarks/leaderboard.py`.",
        "",
    ]
    text = "\n".join(lines)
    atomic_write_text(results / "leaderboard.md", text)
    return text


def workers() -> int:
    """Fold jobs run at once here (the local executor: one process per core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def step_seconds(config: ExperimentConfig, *, steps: int = 3) -> float:
    """Seconds of one training step of ``config``'s model at its batch size, one torch thread.

    Random inputs at the model's declared input size; one untimed warm-up step,
    then the median of ``steps`` timed ones (the optimizer the config names).
    """
    from microexpr.training.trainer import make_optimizer

    cfg = config.model.cfg()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = config.model.build().train()
        optimizer = make_optimizer(list(model.parameters()), config.training)
        x = torch.randn((config.training.batch_size, *cfg["input_size"]))
        y = torch.randint(0, int(cfg["num_classes"]), (config.training.batch_size,))
        loss_fn = torch.nn.CrossEntropyLoss()
        times = []
        for i in range(steps + 1):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
            if i:
                times.append(time.perf_counter() - start)
        return float(np.median(times))
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Estimate:
    """What an entry would cost here: memory per fold job and time of its planned runs."""

    memory_gb: float
    available_gb: float
    s_per_fold_epoch: float | None
    hours: float | None


def estimate_entry(
    config: ExperimentConfig,
    *,
    n_clips: int,
    n_folds: int,
    fold_epochs: int,
    measure_time: bool,
) -> Estimate:
    """Training memory of one fold job and, if ``measure_time``, hours for ``fold_epochs``.

    Time: :func:`step_seconds` x steps per fold-epoch (``n_clips`` less one
    subject's share, at the batch size) x ``fold_epochs`` over :func:`workers`
    processes; the one-fold path (stacking small models is faster, see
    stacked_training.md), prediction and start-up left out.
    """
    from microexpr.training.batched import available_memory, fold_memory

    cfg = config.model.cfg()
    torch.manual_seed(0)
    per_job = fold_memory(
        config.model.build(), tuple(cfg["input_size"]), config.training.batch_size
    )
    memory_gb = per_job * workers() / 1e9
    available_gb = available_memory() / 1e9
    if not measure_time:
        return Estimate(memory_gb, available_gb, None, None)
    n_train = n_clips - n_clips / max(n_folds, 1)
    steps = int(np.ceil(n_train / config.training.batch_size))
    per_fold_epoch = step_seconds(config) * steps
    hours = per_fold_epoch * fold_epochs / workers() / 3600
    return Estimate(memory_gb, available_gb, per_fold_epoch, hours)


def too_costly(estimate: Estimate, max_hours: float | None) -> str | None:
    """One line saying why an entry is not run here, or None if it fits."""
    if estimate.memory_gb > estimate.available_gb:
        return (
            f"too large here: about {estimate.memory_gb:.1f} GB of training memory for "
            f"{workers()} parallel fold jobs, {estimate.available_gb:.1f} GB available; "
            "run it on a bigger machine or a GPU (--device cuda in its config)"
        )
    if max_hours is not None and estimate.hours is not None and estimate.hours > max_hours:
        return (
            f"too slow here: projected {estimate.hours:,.1f} h for the planned runs "
            f"(probe: {estimate.s_per_fold_epoch:.2f} s per fold-epoch, 1 torch thread, "
            f"{workers()} workers, load average {os.getloadavg()[0]:.1f}) > --max-hours "
            f"{max_hours:g}; run it on a GPU or raise --max-hours"
        )
    return None


#: Entry measured first in every ``--project`` command, the baseline of its ratios.
PROJECTION_BASELINE = "ststnet"


def _time_fold(
    spec: ModelSpec, data: Any, fold: Any, *, seed: int = 0
) -> tuple[list[float], float, float]:
    """Train and test one fold as a fold job does, one torch thread; time each epoch.

    Returns the seconds of each epoch, of the whole job (build, train, predict)
    and the fold's accuracy (a sanity check, not a score).
    """
    from microexpr.training.trainer import fit, predict_proba, seed_everything

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        seed_everything(seed)
        model = spec.build()
        x, y = data.inputs[spec.input_kind()], data.labels
        train, test = list(fold.train_indices), list(fold.test_indices)
        stamps = [time.perf_counter()]
        fit(
            model,
            torch.from_numpy(x[train]),
            torch.from_numpy(y[train]),
            data.settings,
            seed=seed,
            on_epoch=lambda _e, _l: stamps.append(time.perf_counter()),
        )
        proba = predict_proba(model, torch.from_numpy(x[test]), device=data.settings.device)
        total = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    accuracy = float((proba.argmax(axis=1) == y[test]).mean())
    return list(np.diff(stamps)), total, accuracy


def project_entries(
    entries: Sequence[str],
    root: Path,
    *,
    folds: int,
    epochs: int,
    seeds: int,
    configs: Path = CONFIGS,
    stream: Any = sys.stderr,
) -> pd.DataFrame:
    """Train the first ``folds`` folds of each entry for ``epochs`` and project its protocol.

    Each fold is trained and its test subject predicted as a fold job of the
    one-fold path does (seeded, built, :func:`fit`, :func:`predict_proba`), with
    one torch thread as each worker of the local executor has, on the real flows
    prepared as the entry's model declares. Seconds per fold-epoch: the median
    epoch but the entry's very first (which carries one-off warm-up), or that
    one alone when only one fold of one epoch was run. Projected hours: that x
    all folds x the protocol's epochs x ``seeds`` over :func:`workers` processes
    (the ``whole/`` images alone).
    """
    from microexpr._experiment import load_features
    from microexpr.training.engine import EngineData

    rows = []
    for entry in entries:
        base, _ = entry_config(entry, configs)
        config = run_config(base, Run(entry, "whole", epochs, 0), str(root))
        config = config.replace(training=replace(config.training, record_test_curve=False))
        features = load_features(config, progress=False)
        variants = config.all_variants()
        inputs, labels, all_folds = features.engine_arrays(
            {name: spec.cfg() for name, spec in variants.items()}
        )
        data = EngineData(inputs, labels, all_folds, variants, config.training)
        spec = variants[config.model.name]
        firsts, steadies, totals = [], [], []
        for i, fold in enumerate(all_folds[:folds]):
            times, total, accuracy = _time_fold(spec, data, fold)
            firsts.append(times[0])
            # the entry's very first epoch carries the one-off warm-up (oneDNN kernels
            # for these shapes); later folds' first epochs do not
            steadies += times[1:] if i == 0 else times
            totals.append(total)
            print(
                f"leaderboard: {entry} fold {fold.test_subject}: {total:.1f} s for {epochs} "
                f"epoch(s) (epochs: {', '.join(f'{t:.1f}' for t in times)} s; "
                f"accuracy {accuracy:.2f})",
                file=stream,
                flush=True,
            )
        per = float(np.median(steadies)) if steadies else float(np.mean(firsts))
        n_folds, protocol = len(all_folds), base.training.epochs
        hours = per * n_folds * protocol * seeds / workers() / 3600
        rows.append(
            {
                "entry": entry,
                "model": base.model.name,
                "input": input_description(base),
                "protocol": f"{protocol} epochs, batch {base.training.batch_size}, "
                f"{training_description(base.training)}",
                "folds x epochs measured": f"{len(totals)} x {epochs}",
                "first epoch s": round(float(np.mean(firsts)), 2),
                "s per fold-epoch": round(per, 2),
                "fold job s": round(float(np.mean(totals)), 1),
                "projected hours": round(hours, 1),
                "projected days": round(hours / 24, 1),
                "load average": round(os.getloadavg()[0], 1),
            }
        )
    table = pd.DataFrame(rows)
    # the baseline measured in the same command: its ratio survives the machine's load
    base = table.loc[table["entry"] == PROJECTION_BASELINE, "s per fold-epoch"]
    if len(base):
        table[f"x {PROJECTION_BASELINE} (same command)"] = (
            table["s per fold-epoch"] / float(base.iloc[0])
        ).round(1)
    return table


def write_projection(
    table: pd.DataFrame, results: Path, *, command: str, seeds: int, load: str
) -> str:
    """Write leaderboard_projection.{md,csv}, keeping other entries' rows; return the Markdown."""
    results.mkdir(parents=True, exist_ok=True)
    csv = results / "leaderboard_projection.csv"
    table = table.assign(command=command)
    if csv.is_file():
        old = pd.read_csv(csv)
        # a re-measured entry replaces its row; each command's baseline row stays with it
        replaced = old["entry"].isin(table["entry"]) & (
            (old["entry"] != PROJECTION_BASELINE) | (old["command"] == command)
        )
        table = pd.concat([old[~replaced], table], ignore_index=True)
    table.to_csv(csv, index=False)
    commands = list(dict.fromkeys(table["command"]))
    shown = table.drop(columns=["command"]).assign(
        command=[f"{commands.index(c) + 1}" for c in table["command"]]
    )
    text = "\n".join(
        [
            "# Leaderboard: measured time per fold-epoch, projected protocol time (this machine)",
            "",
            f"Machine: {machine()}; shared with other sessions, every command under "
            f"`nice -n 15`. Last command: {load}",
            "",
            f"Measured: the first LOSO folds of each entry on the real MEGC2019 flows (`whole/`), "
            "each trained and its test subject predicted as a fold job does, one torch thread "
            "(as each worker of the local executor). *s per fold-epoch*: the median epoch but the "
            "entry's very first, which carries one-off warm-up (*first epoch s*: the mean first "
            "epoch of the folds, warm-up included). *fold job s*: building, training and "
            "predicting one fold. *load average*: 1-min, when the entry finished. The ratio "
            f"column divides by `{PROJECTION_BASELINE}` measured in the same command (the "
            "baseline every command measures first), which the shared machine's load affects "
            "less than the seconds.",
            "",
            f"Projected: s per fold-epoch x 68 folds x the protocol's epochs x {seeds} seeds / "
            f"{workers()} workers, one image set (`whole/`; `loso_test/` doubles it), one fold "
            "at a time: the small models that `fold_batching: auto` stacks run faster "
            "(benchmarks/results/stacked_training.md: 2.7x for ATSCNN at 28x28), and the load "
            "of other sessions inflates every figure.",
            "",
            markdown_table(shown),
            "",
            "Commands (column *command*):",
            "",
            *[f"{i + 1}. `{c}`" for i, c in enumerate(commands)],
            "",
        ]
    )
    atomic_write_text(results / "leaderboard_projection.md", text)
    return text


def plan_runs(
    entries: Sequence[str],
    images: Sequence[str],
    seeds: int,
    *,
    epochs: int | None,
    epochs_scale: float | None,
    configs: Path = CONFIGS,
) -> list[tuple[Run, ExperimentConfig]]:
    """Every run of the command, with its entry's config."""
    runs = []
    for entry in entries:
        base, _ = entry_config(entry, configs)
        n = base.training.epochs
        if epochs is not None:
            n = epochs
        elif epochs_scale is not None:
            n = max(1, round(n * epochs_scale))
        for image_set in images:
            for seed in range(seeds):
                runs.append((Run(entry, image_set, n, seed), base))
    return runs


def main(argv: list[str] | None = None) -> int:
    """Run the leaderboard; one line per problem, finished runs kept."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(MEGC2019_ENV), help="MEGC2019 flow set")
    parser.add_argument(
        "--models",
        default="all",
        help=f"all (default), ablations (ATSCNN variants at {ABLATION_BASE}), or a comma list "
        f"of {', '.join(ENTRIES)}, <entry>@<atscnn variant>",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="override (SHORTENED runs)")
    parser.add_argument("--epochs-scale", type=float, default=None, help="protocol epochs x F")
    parser.add_argument(
        "--images", default="whole", help="whole, loso_test, or both as whole,loso_test"
    )
    parser.add_argument("--out", default="runs/leaderboard", help="root of the run folders")
    parser.add_argument("--results", default=str(RESULTS), help="where the tables go")
    parser.add_argument("--executor", default="auto", help="auto, serial, local or ray")
    parser.add_argument("--quiet", action="store_true", help="no per-fold lines")
    parser.add_argument(
        "--max-hours",
        type=float,
        default=None,
        help="skip (one line each) an entry whose planned runs a timed probe projects "
        "over H hours on this machine",
    )
    parser.add_argument(
        "--project",
        type=int,
        default=None,
        metavar="K",
        help="measure instead: train the first K folds of each entry for --epochs (default 1) "
        "and write leaderboard_projection.{md,csv}",
    )
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    command = "python " + shlex.join(["benchmarks/leaderboard.py", *given])
    if "--data" not in given:
        command = f"{MEGC2019_ENV}=<data> nice -n 15 {command}"
    try:
        if not args.data:
            raise MicroexprError(f"pass --data or set {MEGC2019_ENV} to the MEGC2019 flow set")
        images = [s.strip() for s in args.images.split(",") if s.strip()]
        bad = [s for s in images if s not in IMAGE_SETS]
        if bad or not images:
            raise MicroexprError(f"--images: {bad or images} not in {', '.join(IMAGE_SETS)}")
        if args.seeds < 1:
            raise MicroexprError(f"--seeds == {args.seeds}, must be >= 1")
        if args.epochs is not None and args.epochs < 1:
            raise MicroexprError(f"--epochs == {args.epochs}, must be >= 1")
        if args.epochs_scale is not None and args.epochs_scale <= 0:
            raise MicroexprError(f"--epochs-scale == {args.epochs_scale}, must be > 0")
        if args.max_hours is not None and args.max_hours <= 0:
            raise MicroexprError(f"--max-hours == {args.max_hours}, must be > 0")
        if args.project is not None and args.project < 1:
            raise MicroexprError(f"--project == {args.project}, must be >= 1")
        root = check_megc2019_layout(args.data, need_folds="loso_test" in images)
        entries = expand_models(args.models)
        plan = plan_runs(
            entries, images, args.seeds, epochs=args.epochs, epochs_scale=args.epochs_scale
        )
    except MicroexprError as exc:
        print(f"leaderboard: {exc}", file=sys.stderr)
        return 2
    if args.project is not None:
        start_load = os.getloadavg()[0]
        measured = [PROJECTION_BASELINE, *[e for e in entries if e != PROJECTION_BASELINE]]
        table = project_entries(
            measured, root, folds=args.project, epochs=args.epochs or 1, seeds=args.seeds
        )
        load = (
            f"1-min load average {start_load:.1f} at its start, "
            f"{os.getloadavg()[0]:.1f} at its end."
        )
        print(
            write_projection(
                table,
                Path(args.results),
                command=command,
                seeds=args.seeds,
                load=load,
            )
        )
        return 0
    out, results = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    identity = _identity_note(loso_test_identity(root))
    commands_file = out / "commands.txt"
    known = commands_file.read_text().splitlines() if commands_file.is_file() else []
    if command not in known:
        atomic_write_text(commands_file, "\n".join([*known, command]) + "\n")
        known.append(command)
    failed = 0
    not_run_here: dict[str, str] = {}
    n_clips = len(pd.read_csv(root / "labels.csv"))
    n_folds = len(megc2019_folds(root)) if (root / "loso_test").is_dir() else 68
    checked: set[str] = set()
    for run, base in plan:
        if run.entry in not_run_here:
            continue
        todo = [
            r for r, _ in plan if r.entry == run.entry and not (out / r.name / RUN_FILE).is_file()
        ]
        if todo and run.entry not in checked and base.training.device == "cpu":
            # once per entry, before its first run that still has to train
            checked.add(run.entry)
            try:
                estimate = estimate_entry(
                    base,
                    n_clips=n_clips,
                    n_folds=n_folds,
                    fold_epochs=sum(r.epochs for r in todo) * n_folds,
                    measure_time=args.max_hours is not None,
                )
            except (MemoryError, RuntimeError) as exc:
                why: str | None = f"too large here: a training step failed ({exc})"
            else:
                why = too_costly(estimate, args.max_hours)
            if why:
                not_run_here[run.entry] = why
                print(f"leaderboard: {run.entry}: {why}", file=sys.stderr, flush=True)
                continue
        print(f"leaderboard: {run.name} ...", file=sys.stderr, flush=True)
        try:
            execute_run(run, base, str(root), out, executor=args.executor, progress=not args.quiet)
        except (MicroexprError, MemoryError, RuntimeError) as exc:
            failed += 1
            print(f"leaderboard: {run.name}: {exc}; finished runs kept", file=sys.stderr)
            continue
        # the tables after every run, so a long command leaves what it finished
        write_outputs(
            collect(out, results),
            results,
            commands=known,
            identity=identity,
            not_run_here=not_run_here,
        )
    text = write_outputs(
        collect(out, results), results, commands=known, identity=identity, not_run_here=not_run_here
    )
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
