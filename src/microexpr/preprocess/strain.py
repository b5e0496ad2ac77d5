"""Optical strain from an optical-flow field.

For flow (u, v) the strain tensor is e_xx = du/dx, e_yy = dv/dy and
e_xy = e_yx = (du/dy + dv/dx) / 2; its magnitude per pixel is
sqrt(e_xx^2 + e_yy^2 + e_xy^2 + e_yx^2). Derivatives are central differences
(one-sided at the border), in pixels. A popular public implementation uses
du/dy in place of dv/dy for e_yy; that is wrong, and not done here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["optical_strain", "strain_components"]


def strain_components(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(e_xx, e_yy, e_xy)``, each of the shape of ``u`` (H, W)."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.shape != v.shape or u.ndim != 2:
        raise ValueError(f"u and v must be 2-D of one shape, got {u.shape} and {v.shape}")
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    return du_dx, dv_dy, 0.5 * (du_dy + dv_dx)


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Optical strain magnitude, shape (H, W), float32."""
    exx, eyy, exy = strain_components(u, v)
    return np.sqrt(exx**2 + eyy**2 + 2.0 * exy**2).astype(np.float32)
