"""F copies of one architecture (one per LOSO fold or seed) as one network.

:func:`stack_models` turns F models of the same architecture into a
:class:`StackedNet` that computes all F of them in one forward pass. Rows are
laid out batch-major: row ``b * F + f`` of the stacked batch belongs to
member ``f``. That layout makes a member's channels contiguous inside one
batch position, so a (B*F, C, H, W) activation *is* a (B, F*C, H, W) tensor
without a copy, and:

- a convolution becomes one grouped convolution (member f is group f);
- BatchNorm becomes one BatchNorm over F*C channels, so its batch statistics
  are per member by construction; when members have different numbers of
  real rows (padding rows fill the rest) the statistics are computed over
  each member's real rows only;
- a Linear layer becomes one batched matrix product (``baddbmm``);
- dropout draws each member's mask from the member's own generator, with
  the shape its batch has when trained alone, so the masks are the ones of
  sequential training;
- everything else (activations, pooling, reshapes, concatenation along
  channels, attention computed per row) acts per row and is left as is.

The result equals the F models run one after another up to floating-point
rounding (grouped convolutions and batched products sum in another order).
Layers with parameters that are not Conv2d, Linear or BatchNorm raise
:class:`UnsupportedModelError`, so a new model is either stacked exactly or
refused, never approximated.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["StackedNet", "UnsupportedModelError", "stack_models", "supports_stacking"]

_DROPOUTS = (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


class UnsupportedModelError(TypeError):
    """The model holds a layer that cannot be stacked exactly."""


class _RowInfo:
    """Shared per-step layout: rows per member, real-row mask, generators."""

    def __init__(self, n_members: int) -> None:
        self.n_members = n_members
        self.batch = 0
        self.counts: list[int] = [0] * n_members
        self.full = True
        self.mask: torch.Tensor | None = None  # (B, F) float, 1 for real rows
        self.generators: list[torch.Generator] | None = None

    def set(self, counts: Sequence[int], batch: int, device: torch.device) -> None:
        self.batch = batch
        self.counts = list(counts)
        self.full = all(c == batch for c in counts)
        if self.full:
            self.mask = None
        else:
            rows = torch.arange(batch, device=device)[:, None]
            self.mask = (rows < torch.tensor(counts, device=device)[None, :]).float()


class _StackedConv2d(nn.Module):
    def __init__(self, convs: Sequence[nn.Conv2d], rows: _RowInfo) -> None:
        super().__init__()
        ref = convs[0]
        if ref.padding_mode != "zeros":
            raise UnsupportedModelError(f"Conv2d with padding_mode={ref.padding_mode!r}")
        self.rows = rows
        self.stride, self.padding, self.dilation = ref.stride, ref.padding, ref.dilation
        self.groups = ref.groups
        self.out_channels = ref.out_channels
        self.weight = nn.Parameter(torch.stack([c.weight.detach() for c in convs]).clone())
        self.bias = (
            nn.Parameter(torch.stack([c.bias.detach() for c in convs]).clone())
            if ref.bias is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_f = self.rows.n_members
        bf, c, h, w = x.shape
        b = bf // n_f
        weight = self.weight.reshape(n_f * self.out_channels, *self.weight.shape[2:])
        bias = self.bias.reshape(-1) if self.bias is not None else None
        if x.device.type == "cpu":
            # oneDNN runs grouped convolutions with few channels per group far
            # faster on channels-last maps (measured 5x on 68 groups of 3->16)
            x = x.reshape(b, n_f * c, h, w).contiguous(memory_format=torch.channels_last)
            weight = weight.contiguous(memory_format=torch.channels_last)
        else:
            x = x.reshape(b, n_f * c, h, w)
        y = F.conv2d(
            x, weight, bias, self.stride, self.padding, self.dilation, self.groups * n_f
        ).contiguous()
        return y.view(bf, self.out_channels, *y.shape[2:])


class _StackedLinear(nn.Module):
    def __init__(self, linears: Sequence[nn.Linear], rows: _RowInfo) -> None:
        super().__init__()
        self.rows = rows
        # stored (F, in, out) so that the forward is one baddbmm without a transpose copy
        self.weight = nn.Parameter(torch.stack([m.weight.detach().t() for m in linears]).clone())
        self.bias = (
            nn.Parameter(torch.stack([m.bias.detach() for m in linears]).clone())
            if linears[0].bias is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_f = self.rows.n_members
        lead = x.shape[:-1]
        b = lead[0] // n_f
        inner = x.reshape(b, n_f, -1, x.shape[-1]).permute(1, 0, 2, 3)  # F, B, M, in
        m = inner.shape[2]
        inner = inner.reshape(n_f, b * m, x.shape[-1])
        if self.bias is not None:
            y = torch.baddbmm(self.bias[:, None, :], inner, self.weight)
        else:
            y = torch.bmm(inner, self.weight)
        y = y.view(n_f, b, m, -1).permute(1, 0, 2, 3)  # B, F, M, out
        return y.reshape(*lead, -1)


class _StackedBatchNorm(nn.Module):
    def __init__(self, norms: Sequence[nn.modules.batchnorm._BatchNorm], rows: _RowInfo) -> None:
        super().__init__()
        ref = norms[0]
        if not (ref.affine and ref.track_running_stats):
            raise UnsupportedModelError("BatchNorm without affine parameters or running stats")
        if ref.momentum is None:
            raise UnsupportedModelError("BatchNorm with cumulative averaging (momentum=None)")
        self.rows = rows
        self.eps, self.momentum = ref.eps, ref.momentum
        self.num_features = ref.num_features
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in norms]).clone())
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in norms]).clone())
        self.register_buffer("running_mean", torch.stack([m.running_mean for m in norms]).clone())
        self.register_buffer("running_var", torch.stack([m.running_var for m in norms]).clone())
        self.register_buffer(
            "num_batches_tracked", torch.stack([m.num_batches_tracked for m in norms]).clone()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_f, c = self.rows.n_members, self.num_features
        shape = x.shape
        b = shape[0] // n_f
        wide = x.reshape(b, n_f * c, *shape[2:])
        if not self.training or self.rows.full:
            if self.training:
                self.num_batches_tracked += 1
            y = F.batch_norm(
                wide,
                self.running_mean.view(-1),
                self.running_var.view(-1),
                self.weight.view(-1),
                self.bias.view(-1),
                self.training,
                self.momentum,
                self.eps,
            )
            return y.reshape(shape)
        return self._masked(x.reshape(b, n_f, c, -1)).reshape(shape)

    def _masked(self, x: torch.Tensor) -> torch.Tensor:
        """Batch statistics over each member's real rows; x is (B, F, C, L)."""
        rows = self.rows
        mask = rows.mask[:, :, None, None]  # B, F, 1, 1
        counts = torch.tensor(rows.counts, dtype=x.dtype, device=x.device)
        n = (counts * x.shape[-1])[:, None]  # F, 1
        safe = n.clamp(min=1)
        mean = (x * mask).sum(dim=(0, 3)) / safe  # F, C
        centred = (x - mean[None, :, :, None]) * mask
        var = (centred * centred).sum(dim=(0, 3)) / safe
        y = (x - mean[None, :, :, None]) * torch.rsqrt(var + self.eps)[None, :, :, None]
        y = y * self.weight[None, :, :, None] + self.bias[None, :, :, None]
        with torch.no_grad():
            active = counts > 0
            unbiased = var * n / (n - 1).clamp(min=1)
            m = self.momentum
            self.running_mean[active] = (1 - m) * self.running_mean[active] + m * mean[active]
            self.running_var[active] = (1 - m) * self.running_var[active] + m * unbiased[active]
            self.num_batches_tracked[active] += 1
        return y


