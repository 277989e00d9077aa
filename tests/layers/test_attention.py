"""Global self-attention (Hron et al. 2020): kernels against finite torch attention networks built
from the same spec, exact limits, and the clear error where no closed form exists."""

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.errors import SpecError
from tests.layers._spatial import act, dense, empirical_ntk, inputs, mc_readout_kernel, spec_of
from tests.tolerances import BACKEND_RTOL, EMPIRICAL_NTK_RTOL, MC_SIGMAS, MC_WIDTH_BIAS

torch.set_num_threads(1)

READOUT = {"type": "dense", "width": 1, "weight_var": 1.0, "bias_var": 0.1}


def attention(mechanism="softmax", scaling="linear", **kw):
    d = {"type": "attention", "width": "C", "heads": "H", "key_width": "Nk", "value_width": "C",
         "query_var": 1.5, "key_var": 2.0, "value_var": 1.2, "out_var": 0.9, "mechanism": mechanism,
         "logit_scaling": scaling}
    d.update(kw)
    return d


def transformer_block(mechanism="softmax", scaling="linear"):
    """embedding -> [x + attention(LN x)] -> [x + MLP(LN x)] -> global average pooling -> readout."""
    return [dense(), {"type": "residual", "branch": [{"type": "layer_norm"}, attention(mechanism, scaling)]},
            {"type": "residual", "branch": [{"type": "layer_norm"}, dense(), act("relu"), dense()]},
            {"type": "global_avg_pool"}, READOUT]


@pytest.mark.parametrize("mechanism,scaling,shape", [("softmax", "linear", [4, 3]), ("identity", "linear", [2, 3]),
                                                     ("relu", "linear", [2, 3]), ("abs", "linear", [2, 3]),
                                                     ("identity", "sqrt", [2, 3])])
def test_nngp_matches_random_attention_networks(mechanism, scaling, shape):
    layers = [dense(), attention(mechanism, scaling), {"type": "global_avg_pool"}, READOUT]
    spec = spec_of(layers, shape)
    x = inputs(spec, p=3, seed=4)
    k = mf.kernel(spec, x, params={"H": 1, "C": 1, "Nk": 1})
    width = 128
    mean, se = mc_readout_kernel(spec, x, {"C": width, "H": 4, "Nk": width}, 40, seed=5)
    # the attention output is cubic in the (fluctuating) input kernel, summed over S^2 position pairs:
    # its finite-width bias is O(S^2 / n)
    s2 = np.prod(shape[:-1]) ** 2
    allowed = MC_SIGMAS * se + MC_WIDTH_BIAS * s2 * np.abs(k) / width
    assert np.all(np.abs(mean - k) <= allowed), (k, mean, se)


def test_transformer_block_nngp_matches_random_networks():
    spec = spec_of(transformer_block(), [4, 3])
    x = inputs(spec, p=3, seed=6)
    k = mf.kernel(spec, x, params={"H": 1, "C": 1, "Nk": 1})
    width = 64
    mean, se = mc_readout_kernel(spec, x, {"C": width, "H": 8, "Nk": width}, 60, seed=7)
    allowed = MC_SIGMAS * se + MC_WIDTH_BIAS * 16 * np.abs(k) / width
    assert np.all(np.abs(mean - k) <= allowed), (k, mean, se)


def test_attention_ntk_matches_empirical_ntk():
    spec = spec_of([dense(), attention(), {"type": "global_avg_pool"}, READOUT], [3, 2])
    x = inputs(spec, p=3, seed=8)
    theta = mf.kernel(spec, x, kind="ntk", params={"H": 1, "C": 1, "Nk": 1})
    emp = empirical_ntk(spec, x, {"C": 192, "H": 32, "Nk": 96}, seeds=(0, 1))
    assert np.max(np.abs(emp - theta)) <= 2 * EMPIRICAL_NTK_RTOL * np.max(np.abs(theta)), (theta, emp)


def test_softmax_attention_on_one_position_is_a_dense_layer():
    """One key position: softmax weights are 1, the layer is y = W^O W^V x: K' = v o K + C_b."""
    att = attention(bias_var=0.3)
    with_att = spec_of([dense(), act("erf"), att, act("relu"), {"type": "flatten"}, READOUT], [1, 3])
    with_dense = spec_of([dense(), act("erf"), dense(weight_var=1.2 * 0.9, bias_var=0.3), act("relu"),
                          {"type": "flatten"}, READOUT], [1, 3])
    x = inputs(with_att, p=4)
    a = mf.kernel(with_att, x, params={"H": 1, "C": 1, "Nk": 1})
    b = mf.kernel(with_dense, x, params={"H": 1, "C": 1, "Nk": 1})
    assert np.allclose(a, b, rtol=BACKEND_RTOL)


def test_identity_attention_on_one_position_is_a_linear_layer_in_the_values():
    """One position, identity mechanism, linear scaling: y = G(x) W^O W^V x with the scalar logit
    G(x) = sqrt(q k) K(x,x): a dense layer whose output is scaled by the input's own kernel,
    K' = v o q k K(x,x) K(x,x') K(x',x') + C_b."""
    spec = spec_of([dense(weight_var=1.3, bias_var=0.2), attention("identity"), {"type": "flatten"}], [1, 3])
    x = inputs(spec, p=3)
    k = mf.kernel(spec, x, params={"H": 1, "C": 1, "Nk": 1})
    k0 = 1.3 * (x[:, 0] @ x[:, 0].T) / 3 + 0.2
    d = np.diag(k0)
    assert np.allclose(k, 1.2 * 0.9 * 1.5 * 2.0 * d[:, None] * k0 * d[None, :], rtol=BACKEND_RTOL)


def test_numpy_and_torch_agree_on_a_transformer_block():
    spec = spec_of(transformer_block(), [3, 2])
    x = inputs(spec, p=3)
    a = mf.kernel(spec, x, kind=("nngp", "ntk"), params={"H": 1, "C": 1, "Nk": 1})
    b = mf.kernel(spec, torch.as_tensor(x), kind=("nngp", "ntk"), params={"H": 1, "C": 1, "Nk": 1},
                  backend="torch")
    for u, v in zip(a, b):
        assert np.allclose(u, v.numpy(), rtol=BACKEND_RTOL)


@pytest.mark.parametrize("mechanism", ["softmax", "relu", "abs"])
def test_sqrt_scaling_without_a_closed_form_is_a_clear_error(mechanism):
    spec = spec_of([dense(), attention(mechanism, "sqrt"), {"type": "global_avg_pool"}, READOUT], [3, 2])
    with pytest.raises(SpecError, match="no closed-form infinite-width kernel"):
        mf.derive_kernels(spec)


def test_attention_in_the_mean_field_parametrization_is_a_clear_error():
    spec = spec_of([dense(), attention(), {"type": "global_avg_pool"}, READOUT], [3, 2], "mean_field")
    with pytest.raises(SpecError, match="ntk and standard parametrizations"):
        mf.derive_kernels(spec)


def test_transformer_latex():
    tex = mf.derive_kernels(spec_of(transformer_block(), [4, 3])).latex()
    assert r"\operatorname{softmax}_{t}" in tex and r"\sum_{t,t'}" in tex
