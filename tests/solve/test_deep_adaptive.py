"""Deep adaptive kernel (Gaussian closure layer by layer): depth 1 is the one-hidden-layer theory,
deep linear networks on one point are Li & Sompolinsky's renormalization, N -> inf is the NNGP, and
the solution satisfies the stated equation of state of the last layer."""

import numpy as np
import pytest
import torch

from mftsym.export.latex import derivations_document
from mftsym.solve.adaptive import solve_adaptive_kernel
from mftsym.solve.api import solve
from mftsym.solve.deep_adaptive import DeepSetup, layer_kernel, solve_deep_adaptive_kernel
from mftsym.solve.derive import derive_theory
from mftsym.solve.gp import solve_gp
from mftsym.solve.renormalization import solve_kernel_renormalization
from tests.solve.conftest import make_spec


@pytest.fixture
def small():
    rng = np.random.default_rng(1)
    d, P = 5, 12
    x = rng.standard_normal((P, d))
    return x, np.tanh(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2], rng.standard_normal((4, d))


def test_depth_one_is_the_one_hidden_layer_theory(small):
    x, y, xt = small
    spec = make_spec(theory="adaptive_kernel", params={"N1": 6.0, "sigma2": 0.05})
    one = solve_adaptive_kernel(spec, x, y, xt)
    deep = solve_deep_adaptive_kernel(spec, x, y, xt, starts=(1.0,))
    np.testing.assert_allclose(deep.prediction, one.prediction, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(deep.variance, one.variance, rtol=1e-8, atol=1e-10)
    assert deep.action == pytest.approx(one.action, rel=1e-10)
    np.testing.assert_allclose(deep.extras["Q_eigenvalues"], one.extras["Q_eigenvalues"], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("depth,N", [(2, 3.0), (2, 40.0), (3, 5.0)])
def test_deep_linear_one_point_equals_li_sompolinsky(depth, N):
    rng = np.random.default_rng(0)
    x, y, xt = rng.standard_normal((1, 4)), np.array([2.5]), rng.standard_normal((3, 4))
    widths = {f"N{l}": N * (1 + 0.5 * l) for l in range(1, depth + 1)}
    spec = make_spec(hidden=tuple((w, None) for w in widths), theory="adaptive_kernel",
                     params={**widths, "sigma2": 0.05})
    ak = solve_deep_adaptive_kernel(spec, x, y, xt, starts=(1.0,))
    kr = solve_kernel_renormalization(spec, x, y, xt)
    K = float((x @ x.T)[0, 0]) / x.shape[1]
    assert ak.extras["Q_eigenvalues"][0] == pytest.approx(kr.order_parameters["Q"] * K, rel=1e-8)
    np.testing.assert_allclose(ak.prediction, kr.prediction, rtol=1e-8)
    # each layer's KL is (N/2)(m - 1 - ln m): the actions differ by sum_l N_l / 2
    assert kr.action - ak.action == pytest.approx(sum(widths.values()) / 2, rel=1e-9)
    # the per-layer renormalizations are Li & Sompolinsky's u_l: layer 1 renormalizes the one input
    # direction of the training point (m_1 = tr M_1 / d), the others their single kernel entry
    d = x.shape[1]
    assert ak.order_parameters["m1"] == pytest.approx((kr.order_parameters["u1"] + d - 1) / d, rel=1e-7)
    for l in range(2, depth + 1):
        assert ak.order_parameters[f"m{l}"] == pytest.approx(kr.order_parameters[f"u{l}"], rel=1e-7)


@pytest.mark.parametrize("hidden", [(("N1", "erf"), ("N2", "erf")), (("N1", "relu"), ("N2", "relu"), ("N3", "erf"))])
def test_nngp_limit(small, hidden):
    x, y, xt = small
    params = {w: 1e9 for w, _ in hidden}
    spec = make_spec(hidden=hidden, theory="adaptive_kernel", params={**params, "sigma2": 0.05})
    ak = solve(spec, x, y, xt)
    gp = solve_gp(spec, x, y, xt)
    np.testing.assert_allclose(ak.prediction, gp.prediction, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ak.variance, gp.variance, rtol=1e-6, atol=1e-7)


def test_equation_of_state_of_the_last_layer(small):
    """Σ_L⁻¹ = K_L⁻¹ − (1/N_L) ∂_Σ tr[(t̄t̄ᵀ − (Q + σ²I)⁻¹) σ_a² g(Σ)] at the solution (autograd in Σ)."""
    x, y, _ = small
    spec = make_spec(hidden=(("N1", "erf"), ("N2", "erf")), theory="adaptive_kernel",
                     params={"N1": 6.0, "N2": 4.0, "sigma2": 0.05})
    sol = solve_deep_adaptive_kernel(spec, x, 2 * y, starts=(1.0,))
    assert sol.converged and sol.stable
    st = DeepSetup(spec, x, 2 * y)
    Sig = torch.tensor(sol.extras["layer_covariances"][-1], dtype=torch.float64, requires_grad=True)
    K = np.array(sol.extras["layer_prior_kernels"][-1])
    Q = st.sa2 * layer_kernel(st.layers[-1]["phi"], Sig)
    A = np.linalg.inv(Q.detach().numpy() + st.noise * np.eye(st.P))
    t = A @ st.y
    M = torch.as_tensor(np.outer(t, t) - A)
    (D,) = torch.autograd.grad((M * Q).sum(), Sig)
    lhs = np.linalg.inv(Sig.detach().numpy())
    rhs = np.linalg.inv(K) - D.numpy() / st.layers[-1]["N"]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-6, atol=1e-6 * np.abs(lhs).max())
    # and the solution moved away from the prior (the test is not trivial)
    assert np.abs(lhs - np.linalg.inv(K)).max() > 1e-3 * np.abs(lhs).max()


def test_derivation_and_dispatch(small):
    x, y, xt = small
    spec = make_spec(hidden=(("N1", "erf"), ("N2", "relu")), theory="adaptive_kernel",
                     params={"N1": 8.0, "N2": 8.0, "sigma2": 0.05})
    ders = derive_theory(spec)
    tex = derivations_document(ders)
    assert "Gaussian closure" in tex and "K_{2}" in tex and "asin" in tex and "Equations of state" in tex
    sol = solve(spec, x, y, xt)
    assert sol.theory == "adaptive_kernel" and sol.converged and sol.extras["depth"] == 2
    gp = solve_gp(spec, x, y, xt)
    assert np.abs(sol.prediction - gp.prediction).max() > 1e-4     # finite width moves the predictor


@pytest.mark.slow
def test_nngp_limit_quadrature_activation(small):
    """tanh has no closed-form kernel: the layer kernels go through the quadrature node."""
    x, y, xt = small
    spec = make_spec(hidden=(("N1", "tanh"), ("N2", "relu")), theory="adaptive_kernel",
                     params={"N1": 1e9, "N2": 1e9, "sigma2": 0.05})
    ak = solve(spec, x, y, xt)
    gp = solve_gp(spec, x, y, xt)
    np.testing.assert_allclose(ak.prediction, gp.prediction, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_linear_mean_field_limit_is_li_sompolinsky(depth):
    """Linear network in mean-field scaling (readout kernel σ_a² G/N, noise κ/N), P > 1: each neuron's
    action is Gaussian, the matrix closure is the exact N → ∞ limit, and its mean predictor is the
    scalar rescaling of Li & Sompolinsky (the deep-linear renormalization, a separate solver), as
    Rubin et al. (ICML 2025) state for linear networks; the gap closes as 1/N."""
    rng = np.random.default_rng(0)
    d, P = 4, 6
    x = rng.standard_normal((P, d))
    y, xt = x[:, 0] + 0.3 * rng.standard_normal(P), rng.standard_normal((3, d))
    gaps = []
    for N in (1e3, 1e4):
        widths = {f"N{l}": N for l in range(1, depth + 1)}
        spec = make_spec(hidden=tuple((w, None) for w in widths), theory="adaptive_kernel",
                         parametrization="mean_field", noise="kappa/N1", params={**widths, "kappa": 0.05})
        ak = solve_deep_adaptive_kernel(spec, x, y, xt, starts=(1.0,))
        kr = solve_kernel_renormalization(spec, x, y, xt)
        gaps.append(np.abs(ak.prediction - kr.prediction).max())
        # feature learning is O(1) in this scaling: the kernel is far from the NNGP
        assert ak.order_parameters["kernel_trace_ratio"] > 1.5
    assert gaps[1] < 2e-6 * np.abs(kr.prediction).max()
    assert gaps[0] / gaps[1] == pytest.approx(10.0, rel=0.03)
