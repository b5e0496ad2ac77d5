"""One complexity table for every registered model (the paper's Table 3 columns).

Each model is profiled at its ``default_cfg["input_size"]`` with
:func:`microexpr.models.complexity.profile_model` (torchstat's conventions:
parameters, multiply-adds, FLOPs, memory read + write). Beside our figures,
the table gives the figures a paper publishes for the same model, with the
source, where one does:

* ATSCNN: the ATSCNN paper, Table 3 (4.21e6 parameters, 19.01 MFLOPs,
  20.5 MB).
* Off-ApexNet, STSTNet, Dual-Inception, MACNN, Micro-Attention, Off-TANet:
  the Off-TANet paper (PRICAI 2021; also its code's README), torchstat on the
  authors' re-implementations. Their STSTNet (162,051 parameters) is not the
  official one (1,683 parameters, the layout the published weights load into).
* mini-AORCNN: the mini-AORCNN paper's README (39,185 parameters; the
  authors' code, which this package follows, has 39,685).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn

import microexpr.models  # noqa: F401  (registers the models)
from microexpr.models._registry import create_model, list_models
from microexpr.models.complexity import profile_model
from microexpr.reports.markdown import markdown_table

__all__ = [
    "PAPER_TABLE3",
    "PUBLISHED_COMPLEXITY",
    "PaperSTSTNet",
    "paper_complexity_table",
    "write_paper_complexity_table",
    "complexity_table",
    "markdown_table",
    "write_complexity_table",
]

_OFF_TANET = "Off-TANet (PRICAI 2021), torchstat on re-implementation"

#: Published complexity figures: params, MFLOPs, memory read+write MB, source.
PUBLISHED_COMPLEXITY: dict[str, dict[str, object]] = {
    "atscnn": {
        "params": 4.21e6,
        "mflops": 19.01,
        "memory_mb": 20.5,
        "source": "ATSCNN paper, Table 3",
    },
    "off_apexnet": {"params": 2.66e6, "mflops": 3.87, "memory_mb": 10.35, "source": _OFF_TANET},
    "ststnet": {"params": 162_051, "mflops": 0.52698, "memory_mb": 0.78, "source": _OFF_TANET},
    "dual_inception": {
        "params": 6.45e6,
        "mflops": 12.64,
        "memory_mb": 26.27,
        "source": _OFF_TANET,
    },
    "macnn": {"params": 70.57e6, "mflops": 793.67, "memory_mb": 297.86, "source": _OFF_TANET},
    "micro_attention": {
        "params": 53.38e6,
        "mflops": 1000.0,
        "memory_mb": 237.97,
        "source": _OFF_TANET + " (1.0 G)",
    },
    "off_tanet": {"params": 59_403, "mflops": 30.08, "memory_mb": 5.64, "source": _OFF_TANET},
    "mini_aorcnn": {
        "params": 39_185,
        "mflops": 13.55,
        "memory_mb": 3.79,
        "source": "mini-AORCNN (Computer Science 2022), authors' README",
    },
}

_COLUMNS = [
    "model",
    "inputs",
    "input_size",
    "params",
    "madd_m",
    "mflops",
    "memory_read_mb",
    "memory_write_mb",
    "memory_mb",
    "paper_params",
    "paper_mflops",
    "paper_memory_mb",
    "paper_source",
]


def complexity_table(names: Sequence[str] | None = None) -> pd.DataFrame:
    """Profile models at their default input size.

    Parameters
    ----------
    names : sequence of str, optional
        Registered model names; default every registered model.

    Returns
    -------
    DataFrame
        One row per model with columns ``model``, ``inputs``, ``input_size``
        (e.g. ``3x28x28``), ``params``, ``madd_m`` (multiply-adds, millions),
        ``mflops``, ``memory_read_mb``, ``memory_write_mb``, ``memory_mb``
        (read + write) and the published ``paper_params``, ``paper_mflops``,
        ``paper_memory_mb``, ``paper_source`` (empty where none is known).
    """
    rows = []
    for name in list(names) if names is not None else list_models():
        model = create_model(name)
        cfg = model.default_cfg
        size = tuple(int(s) for s in cfg["input_size"])
        c = profile_model(model, size)
        paper = PUBLISHED_COMPLEXITY.get(name, {})
        rows.append(
            {
                "model": name,
                "inputs": cfg["inputs"],
                "input_size": "x".join(str(s) for s in size),
                "params": c.params,
                "madd_m": c.madd / 1e6,
                "mflops": c.flops / 1e6,
                "memory_read_mb": c.memory_read_mb,
                "memory_write_mb": c.memory_write_mb,
                "memory_mb": c.memory_mb,
                "paper_params": paper.get("params", math.nan),
                "paper_mflops": paper.get("mflops", math.nan),
                "paper_memory_mb": paper.get("memory_mb", math.nan),
                "paper_source": paper.get("source", ""),
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def write_complexity_table(df: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write ``df`` as Markdown and CSV.

    Parameters
    ----------
    df : DataFrame
        A table from :func:`complexity_table`.
    path : str or Path
        A folder (no suffix; created if needed), which gets ``complexity.md``
        and ``complexity.csv``; or a file name ending in ``.md`` or ``.csv``,
        whose stem names both files.

    Returns
    -------
    dict
        ``{"md": Path, "csv": Path}``.
    """
    p = Path(path).expanduser()
    if p.suffix in (".md", ".csv"):
        stem = p.with_suffix("")
    else:
        stem = p / "complexity"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, csv = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".csv")
    md.write_text(markdown_table(df))
    df.to_csv(csv, index=False)
    return {"md": md, "csv": csv}


