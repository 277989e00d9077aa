"""At initialisation the ensemble's output covariance is the spec's NNGP (Monte Carlo)."""

import numpy as np
import pytest
import torch

from mftsym.validate.theory import kernel_matrix, reference_kernel
from mftsym.validate.torch_network import EnsembleNetwork, build_module, member_generators, network_plan
from tests.tolerances import MC_SIGMAS

from .conftest import make_spec

X = np.array([[1.0, 0.5, -0.3], [-0.7, 1.2, 0.4], [0.2, -0.1, 1.5]])
MEMBERS = 4000


@pytest.mark.parametrize("act", ["erf", "relu"])
@pytest.mark.parametrize("depth,width", [(1, 16), (2, 64)])
@pytest.mark.parametrize("param", ["ntk", "standard", "mean_field"])
def test_init_covariance_matches_nngp(act, depth, width, param):
    spec = make_spec(act, depth, param)
    ens = EnsembleNetwork(network_plan(spec, width, 3), MEMBERS)
    params = ens.init_params(member_generators(7, MEMBERS))
    with torch.no_grad():
        f = ens.forward(params, torch.as_tensor(X))[..., 0].numpy()          # (M, P)
    prods = f[:, :, None] * f[:, None, :]
    emp, se = prods.mean(0), prods.std(0, ddof=1) / np.sqrt(MEMBERS)
    K, _ = kernel_matrix(spec.with_params(N1=width), X, kind="nngp")
    z = (emp - K) / se
    assert np.max(np.abs(z)) < MC_SIGMAS, (z, emp, K)


def test_reference_kernel_agrees_with_mftsym_kernel():
    import mftsym
    spec = make_spec("erf", 2, "ntk").with_params(N1=64)
    try:
        k = mftsym.kernel(spec, X, kind="nngp")
        t = mftsym.kernel(spec, X, kind="ntk")
    except ImportError:
        pytest.skip("mftsym.kernel not available yet")
    np.testing.assert_allclose(reference_kernel(spec, X, kind="nngp"), k, rtol=1e-6)
    np.testing.assert_allclose(reference_kernel(spec, X, kind="ntk"), t, rtol=1e-6)


def test_single_module_matches_ensemble_member_shapes_and_prior():
    spec = make_spec("tanh", 1, "standard")
    net = build_module(spec, width=32, input_dim=3, seed=1)
    out = net(torch.as_tensor(X))
    assert out.shape == (3, 1)
    assert float(net.prior_energy().detach()) > 0
    # gradients flow
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_float32_and_custom_activation():
    spec = make_spec("x**3 - 3*x", 1, "ntk")
    ens = EnsembleNetwork(network_plan(spec, 8, 3), 4, dtype=torch.float32)
    params = ens.init_params(member_generators(0, 4))
    f = ens.forward(params, torch.as_tensor(X))
    assert f.dtype == torch.float32 and f.shape == (4, 3, 1) and torch.isfinite(f).all()
