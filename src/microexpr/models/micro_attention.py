"""Micro-Attention: residual blocks with a parameter-light spatial attention unit.

Wang, Peng, Bi and Chen, "Micro-attention for micro-expression recognition",
Neurocomputing 410 (2020) 354-362 (arXiv:1811.02360).

A 7x7 stride-2 convolution (32 filters, ReLU) and a 3x3 stride-2 max-pool
take the 3x224x224 input to 56x56; three micro-attention residual blocks
(32 -> 64 -> 128 -> 256 channels), each followed by max-pool 2, give
256x7x7; FC 4096 (ReLU, dropout 0.5) -> classes.

A micro-attention block has a residual trunk - conv 3x3/BN/ReLU (``a``),
conv 3x3/BN/ReLU (``b``) and a 1x1 projection shortcut (``s``), ``t = b + s``
- and an attention branch that concatenates ``a``, ``b``, ``s``, mixes them
with a 1x1 convolution, averages over channels and takes a softmax over all
positions: the map ``m`` (N, 1, H, W) reweights the trunk as ``t * (1 + m)``
so that attention can only add emphasis to facial regions.

Choices where the paper leaves details open (documented here): the paper
used a ResNet on apex frames with transfer learning; the ATSCNN comparison
re-implements it from scratch on the u, v, strain stack at 224x224, with the
block widths and head above (as the Off-TANet authors' re-implementation,
which reports 53.38 M parameters, as this layout gives).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from microexpr.models._registry import check_option_min, check_options, register_model

__all__ = ["MicroAttention", "MicroAttentionBlock"]

PAPER = (
    "Wang, Peng, Bi, Chen. Micro-attention for micro-expression recognition. "
    "Neurocomputing 410 (2020) 354-362"
)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class MicroAttentionBlock(nn.Module):
    """Residual block whose output is reweighted by a softmax spatial map.

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = _conv_bn_relu(in_channels, out_channels)
        self.conv_b = _conv_bn_relu(out_channels, out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.mix = nn.Conv2d(3 * out_channels, 3 * out_channels, 1)

    def attention(self, a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Spatial map (N, 1, H, W) summing to one over positions."""
        score = self.mix(torch.cat([a, b, s], dim=1)).mean(dim=1)
        n, h, w = score.shape
        return torch.softmax(score.reshape(n, h * w), dim=1).reshape(n, 1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, H, W) to (N, C_out, H, W)."""
        a = self.conv_a(x)
        b = self.conv_b(a)
        s = self.shortcut(x)
        trunk = b + s
        return trunk * (1 + self.attention(a, b, s))


class MicroAttention(nn.Module):
    """Micro-attention residual network.

    Parameters
    ----------
    in_channels : int
        Input channels (3: u, v, strain).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square input (224).
    widths : sequence of int
        Output channels of the micro-attention blocks.
    hidden : int
        Width of the hidden FC layer.
    dropout : float
        Dropout after the hidden FC layer.

    Notes
    -----
    Input shape (N, 3, 224, 224).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        input_size: int = 224,
        widths: Sequence[int] = (64, 128, 256),
        stem_channels: int = 32,
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            widths=widths,
            stem_channels=stem_channels,
            hidden=hidden,
            dropout=dropout,
        )
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        c = stem_channels
        for w in widths:
            blocks += [MicroAttentionBlock(c, w), nn.MaxPool2d(2)]
            c = w
        self.blocks = nn.Sequential(*blocks)
        side = (input_size - 1) // 2 + 1  # 7x7 conv, stride 2, padding 3
        side = (side - 1) // 2 + 1  # 3x3 max-pool, stride 2, padding 1
        side //= 2 ** len(widths)
        self.head = nn.Sequential(
            nn.Linear(c * side * side, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options)
        # stem: /4 (conv and max-pool, stride 2 each), then one halving per block
        check_option_min("input_size", o["input_size"], 4 * 2 ** len(o["widths"]))
        size = o["input_size"]
        return {
            "inputs": "uvs",
            "input_size": (o["in_channels"], size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes) from (N, 3, H, W)."""
        return self.head(self.blocks(self.stem(x)).flatten(1))


@register_model(cfg=MicroAttention.model_cfg)
def micro_attention(**kwargs: Any) -> MicroAttention:
    """Micro-Attention: u, v, strain at 224x224, three attention blocks, FC 4096."""
    return MicroAttention(**kwargs)