# ---------------------------------------------------------------------------
# Table 3 as the ATSCNN paper made it: every baseline at 128x128 inputs.
# ---------------------------------------------------------------------------

#: The ATSCNN paper's Table 3 complexity columns (params, MFLOPs, memory read+write MB),
#: as given by SPEC.md (ATSCNN) and issue 10 (the baselines); NaN where this project
#: has not been given the published figure.
PAPER_TABLE3: dict[str, dict[str, float]] = {
    "ststnet": {"params": 4.98e7, "mflops": 57.45, "memory_mb": 192.98},
    "dual_inception": {"params": 1.34e8, "mflops": 264.15, "memory_mb": 546.62},
    "macnn": {"params": 8.63e7, "mflops": math.nan, "memory_mb": 366.72},
    "micro_attention": {"params": 1.88e7, "mflops": 327.35, "memory_mb": 82.89},
    "off_tanet": {"params": 67_083, "mflops": 39.29, "memory_mb": 7.33},
    "mini_aorcnn": {"params": 46_251, "mflops": math.nan, "memory_mb": math.nan},
    "atscnn": {"params": 4.21e6, "mflops": 19.01, "memory_mb": 20.5},
}

#: Input side of every model in the paper's Table 3.
PAPER_INPUT_SIZE = 128


class PaperSTSTNet(nn.Module):
    """STSTNet as the ATSCNN paper's Table 3 profiled it (for complexity only).

    The Off-TANet authors' re-implementation of STSTNet
    (github.com/ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet,
    ``models/ststnet.py``), which the ATSCNN paper's figures match once
    scaled to 128x128: three parallel streams, each a 3x3 convolution with
    padding 1 (3, 5 and 8 filters) and a max-pool 3/3 with padding 1, no
    activation and no BatchNorm; the 16 maps concatenated and max-pooled 2;
    a hidden fully connected layer as wide as the flattened features
    (16x5x5 = 400 at 28, 16x21x21 = 7056 at 128) with ReLU; then the classes.
    At 28x28: 162,051 parameters and 0.527 MFLOPs, that repository's README
    row; at 128x128: 49,815,811 parameters, 57.45 MFLOPs and 192.98 MB, the
    ATSCNN paper's. The official STSTNet (:mod:`microexpr.models.ststnet`,
    1,683 parameters) has no hidden layer.
    """

    def __init__(self, input_size: int = PAPER_INPUT_SIZE, num_classes: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, k, 3, padding=1) for k in (3, 5, 8)])
        self.pools = nn.ModuleList([nn.MaxPool2d(3, stride=3, padding=1) for _ in range(3)])
        self.pool = nn.MaxPool2d(2, stride=2)
        side = ((input_size - 1) // 3 + 1) // 2
        features = 16 * side * side
        self.hidden = nn.Linear(features, features)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes)."""
        x = torch.cat([pool(conv(x)) for conv, pool in zip(self.convs, self.pools, strict=True)], 1)
        return self.fc(self.relu(self.hidden(self.pool(x).flatten(1))))


def _dual_inception_without_1x1_relu() -> nn.Module:
    model = create_model("dual_inception", input_size=PAPER_INPUT_SIZE)
    for module in model.modules():
        if hasattr(module, "branch1"):
            module.branch1[1] = nn.Identity()  # torchstat counts an Identity as nothing
    return model


def _off_tanet_without_mlp_biases() -> nn.Module:
    """Off-TANet with its channel-attention MLP bias-free, as the authors' 1x1 convolutions."""
    model = create_model("off_tanet", input_size=PAPER_INPUT_SIZE)
    mlp = model.enhanced.channel_attention.mlp
    for i, layer in enumerate(mlp):
        if isinstance(layer, nn.Linear):
            mlp[i] = nn.Linear(layer.in_features, layer.out_features, bias=False)
    return model


