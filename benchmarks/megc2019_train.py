"""Train models from scratch on the MEGC2019 flows, full LOSO, fixed epochs.

Reads the 442 flow images of ``<data>/whole`` (one normalisation for the
whole set, as STSTNet's authors published them) with ``<data>/labels.csv``,
and for each of the 68 subjects trains a fresh model on the other 67 and
predicts the held-out one. The model after the last epoch is evaluated: no
epoch or checkpoint is ever chosen on the test subject. UF1 and UAR pool
TP/FP/FN over all folds (MEGC2019 rule), overall and per source dataset.

Per-model settings (``SPECS``): optimiser settings and the published epochs.
The inputs (channels, scale, size) are what each model's registered
``default_cfg`` declares, arranged by the library
(``microexpr.preprocess.flow_image_inputs.flow_images_for_model``), as for
``microexpr loso`` with a ``dataset: flow_images`` config
(configs/megc2019_flows_*.yaml). ATSCNN runs its streams on the 28x28 flows
at native size: 28 -> 14 -> 7 -> 3 -> 1 through the four
conv/pool blocks, so each stream ends in a 16x1x1 map and the head sees
3 x 16 = 48 features (3072 at the paper's 128x128). Models whose default input
is larger (MACNN, Micro-Attention, Off-TANet, mini-AORCNN) get the flows
resized bilinearly to their input size.

The commands that made ``benchmarks/results/megc2019_train_{atscnn,ststnet}.md``
(run side by side, one thread each, on a shared 2-core CPU; the published
epochs, 200 and 800, take hours there, so the epochs are reduced and the
tables say so)::

    export MICROEXPR_MEGC2019=../shared/megc2019
    .venv/bin/python benchmarks/megc2019_train.py --models atscnn --epochs 50 \
        --name megc2019_train_atscnn
    .venv/bin/python benchmarks/megc2019_train.py --models ststnet --epochs 150 \
        --name megc2019_train_ststnet

``--models all --epochs N`` trains every registered baseline the same way.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import microexpr.models  # noqa: F401
from microexpr.data.flow_images import MEGC2019_ENV, read_megc2019_whole
from microexpr.evaluation.metrics import pooled_scores
from microexpr.models._registry import create_model
from microexpr.preprocess.flow_image_inputs import flow_images_for_model
from microexpr.reports.complexity_table import markdown_table
from microexpr.training.trainer import TrainSettings, fit, predict_proba, seed_everything

# Until microexpr.models imports every model file, import the baselines here.
for _module in (
    "ststnet",
    "off_apexnet",
    "dual_inception",
    "macnn",
    "micro_attention",
    "off_tanet",
    "aorcnn",
):
    __import__(f"microexpr.models.{_module}")

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = [0, 1, 2]


@dataclass(frozen=True)
class Spec:
    """How one model is trained here."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # registry name, when it differs from the key
    lr: float = 1e-4
    batch_size: int = 64
    epochs: int = 200
    note: str = ""


SPECS: dict[str, Spec] = {
    "atscnn": Spec(
        kwargs={"input_size": 28},
        note="paper settings (Adam 1e-4, batch 64); streams at 28x28 native, 16x1x1 per stream",
    ),
    "atscnn_128": Spec(
        model="atscnn",
        note="paper settings at the paper's 128x128: flows resized 28 -> 128 (meant for a GPU)",
    ),
    "ststnet": Spec(
        lr=5e-5,
        batch_size=256,
        epochs=800,
        note="published PyTorch settings (Adam 5e-5, batch 256), raw 0..255 input",
    ),
    "off_apexnet": Spec(note="u, v at 28x28; Adam 1e-4, batch 64"),
    "dual_inception": Spec(note="u, v at 28x28; Adam 1e-4 (authors' Keras code), batch 64"),
    "macnn": Spec(note="flows resized 28 -> 112"),
    "micro_attention": Spec(note="flows resized 28 -> 224"),
    "off_tanet": Spec(lr=1e-3, note="flows resized 28 -> 112; Adam 1e-3 (authors' code)"),
    "mini_aorcnn": Spec(lr=1e-3, note="flows resized 28 -> 112; Adam 1e-3 (authors' code)"),
}

PUBLISHED = pd.DataFrame(
    [
        ("STSTNet, official per-fold weights (PyTorch re-run)", 0.7209, 0.7250, "MEGC2019"),
        ("STSTNet from scratch (paper, MATLAB)", 0.7353, 0.7605, "MEGC2019"),
        ("HTNet (2024), best epoch picked on the test fold", 0.8603, 0.8475, "MEGC2019"),
        ("ATSCNN (paper, 128x128, own flows)", 0.7205, 0.7351, "CASME+CASME II+SAMM, 382"),
        ("STSTNet (ATSCNN paper's re-implementation)", 0.6434, 0.6603, "same 382"),
    ],
    columns=["result", "uf1", "uar", "composite"],
)


