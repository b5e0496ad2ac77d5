"""Model complexity in torchstat's conventions (the paper's Table 3 columns).

torchstat (github.com/Swall0w/torchstat) hooks every leaf module and counts,
for one input of batch size 1:

* ``params``: trainable parameters;
* ``madd``: multiply-adds, counting a multiply and an add as two operations
  (conv: (2 k^2 C_in - 1 [+1 with bias]) per output element; linear:
  (2 n_in - 1) per output; BatchNorm 4, ReLU 1 per element; max-pool
  (k^2 - 1) per output element);
* ``flops``: its "Flops" column, which counts one per multiply-accumulate
  (conv: k^2 C_in per output element plus one for the bias; linear n_in x
  n_out; BatchNorm 2 per element when affine; ReLU/ELU and pooling 1 per
  input element). This is the figure papers quote as "FLOPs"; ATSCNN's
  19.01 M is in this convention;
* memory read and write, in elements times 4 bytes: a layer reads its input
  and its parameters (BatchNorm: input and 2 per channel) and writes its output.

Modules torchstat does not know (SELU, Sigmoid, Identity, functional calls)
count zero, as they do there. Sizes are reported in MB of 2^20 bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["ModelComplexity", "profile_model"]

_BYTES = 4


@dataclass(frozen=True)
class ModelComplexity:
    """Complexity figures of one model at one input size (batch 1)."""

    params: int
    madd: int
    flops: int
    memory_read_mb: float
    memory_write_mb: float

    @property
    def memory_mb(self) -> float:
        """Memory read plus write, in MB."""
        return self.memory_read_mb + self.memory_write_mb

    def as_dict(self) -> dict[str, float]:
        """Figures as a flat dict, including ``memory_mb``."""
        return {**asdict(self), "memory_mb": self.memory_mb}


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _kernel(module: nn.Module) -> tuple[int, int]:
    k = module.kernel_size
    return (k, k) if isinstance(k, int) else tuple(k)  # type: ignore[return-value]


def _leaf_stats(
    module: nn.Module, inp: torch.Tensor, out: torch.Tensor
) -> tuple[int, int, int, int]:
    """(madd, flops, read elements, write elements) of one leaf call."""
    n_in, n_out = inp.numel(), out.numel()
    if isinstance(module, nn.Conv2d):
        k_h, k_w = module.kernel_size
        c_in, groups = inp.shape[1], module.groups
        per_out = k_h * k_w * (c_in // groups)
        bias = module.bias is not None
        madd = (2 * per_out - 1 + int(bias)) * n_out
        flops = per_out * n_out + (n_out if bias else 0)
        return madd, flops, n_in + _n_params(module), n_out
    if isinstance(module, nn.Linear):
        n_i, n_o = inp.shape[-1], out.shape[-1]
        rows = n_out // n_o
        return rows * n_o * (2 * n_i - 1), rows * n_i * n_o, n_in + _n_params(module), n_out
    if isinstance(module, nn.BatchNorm2d):
        flops = n_in * (2 if module.affine else 1)
        return 4 * n_in, flops, n_in + 2 * inp.shape[1], n_in
    if isinstance(module, nn.MaxPool2d):
        k_h, k_w = _kernel(module)
        return (k_h * k_w - 1) * n_out, n_in, n_in, n_out
    if isinstance(module, nn.AvgPool2d):
        k_h, k_w = _kernel(module)
        return k_h * k_w * n_out, n_in, n_in, n_out
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return n_in, n_in, n_in, n_in
    if isinstance(module, (nn.ELU, nn.LeakyReLU)):
        return 0, n_in, n_in, n_in
    return 0, 0, 0, 0


def profile_model(model: nn.Module, input_size: tuple[int, ...]) -> ModelComplexity:
    """Count parameters, multiply-adds, FLOPs and memory of ``model``.

    Parameters
    ----------
    model : nn.Module
        The model; it is run once in eval mode on zeros of ``(1, *input_size)``.
    input_size : tuple of int
        Input shape without the batch dimension, e.g. (3, 128, 128).

    Returns
    -------
    ModelComplexity
    """
    totals = [0, 0, 0, 0]
    handles = []

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if not args or not isinstance(args[0], torch.Tensor) or not isinstance(out, torch.Tensor):
            return
        for i, value in enumerate(_leaf_stats(module, args[0], out)):
            totals[i] += int(value)

    for module in model.modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros((1, *input_size), device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    mb = _BYTES / 2**20
    return ModelComplexity(
        params=_n_params(model),
        madd=totals[0],
        flops=totals[1],
        memory_read_mb=totals[2] * mb,
        memory_write_mb=totals[3] * mb,
    )