_NOTES: dict[str, str] = {
    "ststnet": (
        "The official STSTNet (registered; no hidden layer) is far smaller. The paper's "
        "three figures are all matched by the Off-TANet authors' re-implementation "
        "(their models/ststnet.py) scaled to 128 (PaperSTSTNet: conv padding 1, no "
        "activation or BatchNorm in the streams, a hidden FC layer as wide as the 16x21x21 "
        "= 7056 features), which at 28x28 gives exactly their published 162,051 parameters "
        "and 0.527 MFLOPs: that is the model the paper profiled."
    ),
    "dual_inception": (
        "Parameters match as registered. MFLOPs and memory match only without the ReLU on "
        "the 1x1 branch of each inception block (264.47 -> 264.15 MFLOPs, 549.12 -> 546.62 "
        "MB): the Off-TANet authors' re-implementation (their models/dual_inception.py, "
        "path4) has no ReLU there, and the paper's figures follow it; the Dual-Inception "
        "authors' Keras code has the ReLU, and so does the registered model."
    ),
    "macnn": (
        "Parameters and memory match at 128. The paper's MFLOPs for MACNN was not given to "
        "this project (SPEC.md and issue 10 omit it), so it cannot be compared."
    ),
    "micro_attention": "All three match at 128.",
    "off_tanet": (
        "MFLOPs and memory match. The 29 parameters more are exactly the biases of the "
        "registered channel-attention MLP (1 + 28): the authors' code (their "
        "models/off_tanet.py, ChannelAttention) uses two 1x1 convolutions with bias=False. "
        "With those two layers bias-free (row 'channel-attention MLP without biases') all "
        "three figures match: 67,083 parameters at 128, and 59,403 at 112, their README's."
    ),
    "mini_aorcnn": (
        "Not explained: 1,114 parameters more than the paper's 46,251. The registered model "
        "is the authors' code (their models/arfnet.py, ARFNet) made size-generic; at 112 it "
        "reproduces their README's 13.55 MFLOPs and 3.79 MB exactly but has 39,685 "
        "parameters against the README's 39,185, one digit apart (6 -> 1), likely a typo "
        "there. At 128 the only size-dependent weights are the first FC layer's (8x8x8 = "
        "512 inputs instead of 392: +7,680); the published figures grow by 7,066 from the "
        "README's and 6,566 from the code's, neither a multiple of 15 (= 8x8 - 7x7, the "
        "growth per map channel and FC output), so no variant whose only size-dependent "
        "weights are that layer's reproduces both. Tried without a "
        "match: bias-free convolutions, no BatchNorm, bias-free attention projections or "
        "FC layers, no shortcut, 1-3 input channels, stems of 3/5/7, FC widths 32-128 in "
        "one or two layers, 2-7 classes, a 7x7 or 4x4 flattened map (a grid of 51,840 "
        "combinations, benchmarks/aorcnn_param_search.py: the only exact hits combine 2 "
        "input channels, a 5x5 stem, bias-free convolutions and no shortcut, not a plausible "
        "re-implementation). The "
        "paper's MFLOPs and memory were not given to this project."
    ),
    "atscnn": "All three match (SPEC.md's figures).",
}


def _matches(ours: float, paper: float, kind: str) -> bool | None:
    if math.isnan(paper):
        return None
    if kind == "params":
        if float(paper).is_integer() and paper < 1e6:
            return int(ours) == int(paper)
        digits = 3 - int(math.floor(math.log10(abs(paper)))) - 1
        return round(ours, digits) == round(paper, digits)
    return round(ours, 2) == round(paper, 2)


