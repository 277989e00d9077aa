"""Feature means in the kernel state: residual sums of a post-activation skip and a branch ending in
a nonlinearity (cross term scale (m_x m_b' + m_b m_x')), LayerNorm on features of non-zero mean,
pooling of the means.  References: Monte Carlo ensembles of the finite torch networks built from
the same spec (NNGP), empirical NTKs from autograd, closed forms for the means, exact limits.
"""

import numpy as np
import pytest
import sympy as sp
import torch

import mftsym as mf
from mftsym.errors import SpecError
from mftsym.layers.activation import mean_of
from mftsym.spec.expressions import X
from tests.layers._spatial import act, conv, dense, empirical_ntk, inputs, mc_readout_kernel, spec_of
from tests.tolerances import EMPIRICAL_NTK_RTOL, MC_SIGMAS, MC_WIDTH_BIAS

torch.set_num_threads(1)

READOUT = {"type": "dense", "width": 1, "weight_var": 1.0, "bias_var": 0.1}

#: the example of the architecture spec: conv -> relu -> x + relu(conv x) -> LayerNorm -> avg_pool -> attention
ISSUE_EXAMPLE = [conv(kernel=[3, 3]), act("relu"),
                 {"type": "residual", "branch": [conv(kernel=[3, 3]), act("relu")]},
                 {"type": "layer_norm"}, {"type": "avg_pool", "window": [2, 2]},
                 {"type": "attention", "width": "C", "heads": 2, "key_width": "C", "value_width": "C"},
                 {"type": "global_avg_pool"}, READOUT]

CASES = {
    "issue_example": (ISSUE_EXAMPLE, [4, 4, 2], ("ntk", "standard")),
    # post-activation ResNet block on sequences: x + 0.8 relu(conv relu(conv x)), x post-ReLU
    "post_activation_1d": ([conv(kernel=[3]), act("relu"),
                            {"type": "residual", "scale": 0.8,
                             "branch": [conv(kernel=[3]), act("relu"), conv(kernel=[3], bias_var=0.0), act("relu")]},
                            {"type": "flatten"}, READOUT], [5, 2], ("ntk", "standard")),
    # two stacked post-activation blocks on images (circular stem, a 1x1 conv, global pooling)
    "post_activation_2d": ([conv(kernel=[2, 2], padding="circular"), act("relu"),
                            {"type": "residual", "branch": [conv(kernel=[3, 3]), act("relu"), conv(kernel=[1, 1]),
                                                            act("relu")]},
                            {"type": "residual", "scale": 0.5, "branch": [conv(kernel=[3, 3]), act("relu")]},
                            {"type": "global_avg_pool"}, READOUT], [3, 3, 2], ("ntk", "standard")),
    # a residual block on pooled features: the skip's mean is the position average of the ReLU means
    "residual_after_global_pool": ([conv(kernel=[3]), act("relu"), {"type": "global_avg_pool"},
                                    {"type": "residual", "branch": [dense(), act("relu")]}, READOUT], [5, 2], ("ntk",)),
    # LayerNorm centres post-activation features of non-zero mean; a GELU-like softplus mean via quadrature
    "layernorm_after_softplus": ([dense(), act("log(1 + exp(x))"), {"type": "layer_norm"},
                                  {"type": "avg_pool", "window": [2], "stride": [1]}, {"type": "flatten"}, READOUT],
                                 [4, 3], ("ntk",)),
}

NNGP_CASES = [(c, p) for c, (_, _, pars) in CASES.items() for p in pars]


@pytest.mark.parametrize("case,parametrization", NNGP_CASES)
def test_nngp_matches_random_networks(case, parametrization):
    layers, shape, _ = CASES[case]
    spec = spec_of(layers, shape, parametrization)
    x = inputs(spec, p=3, seed=1)
    k = mf.kernel(spec, x)
    width, members = 64, 120
    mean, se = mc_readout_kernel(spec, x, width, members, seed=2)
    allowed = MC_SIGMAS * se + MC_WIDTH_BIAS * np.abs(k) / width
    assert np.all(np.abs(mean - k) <= allowed), (k, mean, se)


def test_without_the_cross_term_the_random_networks_disagree(monkeypatch):
    """The check above can fail: dropping the mean cross term (the old 'kernels add' rule) is
    rejected by the same ensemble at many standard errors."""
    from mftsym.layers.state import KernelState
    layers, shape, _ = CASES["post_activation_1d"]
    spec = spec_of(layers, shape, "ntk")
    x = inputs(spec, p=3, seed=1)
    mean, se = mc_readout_kernel(spec, x, 64, 120, seed=2)
    mf._derive_kernels_cached.cache_clear()
    monkeypatch.setattr(KernelState, "mean_is_zero", property(lambda self: True))
    try:
        naive = mf.kernel(spec, x)
    finally:
        mf._derive_kernels_cached.cache_clear()
    assert np.min(np.abs(mean - naive) / se) > 2 * MC_SIGMAS