class _StackedDropout(nn.Module):
    def __init__(self, p: float, rows: _RowInfo) -> None:
        super().__init__()
        self.p = p
        self.rows = rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        rows = self.rows
        if rows.generators is None:
            raise RuntimeError("stacked dropout needs per-member generators (set_generators)")
        n_f, b = rows.n_members, rows.batch
        inner = x.shape[1:]
        noise = torch.zeros((b, n_f, *inner), dtype=x.dtype, device=x.device)
        keep = 1 - self.p
        for f, (count, gen) in enumerate(zip(rows.counts, rows.generators, strict=True)):
            if count:
                # the draw nn.Dropout makes for this member's batch when trained alone
                part = torch.empty((count, *inner), dtype=x.dtype).bernoulli_(keep, generator=gen)
                noise[:count, f] = part.div_(keep).to(x.device)
        return x * noise.view_as(x)


def supports_stacking(model: nn.Module) -> bool:
    """Whether ``model`` can be stacked exactly by :func:`stack_models`."""
    try:
        _check(model)
    except UnsupportedModelError:
        return False
    return True


def _check(model: nn.Module) -> None:
    known = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)
    for name, module in model.named_modules():
        if isinstance(module, _DROPOUTS) and module.p > 0:
            raise UnsupportedModelError(f"{name}: {type(module).__name__} is not stackable")
        if isinstance(module, known):
            continue
        own = list(module.named_parameters(recurse=False))
        if own:
            raise UnsupportedModelError(
                f"{name or 'model'}: {type(module).__name__} holds parameters "
                f"({', '.join(n for n, _ in own)}) that cannot be stacked"
            )
        for buf_name, _ in module.named_buffers(recurse=False):
            if buf_name not in module._non_persistent_buffers_set:
                raise UnsupportedModelError(
                    f"{name or 'model'}: {type(module).__name__} holds a state buffer {buf_name!r}"
                )
    if isinstance(model, nn.Conv2d | nn.Linear):
        raise UnsupportedModelError("a bare layer is not a model")