def _published_count(value: float) -> str:
    """A parameter count as the paper prints it (3 significant digits above a million)."""
    if value >= 1e6:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{int(value):,}"


def write_paper_complexity_table(df: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write :func:`paper_complexity_table` as ``complexity_paper.md`` and ``.csv``.

    Parameters
    ----------
    df : DataFrame
    path : str or Path
        A folder, or a file name ending in ``.md``/``.csv`` whose stem names both.

    Returns
    -------
    dict
        ``{"md": Path, "csv": Path}``.
    """
    p = Path(path).expanduser()
    stem = p.with_suffix("") if p.suffix in (".md", ".csv") else p / "complexity_paper"
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, csv = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".csv")
    text = [
        "# Table 3 as the ATSCNN paper made it: every model at 128x128",
        "",
        "torchstat's conventions (parameters, FLOPs = multiply-accumulates, memory read + write "
        "in MB of 2^20 bytes), batch 1, every model at 128x128 inputs as in the paper. "
        "`match` compares params/MFLOPs/memory with the published figure at the precision "
        "printed (3 significant digits for counts above a million, 2 decimals otherwise); "
        "`-` where the published figure was not given to this project. Made by "
        "`microexpr complexity --all --paper --out benchmarks/results`.",
        "",
        markdown_table(df.drop(columns=["explanation"]), floatfmt=".2f"),
        "Explanations:",
        "",
        *[
            f"- **{m}**: {e}"
            for m, e in dict(zip(df["model"], df["explanation"], strict=True)).items()
        ],
        "",
    ]
    md.write_text("\n".join(text))
    df.to_csv(csv, index=False)
    return {"md": md, "csv": csv}


def paper_complexity_table() -> pd.DataFrame:
    """The ATSCNN paper's Table 3 columns, profiled at the paper's settings.

    Every model of the paper's Table 3 at 128x128 inputs, beside the
    published figures (:data:`PAPER_TABLE3`), with a match flag per column
    and an explanation of every mismatch. Where the registered model is not
    what the paper profiled (STSTNet, Dual-Inception), both rows are given:
    the registered one and the layout that reproduces the paper.

    Returns
    -------
    DataFrame
        Columns ``model``, ``profiled``, ``input_size``, ``params``,
        ``mflops``, ``memory_mb``, ``paper_params``, ``paper_mflops``,
        ``paper_memory_mb``, ``match`` (``params/mflops/memory`` each as
        yes, NO or ``-`` when no published figure) and ``explanation``.
    """
    variants: list[tuple[str, str, nn.Module, tuple[int, ...]]] = []
    size = PAPER_INPUT_SIZE
    for name in PAPER_TABLE3:
        model = create_model(name, input_size=size)
        shape = tuple(int(s) for s in model.default_cfg["input_size"])
        variants.append((name, f"registered, input_size={size}", model, shape))
        if name == "ststnet":
            variants.append(
                (name, "paper's layout (PaperSTSTNet)", PaperSTSTNet(), (3, size, size))
            )
        if name == "dual_inception":
            variants.append(
                (name, "no ReLU on the 1x1 branch", _dual_inception_without_1x1_relu(), shape)
            )
        if name == "off_tanet":
            variants.append(
                (
                    name,
                    "channel-attention MLP without biases (authors' code)",
                    _off_tanet_without_mlp_biases(),
                    shape,
                )
            )
    rows = []
    for name, profiled, model, shape in variants:
        c = profile_model(model, shape)
        paper = PAPER_TABLE3[name]
        flags = []
        for kind, ours in (
            ("params", c.params),
            ("mflops", c.flops / 1e6),
            ("memory_mb", c.memory_mb),
        ):
            ok = _matches(float(ours), float(paper[kind]), kind)
            flags.append("-" if ok is None else ("yes" if ok else "NO"))
        rows.append(
            {
                "model": name,
                "profiled": profiled,
                "input_size": "x".join(str(s) for s in shape),
                "params": c.params,
                "mflops": round(c.flops / 1e6, 2),
                "memory_mb": round(c.memory_mb, 2),
                "paper_params": _published_count(paper["params"]),
                "paper_mflops": paper["mflops"],
                "paper_memory_mb": paper["memory_mb"],
                "match": "/".join(flags),
                "explanation": _NOTES[name],
            }
        )
    return pd.DataFrame(rows)
