"""The contraction (Monte Carlo) path of predict against the exact quadrature-tensor path."""

import time

import numpy as np
import pytest

import mftsym
from mftsym.nnft import predict
from mftsym.nnft.posterior import _pairing_sums, _surrogate_expectations
from tests.nnft._specs import make_spec
from tests.tolerances import MC_SIGMAS

RNG = np.random.default_rng(1)
XTR, XTE = RNG.normal(size=(5, 3)), RNG.normal(size=(2, 3))
Y = RNG.normal(size=5)


@pytest.mark.parametrize("device", [None, "cpu"])           # numpy, and the torch sampling path
@pytest.mark.parametrize("act", ["x", "x + 0.5"])
def test_affine_activation_is_exact(act, device):
    """An affine phi equals its Gaussian surrogate: the control variate removes all Monte Carlo error,
    so the closed Wick sums (non-zero mean included) must reproduce the tensor path to rounding."""
    spec = make_spec(act, N=8)
    a = predict(spec, XTR, Y, XTE, 0.3, method="tensor")
    b = predict(spec, XTR, Y, XTE, 0.3, method="contract", samples=20_000, device=device)
    for k in ("correction", "var_correction"):
        assert np.allclose(b[k], a[k], rtol=1e-7, atol=1e-10), (k, a[k], b[k])
        assert np.all(b[k + "_se"] < 1e-6 * np.abs(a[k]).max())


def test_surrogate_expectations_reduce_to_pairings():
    n, P = 6, 4
    B = RNG.normal(size=(n, n))
    M = B @ B.T / n
    S = np.linalg.inv(M[:P, :P] + np.eye(P))
    E = np.vstack([RNG.normal(size=(P, 2)), np.eye(2)])
    u = RNG.normal(size=P)
    for x, y in zip(_surrogate_expectations(np.zeros(n), M, E, u, S, P), _pairing_sums(M, E, u, S, P)):
        assert np.allclose(x, y, rtol=1e-12)


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_contraction_agrees_with_tensor(act):
    """P + T = 7 points (5 train, 2 test), default 2e5 draws (SE ~ 1% of the corrections).  (With 4e6
    draws erf agrees within 1.1 SE; ReLU's 4-D quadrature converges slowly at the kinks -- its mean
    correction moves by ~0.01 between Gauss-Hermite orders 24, 32 and 40 -- so there the tensor path is
    the less accurate of the two and only the default draw count is compared.)"""
    spec = make_spec(act, N=8)
    a = predict(spec, XTR, Y, XTE, 0.3, method="tensor")
    b = predict(spec, XTR, Y, XTE, 0.3, method="contract")
    assert a["method"] == "tensor" and b["method"] == "contract"
    for k in ("correction", "var_correction"):
        z = (b[k] - a[k]) / b[k + "_se"]
        assert np.all(np.abs(z) < 4), (k, a[k], b[k], b[k + "_se"])
        assert np.all(b[k + "_se"] < 0.03 * np.abs(a[k]).max())
    assert np.allclose(b["gp_mean"], a["gp_mean"]) and np.allclose(b["gp_var"], a["gp_var"])


def test_auto_switches_and_scales_to_hundreds_of_points():
    """The erf example (d = 8) at P = 200 training and 50 test points: the contraction path (a few
    seconds on 2 cores; no timed assertion) with a resolved correction."""
    spec = mftsym.example_spec("two_layer_erf")
    rng = np.random.default_rng(0)
    P, T = 200, 50
    x = rng.normal(size=(P + T, 8))
    y = np.sin(x[:P, 0]) + 0.1 * rng.normal(size=P)
    t0 = time.perf_counter()
    p = predict(spec, x[:P], y, x[P:], 0.05)
    print(f"predict, P = {P}, T = {T}: {time.perf_counter() - t0:.2f} s")
    assert p["method"] == "contract"
    for k in ("mean", "var", "correction_se", "var_correction_se"):
        assert p[k].shape == (T,) and np.all(np.isfinite(p[k]))
    assert np.median(np.abs(p["correction"]) / p["correction_se"]) > 5
    assert np.median(np.abs(p["var_correction"]) / p["var_correction_se"]) > 5
    assert predict(spec, x[:3], y[:3], x[P:P + 2], 0.05, variance=False)["method"] == "tensor"


def test_qmc_sampler_agrees_with_tensor():
    spec = make_spec("erf", N=8)
    a = predict(spec, XTR, Y, XTE, 0.3, method="tensor")
    b = predict(spec, XTR, Y, XTE, 0.3, method="contract", sampler="qmc", samples=65_536)
    for k in ("correction", "var_correction"):
        assert np.all(np.abs(b[k] - a[k]) < 4 * b[k + "_se"]), (k, a[k], b[k], b[k + "_se"])


def test_torch_sampling_path_agrees_with_tensor_path():
    """device="cpu": the same estimator in torch with its own random stream; within its SE of the
    exact quadrature tensor, and its SE matches the numpy path's."""
    spec = make_spec("erf", N=8)
    a = predict(spec, XTR, Y, XTE, 0.3, method="tensor")
    n = predict(spec, XTR, Y, XTE, 0.3, method="contract")
    t = predict(spec, XTR, Y, XTE, 0.3, method="contract", device="cpu")
    for k in ("correction", "var_correction"):
        assert np.all(np.abs(t[k] - a[k]) < MC_SIGMAS * t[k + "_se"]), (k, a[k], t[k], t[k + "_se"])
        np.testing.assert_allclose(t[k + "_se"], n[k + "_se"], rtol=0.2)
        assert not np.allclose(t[k], n[k], rtol=1e-9)                   # a different stream, not a copy
    q = predict(spec, XTR, Y, XTE, 0.3, method="contract", sampler="qmc", samples=65_536, device="cpu")
    assert np.all(np.abs(q["correction"] - a["correction"]) < MC_SIGMAS * q["correction_se"])
