"""One STSTNet training step on the CPU, written five ways: what each costs.

Issue 9 asks for the fastest exact way to train STSTNet (batch 256, 3x28x28
flow images) on this CPU. This benchmark times one training step (forward,
cross-entropy, backward, Adam) of each alternative, interleaved over
``--rounds`` rounds (the median is reported, so that a shared machine's load
hits every alternative alike), and checks that each computes the same
gradients as the trainer's path on the same batch and dropout masks:

- ``trainer``: the path `microexpr.training.trainer.fit` runs for STSTNet
  (the module as written: STSTNet declares ``cpu_channels_last: False``);
- ``channels-last weights``: the CPU layout `fit` gives every other model
  (channels-last convolution weights, contiguous outputs), STSTNet's path
  before this benchmark;
- ``channels-last``: the whole model and batch channels-last (its dropout
  masks are drawn in another memory order, so its gradients differ);
- ``fused streams``: the three convolutions as one 3->16 convolution and the
  ReLU-BatchNorm-MaxPool chain as one autograd function whose backward
  works on the pooled maps: BatchNorm is monotone per channel, so max-pooling
  its input and normalising the pooled values equals the module's
  max-pool of normalised maps (a min-pool where the scale is negative), and
  its gradient needs one pass over the full-resolution maps instead of four;
- ``torch.compile``: the trainer's module compiled by Inductor (``--compile``;
  its dropout draws differ from eager, so only its time is compared).

    python benchmarks/ststnet_step_alternatives.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from microexpr._markdown import markdown_table
from microexpr.models import create_model
from microexpr.training.trainer import _fast_cpu_layout

OUT = Path(__file__).resolve().parent / "results"


class _FusedStreams(torch.autograd.Function):
    """conv(3->16, 3x3, padding 2) -> ReLU -> BatchNorm (training) -> MaxPool(3, 3, padding 1).

    The input needs no gradient (it is the flow image). Returns the pooled,
    normalised maps and the batch mean and biased variance (for the running
    statistics).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, eps):  # type: ignore[override]
        x = x.contiguous(memory_format=torch.channels_last)
        weight = weight.contiguous(memory_format=torch.channels_last)
        z = F.conv2d(x, weight, bias, padding=2).contiguous(memory_format=torch.channels_last)
        channels = z.shape[1]
        r = torch.relu(z)
        r2 = r.permute(0, 2, 3, 1).reshape(-1, channels)
        n = r2.shape[0]
        mean = r2.sum(0) / n
        var = ((r2 * r2).sum(0) / n - mean * mean).clamp_min_(0)
        invstd = torch.rsqrt(var + eps)
        negative = (gamma * invstd) < 0
        pooled, idx = F.max_pool2d(r, 3, 3, 1, return_indices=True)
        if bool(negative.any()):
            low, idx_low = F.max_pool2d(-r, 3, 3, 1, return_indices=True)
            sel = negative.view(1, -1, 1, 1)
            pooled = torch.where(sel, -low, pooled)
            idx = torch.where(sel, idx_low, idx)
        xhat = (pooled - mean.view(1, -1, 1, 1)) * invstd.view(1, -1, 1, 1)
        out = xhat * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)
        ctx.save_for_backward(x, weight, z, idx, xhat, mean, invstd, gamma)
        return out.contiguous(), mean, var

    @staticmethod
    def backward(ctx, g_out, _g_mean, _g_var):  # type: ignore[override]
        x, weight, z, idx, xhat, mean, invstd, gamma = ctx.saved_tensors
        b, c, h, w = z.shape
        n = b * h * w
        dbeta = g_out.sum((0, 2, 3))
        dgamma = (g_out * xhat).sum((0, 2, 3))
        g = torch.ops.aten.max_pool2d_with_indices_backward(
            g_out.contiguous(memory_format=torch.channels_last),
            z,
            [3, 3],
            [3, 3],
            [1, 1],
            [1, 1],
            False,
            idx,
        )
        g2 = g.permute(0, 2, 3, 1).reshape(-1, c)
        z2 = z.permute(0, 2, 3, 1).reshape(-1, c)
        # BatchNorm's backward, dz = k1 g - k1 mean(g) - k1 xhat mean(g xhat), written on z
        k1 = gamma * invstd
        c1 = k1 * invstd * dgamma / n
        c0 = k1 * dbeta / n - c1 * mean
        dz2 = torch.addcmul(-c0, g2, k1)
        dz2.addcmul_(z2, c1, value=-1)
        dz2.masked_fill_(z2 <= 0, 0)  # ReLU
        dz = dz2.view(b, h, w, c).permute(0, 3, 1, 2)
        _, dw, db = torch.ops.aten.convolution_backward(
            dz, x, weight, [c], [1, 1], [2, 2], [1, 1], False, [0, 0], 1, [False, True, True]
        )
        return None, dw.contiguous(), db, dgamma, dbeta, None


