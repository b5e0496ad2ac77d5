"""mini-AORCNN: a lightweight residual CNN with a bottleneck-transformer block.

Zhang, Liu and Qi, "Lightweight Micro-expression Recognition Architecture
Based on Bottleneck Transformer" (mini-AORCNN), Computer Science (Jisuanji
Kexue) 49(6A) (2022) 370-377, doi:10.11896/jsjkx.210500023. Authors' code
(where the model is called ARFNet): https://github.com/ECNU-Cross-Innovation-Lab/mini-AORCNN.

Input: u, v and optical strain at 112x112. A 7x7 stride-2 convolution
(8 filters, ReLU, BatchNorm) gives 8x56x56; two residual blocks - two 3x3
conv/BN/ReLU keeping the width, the identity added, then a 1x1 convolution
widening the sum, then max-pool 2 - give 18x28x28 and 28x14x14; a
bottleneck-transformer block (two 4-head positional self-attention layers,
28 -> 8 -> 8 channels, plus a 1x1 projection shortcut, max-pool 2) gives
8x7x7 (392); FC 64 -> FC 64 -> classes, ReLU and dropout 0.5.

The self-attention is Off-TANet's (same authors); see
:mod:`microexpr.models.off_tanet`. Choices where the paper leaves details
open: the authors' code is followed throughout (ReLU before BatchNorm in the
stem; the 1x1 widening after the residual sum).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from microexpr.models._blocks import mlp_head
from microexpr.models._registry import check_options, register_model
from microexpr.models.off_tanet import MultiHeadPositionalSelfAttention

__all__ = ["BottleneckTransformerBlock", "MiniAORCNN", "WideningResidualBlock"]

PAPER = (
    "Zhang, Liu, Qi. Lightweight Micro-expression Recognition Architecture Based on "
    "Bottleneck Transformer (mini-AORCNN). Computer Science 49(6A) (2022) 370-377"
)


def _conv_bn_relu(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())


class WideningResidualBlock(nn.Module):
    """Two same-width 3x3 conv/BN/ReLU, identity added, 1x1 widening, max-pool 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn_relu(in_channels), _conv_bn_relu(in_channels))
        self.widen = nn.Conv2d(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, H, W) to (N, C_out, H / 2, W / 2)."""
        return self.pool(self.widen(self.body(x) + x))


class BottleneckTransformerBlock(nn.Module):
    """Two multi-head positional self-attention layers with a 1x1 shortcut, max-pool 2.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out (``out_channels`` divisible by ``heads``).
    size : int
        Side of the square input map.
    heads : int
        Attention heads per layer.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, heads: int = 4) -> None:
        super().__init__()
        d = out_channels // heads
        self.attention = nn.Sequential(
            MultiHeadPositionalSelfAttention(in_channels, d, heads, size),
            MultiHeadPositionalSelfAttention(d * heads, d, heads, size),
        )
        self.shortcut = nn.Conv2d(in_channels, d * heads, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C_in, S, S) to (N, C_out, S / 2, S / 2)."""
        return self.pool(self.attention(x) + self.shortcut(x))


class MiniAORCNN(nn.Module):
    """mini-AORCNN (ARFNet in the authors' code).

    Parameters
    ----------
    in_channels : int
        Input channels (3: u, v, strain).
    num_classes : int
        Output classes.
    input_size : int
        Side of the square input (112); must be divisible by 16.
    hidden : int
        Width of the two hidden FC layers.
    dropout : float
        Dropout after each hidden FC layer.

    Notes
    -----
    Input shape (N, 3, 112, 112).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 3,
        input_size: int = 112,
        hidden: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.default_cfg: dict[str, Any] = self.model_cfg(
            in_channels=in_channels,
            num_classes=num_classes,
            input_size=input_size,
            hidden=hidden,
            dropout=dropout,
        )
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 8, 7, stride=2, padding=3), nn.ReLU(), nn.BatchNorm2d(8)
        )
        self.res1 = WideningResidualBlock(8, 18)
        self.res2 = WideningResidualBlock(18, 28)
        self.transformer = BottleneckTransformerBlock(28, 8, size=input_size // 8)
        side = input_size // 16
        self.head = mlp_head(8 * side * side, (hidden, hidden), num_classes, dropout=dropout)

    @classmethod
    def model_cfg(cls, **options: Any) -> dict[str, Any]:
        """Configuration for ``options`` (checked), without building the model.

        Raises
        ------
        ConfigError
            Unknown option, or a value of the wrong type or out of range.
        """
        o = check_options(cls, options, min_size=16, size_multiple=16)
        size = o["input_size"]
        return {
            "inputs": "uvs",
            "input_size": (o["in_channels"], size, size),
            "num_classes": o["num_classes"],
            "paper": PAPER,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (N, num_classes) from (N, 3, H, W)."""
        x = self.transformer(self.res2(self.res1(self.stem(x))))
        return self.head(x.flatten(1))


@register_model(cfg=MiniAORCNN.model_cfg)
def mini_aorcnn(**kwargs: Any) -> MiniAORCNN:
    """mini-AORCNN: u, v, strain at 112x112, bottleneck transformer, FC 64-64."""
    return MiniAORCNN(**kwargs)
