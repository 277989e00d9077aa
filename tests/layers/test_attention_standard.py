"""Attention in the standard parametrization (linear logit scaling): the NNGP against random finite
networks, the NTK against empirical NTKs from autograd, and the key-weight term of the NTK
(AttentionKeyNTK, which only the standard parametrization keeps) against the Jacobian of one
attention layer by its key weights."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

import mftsym as mf
from mftsym.errors import SpecError
from mftsym.layers.operators import MECHANISMS, AttentionKeyNTK
from tests.layers._spatial import dense, empirical_ntk, inputs, mc_readout_kernel, spec_of
from tests.tolerances import EMPIRICAL_NTK_RTOL, MC_SIGMAS, MC_WIDTH_BIAS

torch.set_num_threads(1)


def attention(mechanism="softmax", **kw):
    d = {"type": "attention", "width": "C", "heads": 2, "key_width": "C", "value_width": "C", "query_var": 1.5,
         "key_var": 1.2, "value_var": 0.8, "out_var": 1.3, "bias_var": 0.05, "mechanism": mechanism}
    d.update(kw)
    return d


def network(mechanism):
    return [dense(weight_var=1.3, bias_var=0.2), attention(mechanism), {"type": "global_avg_pool"},
            {"type": "dense", "width": 1, "weight_var": 1.1, "bias_var": 0.1}]


@pytest.mark.parametrize("mechanism", ["softmax", "relu"])
def test_nngp_matches_random_networks(mechanism):
    spec = spec_of(network(mechanism), [4, 3], "standard")
    x = inputs(spec, p=3, seed=1)
    k = mf.kernel(spec, x)
    assert np.allclose(k, mf.kernel(spec_of(network(mechanism), [4, 3], "ntk"), x), rtol=1e-12)
    mean, se = mc_readout_kernel(spec, x, 64, 120, seed=2)
    assert np.all(np.abs(mean - k) <= MC_SIGMAS * se + MC_WIDTH_BIAS * np.abs(k) * 4 / 64), (k, mean, se)


def test_ntk_matches_empirical_ntk():
    spec = spec_of(network("softmax"), [4, 3], "standard")
    x = inputs(spec, p=3, seed=3)
    width = 512
    theta = mf.kernel(spec, x, kind="ntk", params={"C": width})
    emp = empirical_ntk(spec, x, width=width, seeds=(0, 1))
    assert np.max(np.abs(emp - theta)) <= EMPIRICAL_NTK_RTOL * np.max(np.abs(theta)), (theta, emp)


@pytest.mark.parametrize("mechanism", ["softmax", "identity"])
def test_key_weight_term_matches_the_jacobian_of_one_layer(mechanism):
    """mean_i <d y_i(x,s)/d W^K, d y_i(x',s')/d W^K> of one head with standard priors, over draws of
    (W^K, W^V, W^O) at fixed inputs, vs 2 v o sqrt(qk) (C/n_k) T[K; G_x, G_x'] with K the inputs' own kernel."""
    S, C, nk, nv, nout, draws = 3, 256, 128, 32, 32, 32
    v, o, s2 = 0.8, 1.3, 1.2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, S, C, generator=g, dtype=torch.float64)
    x[1] = 0.8 * x[0] + 0.6 * x[1]
    K = (torch.einsum("psc,qtc->pqst", x, x) / C).numpy()
    op = AttentionKeyNTK(sp.Symbol("K"), sp.Symbol("G"), sp.Symbol("H"), sp.Tuple(S), MECHANISMS.index(mechanism))
    T = op.numeric()(K[0:1, 1:2], s2 * K[0:1, 0:1], s2 * K[1:2, 1:2])[0, 0]
    theory = 2 * v * o * s2 * C / nk * T
    mech = {"softmax": lambda a: torch.softmax(a, -1), "identity": lambda a: a}[mechanism]
    samples = []
    for _ in range(draws):
        WV = torch.randn(C, nv, generator=g, dtype=torch.float64) * math.sqrt(v / C)
        WO = torch.randn(nv, nout, generator=g, dtype=torch.float64) * math.sqrt(o / nv)
        WK0 = torch.randn(C, nk, generator=g, dtype=torch.float64) * math.sqrt(s2 / C)

        def layer(WK):
            q = x @ WK
            return torch.einsum("pst,ptv->psv", mech(torch.einsum("psk,ptk->pst", q, q) / nk), x @ WV) @ WO

        J = torch.autograd.functional.jacobian(layer, WK0, vectorize=True).reshape(2, S, nout, -1)
        samples.append(torch.einsum("sif,tif->st", J[0], J[1]).numpy() / nout)
    mean, se = np.mean(samples, 0), np.std(samples, 0, ddof=1) / math.sqrt(draws)
    allowed = MC_SIGMAS * se + MC_WIDTH_BIAS * np.abs(theory).max() / math.sqrt(nk)
    assert np.all(np.abs(mean - theory) <= allowed), (theory, mean, se)


def test_sqrt_scaling_in_the_standard_parametrization_raises():
    spec = spec_of([dense(), attention("identity", logit_scaling="sqrt"), {"type": "global_avg_pool"},
                    {"type": "dense", "width": 1, "weight_var": 1.0}], [4, 3], "standard", params={"C": 8})
    with pytest.raises(SpecError, match="standard parametrization"):
        mf.derive_kernels(spec)
