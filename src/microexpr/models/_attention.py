"""Convolutional Block Attention Module (CBAM) and its two halves.

Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module",
ECCV 2018. Channel attention: average- and max-pool over space, a shared
two-layer MLP, sum, sigmoid. Spatial attention: mean and max over channels,
concatenated, a convolution, sigmoid. CBAM applies channel then spatial.
"""

from __future__ import annotations

import torch
from torch import nn

from microexpr.models._blocks import make_activation

__all__ = ["CBAM", "ChannelAttention", "SpatialAttention"]


class ChannelAttention(nn.Module):
    """Channel attention of CBAM.

    Parameters
    ----------
    channels : int
        Channels of the input feature map.
    reduction : int
        MLP hidden size is ``max(1, channels // reduction)``.
    activation : str
        Activation between the MLP's layers (CBAM uses ReLU; ATSCNN SELU).
    """

    def __init__(self, channels: int, reduction: int = 4, activation: str = "relu") -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), make_activation(activation), nn.Linear(hidden, channels)
        )

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Weights of shape (N, C, 1, 1), in (0, 1)."""
        avg = self.mlp(x.mean(dim=(2, 3)))
        mx = self.mlp(x.amax(dim=(2, 3)))
        return torch.sigmoid(avg + mx)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight the channels of ``x`` (N, C, H, W)."""
        return x * self.attention(x)


class SpatialAttention(nn.Module):
    """Spatial attention of CBAM.

    Parameters
    ----------
    kernel_size : int
        Side of the convolution over the [mean, max] map (3 in ATSCNN, 7 in CBAM).
    """

    def __init__(self, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Weights of shape (N, 1, H, W), in (0, 1)."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight the positions of ``x`` (N, C, H, W)."""
        return x * self.attention(x)


class CBAM(nn.Module):
    """Channel attention, then spatial attention; either can be switched off.

    Parameters
    ----------
    channels : int
        Channels of the input.
    channel, spatial : bool
        Which halves to apply.
    reduction : int
        Channel MLP reduction.
    kernel_size : int
        Spatial attention kernel.
    activation : str
        Activation inside the channel MLP.
    """

    def __init__(
        self,
        channels: int,
        *,
        channel: bool = True,
        spatial: bool = True,
        reduction: int = 4,
        kernel_size: int = 3,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction, activation) if channel else None
        self.spatial = SpatialAttention(kernel_size) if spatial else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the enabled attentions to ``x`` (N, C, H, W)."""
        if self.channel is not None:
            x = self.channel(x)
        if self.spatial is not None:
            x = self.spatial(x)
        return x
