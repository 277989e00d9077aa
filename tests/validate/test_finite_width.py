"""Rao–Blackwellised readout, the exact finite-width linear-network reference, the variance χ² z,
and the kernel-renormalization theory hook."""

import numpy as np
import pytest
import torch

from mftsym.spec import Spec
from mftsym.validate import Langevin, gp_posterior, run_ensemble, teacher_data, validate
from mftsym.validate.report import variance_chi2_z
from mftsym.validate.theory import THEORIES, call_theory, linear_network_posterior
from mftsym.validate.torch_network import EnsembleNetwork, network_plan
from tests.tolerances import MC_SIGMAS

from .conftest import linear_model_spec, make_spec


def linear_net_spec(noise_var=0.5):
    return Spec.from_dict({"network": {"input_dim": "d", "parametrization": "ntk", "layers": [
        {"type": "dense", "width": "N1", "weight_var": 1.0}, {"type": "activation", "fn": "identity"},
        {"type": "dense", "width": 1, "weight_var": 1.0}]}, "posterior": {"noise_var": noise_var}})


def test_rao_blackwell_of_a_linear_model_is_the_gp_posterior_exactly():
    # no hidden layer: given "the hidden weights" (none) the readout posterior is the whole posterior
    spec = linear_model_spec(noise_var=0.1)
    data = teacher_data(6, 5, 3, noise_var=0.05, seed=3)
    tr = Langevin(step_size=3e-3, steps=300, burn_in=100, thin=5)
    out = run_ensemble(spec, data, None, 2, tr, seed=1)
    th = gp_posterior(spec, data, tr)
    np.testing.assert_allclose(out["rb_mean_f"], np.broadcast_to(th["mean"], out["rb_mean_f"].shape), atol=1e-10)
    np.testing.assert_allclose(out["rb_mean_f2"] - out["rb_mean_f"] ** 2,
                               np.broadcast_to(th["var"], out["rb_mean_f"].shape), atol=1e-10)


def test_conditional_readout_posterior_matches_direct_gp_given_features():
    spec = make_spec("erf", bias_var=0.1)
    data = teacher_data(5, 4, 3, seed=0)
    plan = network_plan(spec, 7, 3)
    ens = EnsembleNetwork(plan, 2)
    params = ens.init_params([torch.Generator().manual_seed(i) for i in range(2)])
    xtr, ytr, xte = (torch.as_tensor(a) for a in (data.x_train, data.y_train, data.x_test))
    m, v = ens.conditional_readout_posterior(params, xtr, ytr, xte, 0.1)
    phi = ens.readout_features(params, torch.cat([xtr, xte]))[0].numpy()
    ro = plan.dense[-1]
    K = ro.w_mult ** 2 * ro.w_prior_var * phi @ phi.T + (ro.b_mult ** 2 * ro.b_prior_var if ro.has_bias else 0)
    A = K[:5, :5] + 0.1 * np.eye(5)
    np.testing.assert_allclose(m[0].numpy(), K[5:, :5] @ np.linalg.solve(A, data.y_train), rtol=1e-10)
    np.testing.assert_allclose(v[0, :, 0].numpy(), np.diag(K[5:, 5:] - K[5:, :5] @ np.linalg.solve(A, K[:5, 5:])),
                               rtol=1e-8, atol=1e-12)


def test_linear_exact_tends_to_gp_and_shifts_by_order_one_over_n():
    spec = linear_net_spec()
    data = teacher_data(4, 3, 4, seed=3)
    gp = gp_posterior(spec, data)
    big = linear_network_posterior(spec.with_params(N1=10 ** 6), data, samples=20_000, chunk=10_000)
    np.testing.assert_allclose(big["mean"], gp["mean"], atol=5e-4)
    d64 = linear_network_posterior(spec.with_params(N1=64), data, samples=40_000, chunk=10_000)
    d256 = linear_network_posterior(spec.with_params(N1=256), data, samples=40_000, chunk=10_000)
    s64, s256 = np.abs(d64["mean"] - gp["mean"]).max(), np.abs(d256["mean"] - gp["mean"]).max()
    assert d64["order_parameters"]["mc_se_max"] < 0.2 * s64
    assert 2.5 < s64 / s256 < 6.5     # 1/N: a factor 4


def test_linear_exact_rejects_nonlinear_networks():
    from mftsym.errors import SpecError
    with pytest.raises(SpecError):
        linear_network_posterior(make_spec("erf").with_params(N1=8), teacher_data(3, 2, 3, seed=0))


def test_variance_chi2_z():
    z = variance_chi2_z([1.0, 1 / 3], [1.0, 1.0], 16)
    assert abs(z["z_chi2"][0]) < 0.2 and -2.6 < z["z_chi2"][1] < -2.2