class StackedNet(nn.Module):
    """F members of one architecture, computed together (see the module docstring).

    Build with :func:`stack_models`. Before each training step call
    :meth:`set_rows` with the number of real rows of each member (the rest of
    the ``batch`` rows are padding); give the members' dropout generators
    with :meth:`set_generators`.
    """

    def __init__(self, skeleton: nn.Module, rows: _RowInfo) -> None:
        super().__init__()
        self.net = skeleton
        self._rows = rows

    @property
    def n_members(self) -> int:
        """Number of stacked members F."""
        return self._rows.n_members

    def set_rows(self, counts: Sequence[int], batch: int) -> None:
        """Members' real rows in the next batch (of ``batch`` rows per member)."""
        if len(counts) != self.n_members or max(counts) > batch:
            raise ValueError(f"counts {list(counts)} do not fit {self.n_members} x {batch} rows")
        self._rows.set(counts, batch, next(self.parameters()).device)

    def set_generators(self, generators: Sequence[torch.Generator]) -> None:
        """One CPU generator per member, for its dropout masks."""
        if len(generators) != self.n_members:
            raise ValueError(f"{len(generators)} generators for {self.n_members} members")
        self._rows.generators = list(generators)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map batch-major rows (B*F, ...) to outputs (B*F, ...)."""
        if x.shape[0] != self._rows.batch * self.n_members:
            self._rows.set(
                [x.shape[0] // self.n_members] * self.n_members,
                x.shape[0] // self.n_members,
                x.device,
            )
        return self.net(x)

    def unstack_into(self, models: Sequence[nn.Module]) -> None:
        """Copy member f's parameters and buffers into ``models[f]``."""
        if len(models) != self.n_members:
            raise ValueError(f"{len(models)} models for {self.n_members} members")
        stacked = dict(self.net.named_modules())
        for f, model in enumerate(models):
            with torch.no_grad():
                for name, module in model.named_modules():
                    layer = stacked.get(name)
                    if isinstance(layer, _StackedLinear):
                        module.weight.copy_(layer.weight[f].t())
                        if layer.bias is not None:
                            module.bias.copy_(layer.bias[f])
                    elif isinstance(layer, _StackedConv2d | _StackedBatchNorm):
                        module.weight.copy_(layer.weight[f])
                        if layer.bias is not None:
                            module.bias.copy_(layer.bias[f])
                        if isinstance(layer, _StackedBatchNorm):
                            module.running_mean.copy_(layer.running_mean[f])
                            module.running_var.copy_(layer.running_var[f])
                            module.num_batches_tracked.copy_(layer.num_batches_tracked[f])


def stack_models(models: Sequence[nn.Module]) -> StackedNet:
    """Stack ``models`` (same architecture, any weights) into one :class:`StackedNet`.

    Raises
    ------
    UnsupportedModelError
        A layer with parameters or state of a kind that cannot be stacked
        exactly, or members of different architectures.
    """
    if not models:
        raise ValueError("no models to stack")
    _check(models[0])
    names = [n for n, _ in models[0].named_parameters()]
    for model in models[1:]:
        if [n for n, _ in model.named_parameters()] != names:
            raise UnsupportedModelError("the models to stack differ in architecture")
    rows = _RowInfo(len(models))
    skeleton = copy.deepcopy(models[0])
    members = [dict(m.named_modules()) for m in models]
    for name, module in list(skeleton.named_modules()):
        same = [m[name] for m in members]
        if isinstance(module, nn.Conv2d):
            new: nn.Module = _StackedConv2d(same, rows)
        elif isinstance(module, nn.Linear):
            new = _StackedLinear(same, rows)
        elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            new = _StackedBatchNorm(same, rows)
        elif type(module) is nn.Dropout and module.p > 0:
            new = _StackedDropout(module.p, rows)
        else:
            continue
        _replace(skeleton, name, new)
    stacked = StackedNet(skeleton, rows)
    stacked.train(models[0].training)
    return stacked


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
