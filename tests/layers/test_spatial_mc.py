"""Kernels of spatial layers against finite torch networks built from the same spec.

NNGP: the mean over random networks of the output covariance given the readout's input (a
Rao-Blackwellised estimator), within MC_SIGMAS standard errors plus the O(1/n) finite-width bias.
NTK: the empirical NTK from autograd of a few wide networks.  Several cases per layer type, in
the ntk and standard parametrizations.
"""

import numpy as np
import pytest
import torch

import mftsym as mf
from tests.layers._spatial import act, conv, dense, empirical_ntk, inputs, mc_readout_kernel, spec_of
from tests.tolerances import EMPIRICAL_NTK_RTOL, MC_SIGMAS, MC_WIDTH_BIAS

torch.set_num_threads(1)

READOUT = {"type": "dense", "width": 1, "weight_var": 1.0, "bias_var": 0.1}

CASES = {
    # conv 1-D, valid padding, stride 2, flatten (position diagonal only)
    "conv1d_valid_stride_flatten": ([conv(kernel=[3], stride=[2], padding="valid"), act("erf"),
                                     {"type": "flatten"}, READOUT], [9, 2]),
    # conv 2-D, same padding, relu, global average pooling (all position pairs)
    "conv2d_same_gap": ([conv(padding="same"), act("relu"), {"type": "global_avg_pool"}, READOUT], [4, 4, 2]),
    # circular padding, two convs, average pooling with same padding, flatten
    "conv_circular_avgpool": ([conv(kernel=[2, 3], padding="circular"), act("erf"),
                               conv(kernel=[3, 1], padding="valid", stride=[1, 2]), act("relu"),
                               {"type": "avg_pool", "window": [2, 2], "stride": [1, 1], "padding": "same"},
                               {"type": "flatten"}, READOUT], [4, 5, 2]),
    # dense on channels at every position, LayerNorm, 1-D sequence, global pooling
    "dense_layernorm_sequence": ([dense(), {"type": "layer_norm"}, act("relu"), dense(), {"type": "layer_norm"},
                                  {"type": "global_avg_pool"}, READOUT], [5, 3]),
    # ResNet block: skip + 0.7 * (conv -> relu -> conv)
    "residual_block": ([conv(kernel=[3, 3]), act("relu"),
                        {"type": "residual", "scale": 0.7,
                         "branch": [conv(kernel=[3, 3], bias_var=0.0), act("relu"), conv(kernel=[1, 1])]},
                        {"type": "global_avg_pool"}, READOUT], [3, 3, 2]),
    # pre-activation block on a Gaussian skip: x + (relu -> conv -> relu -> conv)(x)
    "preactivation_residual": ([conv(kernel=[3]),
                                {"type": "residual", "branch": [act("relu"), conv(kernel=[3]), act("relu"),
                                                                conv(kernel=[3])]},
                                {"type": "flatten"}, READOUT], [5, 2]),
}


@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
@pytest.mark.parametrize("case", list(CASES))
def test_nngp_matches_random_networks(case, parametrization):
    layers, shape = CASES[case]
    spec = spec_of(layers, shape, parametrization)
    x = inputs(spec, p=3, seed=1)
    k = mf.kernel(spec, x)
    width, members = 64, 120
    mean, se = mc_readout_kernel(spec, x, width, members, seed=2)
    allowed = MC_SIGMAS * se + MC_WIDTH_BIAS * np.abs(k) / width
    assert np.all(np.abs(mean - k) <= allowed), (k, mean, se)


@pytest.mark.parametrize("case,parametrization", [("conv1d_valid_stride_flatten", "ntk"),
                                                  ("conv2d_same_gap", "standard"),
                                                  ("dense_layernorm_sequence", "ntk"),
                                                  ("residual_block", "standard")])
def test_ntk_matches_empirical_ntk(case, parametrization):
    layers, shape = CASES[case]
    spec = spec_of(layers, shape, parametrization)
    x = inputs(spec, p=3, seed=3)
    width = 512
    theta = mf.kernel(spec, x, kind="ntk", params={"C": width})   # the standard NTK depends on the width
    emp = empirical_ntk(spec, x, width=width, seeds=(0, 1))
    assert np.max(np.abs(emp - theta)) <= EMPIRICAL_NTK_RTOL * np.max(np.abs(theta)), (theta, emp)