def test_kernel_renormalization_hook_agrees_with_gp_at_large_width():
    pytest.importorskip("mftsym.solve")
    spec = linear_net_spec()
    data = teacher_data(6, 3, 4, seed=3)
    kr = call_theory(THEORIES["kr"], spec.with_params(N1=10 ** 7), data)
    np.testing.assert_allclose(kr["mean"], gp_posterior(spec, data)["mean"], rtol=1e-5, atol=1e-7)
    assert abs(kr["order_parameters"]["Q"] - 1) < 1e-5
    small = call_theory(THEORIES["kr"], spec.with_params(N1=8), data)
    assert small["order_parameters"]["Q"] != pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("act,bias", [("erf", 0.1), ("tanh", 0.0), ("relu", 0.1), ("x", 0.0)])
def test_hand_written_gradients_match_autograd(act, bias):
    from mftsym.validate.fast import TwoLayerGrad
    from mftsym.validate.torch_network import member_generators
    spec = make_spec(act, bias_var=bias)
    spec = Spec.from_dict({**spec.to_dict()})
    d = spec.to_dict()
    d["network"]["layers"][-1]["bias_var"] = 0.3          # a readout bias too
    spec = Spec.from_dict(d)
    ens = EnsembleNetwork(network_plan(spec, 7, 3), 3)
    params = ens.init_params(member_generators(0, 3))
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)
    loss, grads = TwoLayerGrad(ens, x, y)(params)
    ps = [p.clone().requires_grad_(True) for p in params]
    ref_loss = 0.5 * ((ens.forward(ps, x) - y) ** 2).flatten(1).sum(1)
    ref = torch.autograd.grad(ref_loss.sum(), ps)
    torch.testing.assert_close(loss, ref_loss.detach())
    assert len(grads) == len(ref)
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r)


def test_ou_integrator_samples_the_prior_exactly():
    # no data constraint (huge noise): Euler inflates the prior variance by 1/(1 - eps/2), OU does not
    spec = linear_net_spec(noise_var=1e8)
    data = teacher_data(2, 2, 3, seed=0)
    eps = 0.2
    out = {}
    for integ in ("euler", "ou"):
        tr = Langevin(step_size=eps, steps=3000, burn_in=100, thin=1, integrator=integ, rao_blackwell=False)
        ens = EnsembleNetwork(network_plan(spec, 50, 3), 4)
        from mftsym.validate.torch_network import member_generators
        gens = member_generators(0, 4)
        params = ens.init_params(gens)
        object.__setattr__(tr, "_s2", 1e8)
        bufs = [torch.empty_like(p) for p in params]
        x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
        acc = []
        for k in range(tr.steps):
            tr.step(ens, params, gens, x, y, k, 1e30, bufs)
            if k >= tr.burn_in:
                acc.append(float((params[0] ** 2).mean()))
        out[integ] = np.mean(acc)
    assert abs(out["ou"] - 1) < 0.02
    assert abs(out["euler"] - 1 / (1 - eps / 2)) < 0.03


def test_readout_kernel_prior_mean_is_the_nngp():
    """At initialisation (the prior) the readout kernel's mean over members is the NNGP kernel:
    exactly in expectation for one hidden layer, so within Monte Carlo error."""
    from mftsym.validate.observables import mean_and_se
    from mftsym.validate.theory import kernel_matrix
    from mftsym.validate.torch_network import member_generators
    spec = make_spec("erf", bias_var=0.1)
    x = np.random.default_rng(0).normal(size=(4, 3))
    ens = EnsembleNetwork(network_plan(spec, 8, 3), 3000)
    k = ens.readout_kernel(ens.init_params(member_generators(2, 3000)), torch.as_tensor(x)).numpy()
    mean, se = mean_and_se(k)
    K, _ = kernel_matrix(spec.with_params(N1=8), x, kind="nngp")
    assert np.max(np.abs(mean - K) / se) < MC_SIGMAS


def test_langevin_readout_kernel_matches_the_exact_linear_posterior(tmp_path):
    """The posterior mean of the readout kernel of a one-hidden-layer linear network at N = 16:
    the exact finite-N posterior (Wishart importance sampling) agrees with Langevin; the GP, whose
    readout kernel is the prior one, is many standard errors off -- the feature learning of a
    finite width, resolved."""
    spec = linear_net_spec(noise_var=0.5)
    base = teacher_data(8, 8, 8, noise_var=0.0, seed=3)
    data = type(base)(base.x_train, 1.5 * base.y_train, base.x_test, 1.5 * base.y_test, base.meta)
    rep = validate(spec, data, [16], 48, tmp_path, trainer=Langevin(step_size=1e-2, steps=3000, burn_in=500, thin=5),
                   theory=("gp", "linear_exact"), progress=False, plots=False)
    d = rep["widths"][0]["observables"]["readout_kernel"]["discrepancy"]
    assert d["linear_exact"]["max_abs_z"] < MC_SIGMAS, d["linear_exact"]
    assert d["gp"]["resolved"] and d["gp"]["max_abs_z"] > 3 * MC_SIGMAS, d["gp"]
