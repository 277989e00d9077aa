"""Checks of neurons.py (study B3) against independent references; run explicitly:
    python -m pytest -q validation/study_curse_of_detail/test_neurons.py -p no:cacheprovider   (~10 s)
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from neurons import HE3_C, NeuronTrace, chain_statistics, m_frac, neuron_weights, participation, prior_m_eff  # noqa: E402
from run import spec  # noqa: E402
from mftsym.validate.data import teacher_data  # noqa: E402
from mftsym.validate.runner import run_ensemble  # noqa: E402


def _run(steps, burn_in, thin, n_test=200, d=6, N=12, P=40, seed=3):
    torch.set_num_threads(1)
    data = teacher_data(P, n_test, d, teacher="hermite", degree=3, seed=seed)
    tr = NeuronTrace(step_size=2e-3, steps=steps, burn_in=burn_in, thin=thin,
                     rao_blackwell=False).with_direction(data.teacher_direction)
    return data, run_ensemble(spec(), data, N, 3, tr, seed=seed, dtype="float64")


def test_last_sample_equals_runner_final_state():
    # one recorded sample, at the last step: the trace must equal the runner's own final-state overlaps
    _, r = _run(steps=60, burn_in=59, thin=1)
    assert r["trace_overlap"].shape == (3, 1, 12)
    np.testing.assert_allclose(r["trace_overlap"][:, 0], r["overlap"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r["trace_norm2"][:, 0], r["norm2"], rtol=1e-5)


def test_trace_counts_and_chain_is_unchanged():
    # the subclass records the same samples as the base sampler and does not alter the chain
    from mftsym.validate.langevin import Langevin
    data, r = _run(steps=80, burn_in=40, thin=10)
    assert r["trace_overlap"].shape[1] == r["n_samples"] == 4
    base = run_ensemble(spec(), data, 12, 3, Langevin(step_size=2e-3, steps=80, burn_in=40, thin=10,
                                                      rao_blackwell=False), seed=3, dtype="float64")
    np.testing.assert_allclose(r["mean_f"], base["mean_f"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r["overlap"], base["overlap"], rtol=1e-12)
    st = chain_statistics(r)
    assert len(st["m_eff"]) == 3 and all(1 <= m <= 12 for m in st["m_eff"])


def test_readout_trace_matches_runner_readout_norm():
    # qbar is the runner's own mean squared readout over its prior variance (one sample: the last state)
    _, r = _run(steps=60, burn_in=59, thin=1)
    a2 = (r["trace_readout"][:, 0].astype(float) ** 2).mean(1)
    np.testing.assert_allclose(a2 / (1 / 12), r["qbar"], rtol=1e-5)


def test_he3_share_is_the_networks_target_component():
    # readout and formula together: sum_i a_i HE3_C t_i/a_i = E[f(x) He3(w*.x)], f = sum_i a_i erf(w_i.x);
    # reference: the network's own output at the (single, last) sample on 4000 Gaussian test points
    data, r = _run(steps=1500, burn_in=1499, thin=1, n_test=4000)     # long enough to have learned He3
    w = np.asarray(data.teacher_direction, float)
    z = data.x_test @ w
    he3 = z**3 - 3 * z
    mc = (r["mean_f"][..., 0] * he3).mean(1)                          # (members,)
    mc_se = (r["mean_f"][..., 0] * he3).std(1) / math.sqrt(len(z))
    _, t = neuron_weights(r["trace_overlap"][:, 0], r["trace_norm2"][:, 0], r["trace_readout"][:, 0])
    exact = HE3_C * t.sum(-1)
    assert np.all(np.abs(mc - exact) < 4 * mc_se), (mc, exact, mc_se)
    assert np.all(np.abs(exact) > 2 * mc_se)          # the check has power: the component is resolved


def test_he3_formula_monte_carlo():
    from scipy.special import erf
    rng = np.random.default_rng(0)
    d = 5
    x = rng.standard_normal((1_000_000, d))
    ws = np.eye(d)[0]
    for w in (np.array([0.9, 0.3, 0, 0, 0.2]), np.array([-0.4, 1.1, 0.5, 0, 0])):
        z = x @ ws
        mc = np.mean(erf(x @ w) * (z**3 - 3 * z))
        exact = HE3_C * (w @ ws) ** 3 / (1 + 2 * w @ w) ** 1.5
        assert abs(mc - exact) < 5e-3, (mc, exact)


def test_participation_and_fraction():
    q = np.zeros(50)
    q[:7] = 2.5
    assert participation(q) == pytest.approx(7)
    assert m_frac(q, 0.5) == 4                     # 4 of 7 equal weights carry >= half
    q = np.array([8.0, 1, 1, 0, 0])
    assert m_frac(q, 0.5) == 1 and participation(q) == pytest.approx(100 / 66)


def test_prior_m_eff_matches_closed_form():
    # E q = 1/d, E q^2 = 9/(d(d+2)) under the prior: M_eff -> N (d+2)/(9d) as N -> oo (heavy-tailed
    # sum q^2 makes the mean of the ratio converge slowly: +6.5 % at N = 512, -1.5 % at N = 32768)
    for d in (8, 16):
        m, _ = prior_m_eff(d, 32768, draws=10)
        assert m == pytest.approx(32768 * (d + 2) / (9 * d), rel=0.04)