def _parse_epochs(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    if "=" not in text:
        return {"*": int(text)}
    out = {}
    for part in text.split(","):
        name, value = part.split("=")
        out[name.strip()] = int(value)
    return out


def _inputs(model: torch.nn.Module, images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(flow_images_for_model(images, model.default_cfg))


def run_model(
    name: str,
    data: Any,
    *,
    epochs: int,
    seed: int,
    device: str,
    max_folds: int | None,
    log: Any,
) -> tuple[dict[str, Any], pd.DataFrame]:
    spec = SPECS.get(name, Spec())
    settings = TrainSettings(epochs=epochs, batch_size=spec.batch_size, lr=spec.lr, device=device)
    subjects = list(dict.fromkeys(data.subjects.tolist()))  # file order
    if max_folds is not None:
        subjects = subjects[:max_folds]
    registry_name = spec.model or name
    probe = create_model(registry_name, **spec.kwargs)
    x_all = _inputs(probe, data.images)
    y_all = torch.from_numpy(data.labels)
    frames = []
    start = time.perf_counter()
    for i, subject in enumerate(subjects):
        test = data.subjects == subject
        train_idx = torch.from_numpy(np.flatnonzero(~test))
        test_idx = torch.from_numpy(np.flatnonzero(test))
        seed_everything(seed + i)
        model = create_model(registry_name, **spec.kwargs)
        fit(model, x_all[train_idx], y_all[train_idx], settings, seed=seed + i)
        proba = predict_proba(model, x_all[test_idx], device=device)
        frames.append(
            pd.DataFrame(
                {
                    "model": name,
                    "fold": subject,
                    "dataset": data.datasets[test],
                    "clip": data.clips[test],
                    "label": data.labels[test],
                    "prediction": proba.argmax(axis=1),
                }
            )
        )
        print(
            f"[{name}] fold {i + 1}/{len(subjects)} {subject}: {time.perf_counter() - start:.0f} s",
            file=log,
            flush=True,
        )
    wall = time.perf_counter() - start
    cfg = probe.default_cfg
    pred = pd.concat(frames, ignore_index=True)
    y, p = pred["label"].to_numpy(), pred["prediction"].to_numpy()
    row: dict[str, Any] = {"model": name, "epochs": epochs}
    overall = pooled_scores(y, p, labels=LABELS)
    row.update(uf1=overall["uf1"], uar=overall["uar"])
    for ds, short in (("casme2", "casme2"), ("samm", "samm"), ("smic", "smic")):
        m = (pred["dataset"] == ds).to_numpy()
        s = pooled_scores(y[m], p[m], labels=LABELS) if m.any() else {"uf1": np.nan, "uar": np.nan}
        row[f"{short}_uf1"], row[f"{short}_uar"] = s["uf1"], s["uar"]
    row.update(
        folds=len(subjects),
        clips=len(pred),
        wall_min=wall / 60,
        lr=spec.lr,
        batch=spec.batch_size,
        input=f"{cfg['inputs']} {'x'.join(map(str, cfg['input_size']))}",
        note=spec.note,
    )
    return row, pred


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(MEGC2019_ENV), help="MEGC2019 flow set")
    parser.add_argument("--models", default="atscnn,ststnet", help="comma list, or 'all'")
    parser.add_argument(
        "--epochs",
        default=None,
        help="N for every model, or name=N,name=N (default: each model's published epochs)",
    )
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument("--name", default="megc2019_train", help="results file stem")
    parser.add_argument("--seed", type=int, default=0)
    # One thread: on a shared 2-core machine two threads ran up to 8x slower.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-folds", type=int, default=None, help="smoke tests only")
    args = parser.parse_args(argv)
    if not args.data:
        print(f"error: pass --data or set {MEGC2019_ENV}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    names = list(SPECS) if args.models == "all" else [m.strip() for m in args.models.split(",")]
    epochs = _parse_epochs(args.epochs)
    data = read_megc2019_whole(args.data, size=(28, 28))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, preds = [], []
    command = "MICROEXPR_MEGC2019=<data> python " + shlex.join(
        [Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]
    )
    for name in names:
        n_epochs = epochs.get(name, epochs.get("*", SPECS.get(name, Spec()).epochs))
        row, pred = run_model(
            name,
            data,
            epochs=n_epochs,
            seed=args.seed,
            device=args.device,
            max_folds=args.max_folds,
            log=sys.stderr,
        )
        rows.append(row)
        preds.append(pred)
        table = pd.DataFrame(rows)
        # Written after every model, so a long run keeps what it finished.
        table.to_csv(out / f"{args.name}.csv", index=False)
        pd.concat(preds).to_csv(out / f"{args.name}_predictions.csv", index=False)
        shown = table.drop(columns=["note", "lr", "batch"])
        md = [
            f"# MEGC2019 from scratch, full LOSO ({args.name})",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {platform.machine()}, torch {torch.__version__}, "
            f"{args.threads} threads, device {args.device}; UF1/UAR pooled over all folds; "
            "last epoch evaluated.",
            "",
            markdown_table(shown, floatfmt=".4f"),
            "Settings:",
            "",
            *[
                f"- {r['model']}: {r['note']} (lr {r['lr']}, batch {r['batch']}; "
                f"{r['epochs']} epochs in this run, {SPECS.get(r['model'], Spec()).epochs} "
                "published/default)"
                for r in rows
            ],
            "",
            "Published figures for comparison:",
            "",
            markdown_table(PUBLISHED, floatfmt=".4f"),
        ]
        (out / f"{args.name}.md").write_text("\n".join(md))
        print(markdown_table(shown, floatfmt=".4f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
