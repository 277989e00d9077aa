"""At initialisation the ensemble's output covariance is the spec's NNGP (Monte Carlo)."""

import numpy as np
import pytest
import torch

from mftsym.validate.theory import kernel_matrix
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


def test_spec_the_kernel_cannot_evaluate_is_a_clear_error_before_anything_is_written(tmp_path):
    """No fallback kernel: a spec mftsym.kernel cannot evaluate fails in validate() with the
    library's message (here: a weight variance without a value), and nothing is written."""
    from mftsym.errors import EvaluationError, MftsymError
    from mftsym.spec import Spec
    from mftsym.validate import Langevin, teacher_data, validate
    spec = Spec.from_dict({"network": {"input_dim": "d", "parametrization": "ntk", "layers": [
        {"type": "dense", "width": "N1", "weight_var": "s_w"}, {"type": "activation", "fn": "erf"},
        {"type": "dense", "width": 1, "weight_var": 1.0}]}, "posterior": {"noise_var": 0.1}})
    with pytest.raises(EvaluationError, match="no value for s_w"):
        kernel_matrix(spec, X)
    with pytest.raises(EvaluationError, match="unknown kernel kind"):
        kernel_matrix(make_spec("erf", 1, "ntk"), X, kind="nngq")
    out = tmp_path / "out"
    with pytest.raises(MftsymError, match="no value for .*s_w"):
        validate(spec, teacher_data(6, 3, 2, seed=0), [8], 2, out, trainer=Langevin(1e-3, 20, 10, 1),
                 progress=False)
    assert not out.exists()


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