@pytest.mark.parametrize("case,parametrization,width", [
    ("issue_example", "ntk", 512),
    pytest.param("post_activation_2d", "ntk", 512, marks=pytest.mark.slow),
    ("post_activation_1d", "standard", 1024),      # the standard NTK (~ n K) converges slowly: 9% at 512, 3% at 1024
])
def test_ntk_matches_empirical_ntk(case, parametrization, width):
    layers, shape, _ = CASES[case]
    spec = spec_of(layers, shape, parametrization)
    x = inputs(spec, p=3, seed=3)
    theta = mf.kernel(spec, x, kind="ntk", params={"C": width})
    emp = empirical_ntk(spec, x, width=width, seeds=(0, 1))
    assert np.max(np.abs(emp - theta)) <= EMPIRICAL_NTK_RTOL * np.max(np.abs(theta)), (theta, emp)


def test_means_of_activations_closed_forms():
    K = sp.Symbol("K", positive=True)
    assert sp.simplify(mean_of(sp.Max(X, 0), K, "auto") - sp.sqrt(K / (2 * sp.pi))) == 0
    assert mean_of(sp.erf(X), K, "auto") == 0
    assert mean_of(sp.tanh(X), K, "auto") == 0
    assert sp.simplify(mean_of(X ** 2 + X, K, "auto") - K) == 0        # Wick: E[u^2] = K


def test_residual_cross_term_in_the_derivation():
    spec = spec_of(CASES["post_activation_1d"][0], [5, 2], params={"C": 8})
    der = mf.derive_kernels(spec)
    residual = [d for d in der.definitions if d.symbol.name.startswith("R")]
    means = {d.symbol: d.expr for d in der.definitions if d.symbol.name.startswith("mu")}
    assert len(residual) == 3 and len(means) == 4                      # m_x, m_x', m_b, m_b'
    # R_12 = K_x,12 + s^2 K_b,12 + s (m_x m_b' + m_b m_x'), every mean sqrt(K_ii / (2 pi))
    r12 = residual[1].expr
    cross = r12.subs({s: 0 for s in r12.free_symbols if s not in means})
    assert len(cross.free_symbols) == 4 and cross.is_Add
    for m in means.values():
        (k,) = m.free_symbols
        assert sp.simplify(m - sp.sqrt(k / (2 * sp.pi))) == 0
    assert any(r"\mu" in d.latex_name for d in der.definitions)


@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
def test_post_activation_residual_with_scale_zero_is_the_identity(parametrization):
    base = [conv(kernel=[3]), act("relu")]
    block = {"type": "residual", "scale": 0, "branch": [conv(kernel=[3]), act("relu")]}
    tail = [{"type": "flatten"}, READOUT]
    x = inputs(spec_of(base + tail, [5, 2]), p=3, seed=4)
    for kind in ("nngp", "ntk"):
        a = mf.kernel(spec_of(base + [block] + tail, [5, 2], parametrization), x, kind=kind, params={"C": 10})
        b = mf.kernel(spec_of(base + tail, [5, 2], parametrization), x, kind=kind, params={"C": 10})
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_layernorm_of_post_activation_features_has_unit_diagonal():
    layers = [conv(kernel=[3]), act("relu"), {"type": "residual", "branch": [conv(kernel=[3]), act("relu")]},
              {"type": "layer_norm"}, {"type": "flatten"}, {**READOUT, "bias_var": 0}]
    spec = spec_of(layers, [5, 2])
    x = inputs(spec, p=3, seed=5)
    k = mf.kernel(spec, x)
    assert np.allclose(np.diag(k), 1.0, rtol=1e-12)                   # readout weight_var 1, no bias


@pytest.mark.parametrize("layers,match", [
    # relu(x + F(x)) (the original post-activation ResNet ordering): the nonlinearity acts on a sum of a
    # post-ReLU skip and a Gaussian branch, which is not Gaussian
    ([conv(kernel=[3]), act("relu"), {"type": "residual", "branch": [conv(kernel=[3]), act("relu"), conv(kernel=[3])]},
      act("relu")], "not zero-mean Gaussian"),
    ([{"type": "residual", "branch": [conv(kernel=[3], width=2), act("relu")]}], "raw input"),
    ([conv(kernel=[3]), act("relu"), {"type": "residual", "branch": [{"type": "layer_norm"}]}], "no dense/conv/attention"),
])
def test_the_limits_that_are_not_available_raise(layers, match):
    with pytest.raises(SpecError, match=match):
        mf.derive_kernels(spec_of(layers + [{"type": "flatten"}, READOUT], [5, 2], params={"C": 4}))


def test_numpy_and_torch_backends_agree_on_the_mean_operators():
    spec = spec_of(ISSUE_EXAMPLE, [4, 4, 2], params={"C": 16})
    x = inputs(spec, p=3, seed=6)
    for kind in ("nngp", "ntk"):
        a = mf.kernel(spec, x, kind=kind)
        b = mf.kernel(spec, x, kind=kind, backend="torch")
        assert np.allclose(a, np.asarray(b), rtol=1e-10, atol=1e-12)
