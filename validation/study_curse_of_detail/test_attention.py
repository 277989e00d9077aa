"""Smoke checks of study D (attention.py): the target is a cubic of the token that the network reads
as its first position, and the derived law the study tests is the one mftsym.scaling returns.

    python -m pytest -q validation/study_curse_of_detail/test_attention.py -p no:cacheprovider
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import attention as study  # noqa: E402
from mftsym.validate.torch_network import EnsembleNetwork, member_generators  # noqa: E402


def test_target_is_he3_of_the_first_token_as_the_network_reads_it():
    L, d = 5, 2
    data = study.token_data(20000, 10, L, d, seed=3)
    x, y = data.x_train, data.y_train[:, 0]
    # He3(z)/sqrt(6) has unit variance (Monte Carlo, 5 standard errors; y^2 is heavy tailed)
    assert abs(np.mean(y**2) - 1) < 5 * np.std(y**2) / np.sqrt(len(y))
    net = EnsembleNetwork.from_spec(study.spec(L, d), 2, width=3, dtype=torch.float64)
    params = net.init_params(member_generators(0, 2))
    xt = torch.as_tensor(x[:64])

    def first_position(xx):
        hidden = []
        net.plan.forward(params, xx, hidden=hidden)
        return hidden[0][:, :, 0]                                 # (members, P, channels) at position 1

    h0 = first_position(xt)
    tokens = xt.reshape(64, L, d)
    rest = torch.cat([tokens[:, :1], tokens[:, 1:].flip(1)], 1).reshape(64, L * d)
    swap = torch.cat([tokens[:, 1:2], tokens[:, :1], tokens[:, 2:]], 1).reshape(64, L * d)
    # position 1 attends over the set of tokens with x_1 as its query: the other tokens' order does
    # not matter, exchanging x_1 with another token does
    assert torch.allclose(first_position(rest), h0, atol=1e-12)
    assert not torch.allclose(first_position(swap), h0, atol=1e-3)
    # and the target is a function of that token, the first d entries of a flattened input
    # (an exact polynomial of degree 3 in x[:, 0], x[:, 1]: least squares leaves no residual)
    a, b = x[:, 0], x[:, 1]
    feats = np.c_[a**3, a**2 * b, a * b**2, b**3, a, b]
    resid = y - feats @ np.linalg.lstsq(feats, y, rcond=None)[0]
    assert np.mean(resid**2) < 1e-12
    other = np.c_[x[:, d:2 * d] ** 3, x[:, d:2 * d]]                # the second token explains nothing
    resid2 = y - other @ np.linalg.lstsq(other, y, rcond=None)[0]
    assert np.mean(resid2**2) > 0.9 * np.mean(y**2)


def test_design_is_in_the_derived_attn_spec_phase():
    rows = study.derived_table()
    for r in rows:
        assert r["winners"] == ["attn+spec1"]
        assert r["P_star_over_kappa"] == ["L**(1/3)*N**(1/3)*d**(1/3)"]     # exponent 1/3 in L
        assert r["pattern_costs"]["attn+spec1"] < min(v for k, v in r["pattern_costs"].items() if k != "attn+spec1")
