"""Dense optical flow with TV-L1 (OpenCV contrib's DualTVL1OpticalFlow)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from microexpr.errors import MicroexprError

__all__ = ["FlowSettings", "tvl1_flow"]


@dataclass(frozen=True)
class FlowSettings:
    """TV-L1 parameters (OpenCV's defaults; Zach et al. 2007).

    Attributes follow ``cv2.optflow.DualTVL1OpticalFlow_create``'s arguments.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def as_dict(self) -> dict[str, float | int]:
        """Settings as a plain dict (for cache keys and reports)."""
        return asdict(self)


def _create(settings: FlowSettings) -> object:
    try:
        create = cv2.optflow.DualTVL1OpticalFlow_create
    except AttributeError as exc:  # plain opencv-python has no optflow module
        raise MicroexprError(
            "OpenCV contrib is missing (cv2.optflow); install opencv-contrib-python-headless"
        ) from exc
    return create(
        tau=settings.tau,
        lambda_=settings.lambda_,
        theta=settings.theta,
        nscales=settings.nscales,
        warps=settings.warps,
        epsilon=settings.epsilon,
        innnerIterations=settings.inner_iterations,
        outerIterations=settings.outer_iterations,
        scaleStep=settings.scale_step,
        gamma=settings.gamma,
        medianFiltering=settings.median_filtering,
    )


def tvl1_flow(
    first: np.ndarray, second: np.ndarray, settings: FlowSettings | None = None
) -> np.ndarray:
    """TV-L1 optical flow from ``first`` to ``second``.

    Parameters
    ----------
    first, second : ndarray of shape (H, W), uint8
        Grayscale frames (onset, apex).
    settings : FlowSettings, optional

    Returns
    -------
    ndarray of shape (2, H, W), float32
        Horizontal (u) and vertical (v) displacement in pixels, such that
        ``second[y + v, x + u] ~= first[y, x]``.
    """
    a = np.ascontiguousarray(first)
    b = np.ascontiguousarray(second)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"frames must be 2-D of one shape, got {a.shape} and {b.shape}")
    flow = _create(settings or FlowSettings()).calc(a, b, None)
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)