def fused_forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """STSTNet's training forward through :class:`_FusedStreams` (same dropout draws)."""
    weight = torch.cat([m.conv1.weight, m.conv2.weight, m.conv3.weight])
    bias = torch.cat([m.conv1.bias, m.conv2.bias, m.conv3.bias])
    gamma = torch.cat([m.bn1.weight, m.bn2.weight, m.bn3.weight])
    beta = torch.cat([m.bn1.bias, m.bn2.bias, m.bn3.bias])
    pooled, mean, var = _FusedStreams.apply(x, weight, bias, gamma, beta, m.bn1.eps)
    n = x.shape[0] * 30 * 30
    with torch.no_grad():
        for bn, sl in ((m.bn1, slice(0, 3)), (m.bn2, slice(3, 8)), (m.bn3, slice(8, 16))):
            bn.running_mean.mul_(1 - bn.momentum).add_(mean[sl], alpha=bn.momentum)
            bn.running_var.mul_(1 - bn.momentum).add_(var[sl] * n / (n - 1), alpha=bn.momentum)
            bn.num_batches_tracked += 1
    streams = [m.dropout(pooled[:, :3]), m.dropout(pooled[:, 3:8]), m.dropout(pooled[:, 8:])]
    return m.fc(m.avgpool(torch.cat(streams, 1)).flatten(1))


def _grads(model: nn.Module, forward, x, y) -> dict[str, torch.Tensor]:
    model.zero_grad()
    torch.manual_seed(123)  # the same dropout masks for every path
    nn.functional.cross_entropy(forward(model, x), y).backward()
    return {k: p.grad.detach().clone() for k, p in model.named_parameters()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 28, 28) * 255
    y = torch.randint(0, 3, (args.batch,))
    base = create_model("ststnet")

    def plain(m, inp):
        return m(inp)

    def cl_forward(m, inp):
        return m(inp.contiguous(memory_format=torch.channels_last))

    paths = {
        "trainer": (plain, "trainer"),
        "channels-last weights": (plain, "forced"),
        "channels-last": (cl_forward, "cl"),
        "fused streams": (fused_forward, "trainer"),
    }
    if args.compile:
        paths["torch.compile"] = (None, "compile")
    models, steps = {}, {}
    for name, (forward, layout) in paths.items():
        m = create_model("ststnet")
        m.load_state_dict(base.state_dict())
        m.train()
        if layout == "forced":
            m.default_cfg = {**m.default_cfg, "cpu_channels_last": True}
        if layout == "cl":
            m.to(memory_format=torch.channels_last)
        if layout == "compile":
            compiled = torch.compile(m)
            forward = lambda _m, inp, c=compiled: c(inp)  # noqa: E731
        models[name] = (m, forward, layout)

    ref = None
    rows = {}
    for name, (m, forward, layout) in models.items():
        ctx = (
            _fast_cpu_layout(m, torch.device("cpu"))
            if layout in ("trainer", "forced", "compile")
            else None
        )
        if ctx:
            ctx.__enter__()
        grads = _grads(m, forward, x, y) if layout != "compile" else None
        if ctx:
            ctx.__exit__(None, None, None)
        if ref is None:
            ref = grads
        diff = (
            ""
            if grads is None
            else max(
                float((grads[k] - ref[k]).abs().max() / (ref[k].abs().max() + 1e-12)) for k in ref
            )
        )
        rows[name] = {"path": name, "max relative gradient difference vs trainer": diff}
        opt = torch.optim.Adam(m.parameters(), lr=5e-5)

        def step(m=m, forward=forward, opt=opt):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(forward(m, x), y).backward()
            opt.step()

        steps[name] = (step, layout)
        warm = time.perf_counter()
        with (
            _fast_cpu_layout(m, torch.device("cpu"))
            if layout in ("trainer", "forced", "compile")
            else _null()
        ):
            for _ in range(3):
                step()
        rows[name]["first 3 steps (s)"] = time.perf_counter() - warm
        rows[name]["_times"] = []
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, (step, layout) in steps.items():
            m = models[name][0]
            with (
                _fast_cpu_layout(m, torch.device("cpu"))
                if layout in ("trainer", "forced", "compile")
                else _null()
            ):
                t = time.perf_counter()
                for _ in range(args.steps):
                    step()
                rows[name]["_times"].append((time.perf_counter() - t) / args.steps * 1000)
    load_after = os.getloadavg()[0]
    trainer_ms = statistics.median(rows["trainer"]["_times"])
    table = []
    for row in rows.values():
        ms = statistics.median(row.pop("_times"))
        row["ms per step (median)"] = ms
        row["speedup vs trainer"] = trainer_ms / ms
        table.append(row)
    df = pd.DataFrame(table)
    text = (
        "# STSTNet training step on the CPU: alternatives\n\n"
        f"Command: `python benchmarks/ststnet_step_alternatives.py {shlex.join(sys.argv[1:])}`  \n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"one thread; 1-min load average {load_before:.1f} before, {load_after:.1f} after "
        "(other work shared the machine).  \n"
        f"Step: batch {args.batch} of 3x28x28, forward, cross-entropy, backward, Adam; "
        f"{args.steps} steps x {args.rounds} interleaved rounds, median.\n\n"
        + markdown_table(df, floatfmt=".3g")
        + "\n"
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ststnet_step_alternatives.md").write_text(text)
    return 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
