import numpy as np
import pytest

from microexpr.preprocess.strain import optical_strain, strain_components


def test_strain_of_affine_flow_equals_analytic():
    # u = a x + b y, v = c x + d y: e_xx = a, e_yy = d, e_xy = (b + c) / 2 everywhere
    a, b, c, d = 0.02, -0.01, 0.03, -0.015
    y, x = np.mgrid[0:32, 0:40].astype(float)
    u = a * x + b * y + 0.7
    v = c * x + d * y - 0.2
    exx, eyy, exy = strain_components(u, v)
    np.testing.assert_allclose(exx, a)
    np.testing.assert_allclose(eyy, d)
    np.testing.assert_allclose(exy, (b + c) / 2)
    expected = np.sqrt(a**2 + d**2 + 2 * ((b + c) / 2) ** 2)
    np.testing.assert_allclose(optical_strain(u, v), expected, rtol=1e-6)


def test_strain_uses_dv_dy_not_du_dy():
    # a pure vertical stretch v = k y has strain k; the common bug (du/dy for e_yy) gives 0
    y, _ = np.mgrid[0:16, 0:16].astype(float)
    strain = optical_strain(np.zeros_like(y), 0.05 * y)
    np.testing.assert_allclose(strain, 0.05, rtol=1e-6)


def test_translation_has_no_strain():
    u = np.full((8, 8), 1.3)
    v = np.full((8, 8), -0.4)
    assert np.abs(optical_strain(u, v)).max() == 0


def test_strain_shape_mismatch():
    with pytest.raises(ValueError, match="one shape"):
        optical_strain(np.zeros((4, 4)), np.zeros((4, 5)))
