"""Local kernel renormalization of one-hidden-layer CNNs (docs/theory/local_kernel_renormalization.md)."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.errors import SpecError
from mftsym.solve import local_renormalization as lr
from mftsym.solve.api import solve
from mftsym.solve.derive import derive_theory
from mftsym.solve.gp import solve_gp
from mftsym.solve.renormalization import solve_kernel_renormalization

from tests.tolerances import BACKEND_RTOL, LKR_PEER_RTOL, LKR_REDUCTION_RTOL

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
DEEPBAYS_PYTHON = ROOT / "benchmarks" / ".deepbays-venv" / "bin" / "python"


def cnn_spec(shape=(4, 4, 1), kernel=(2, 2), stride=(2, 2), padding="valid", act="erf", wv=1.0, bv=0.0,
             readout_var=1.0, C=6, noise=0.1, parametrization="ntk", readout_bias=0.0, pool="flatten"):
    conv = {"type": "conv", "width": "C", "kernel": list(kernel), "stride": list(stride), "padding": padding,
            "weight_var": wv, "bias_var": bv}
    return mf.Spec.from_dict({
        "network": {"input_shape": list(shape), "parametrization": parametrization, "layers": [
            conv, {"type": "activation", "fn": act}, {"type": pool},
            {"type": "dense", "width": 1, "weight_var": readout_var, "bias_var": readout_bias}]},
        "params": {"C": C}, "posterior": {"noise_var": noise},
        "theory": {"kind": "local_kernel_renormalization"}})


def data(shape=(4, 4, 1), P=20, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(P, *shape))
    flat = x.reshape(P, -1)
    y = np.tanh(flat[:, 0] + flat[:, 5]) + 0.3 * flat[:, -1]
    return x, y, rng.normal(size=(6, *shape))


@pytest.mark.parametrize("kw", [
    {},
    {"shape": (6, 2), "kernel": (3,), "stride": (1,), "padding": "same", "act": "relu", "bv": 0.2,
     "parametrization": "standard"},
    {"shape": (4, 4, 2), "kernel": (3, 3), "stride": (2, 2), "padding": "circular", "act": "relu", "bv": 0.1},
])
def test_identity_q_is_the_nngp(kw):
    """K_Q at Q = I is the spec's NNGP (readout weight per position and channel)."""
    spec = cnn_spec(**kw)
    x, y, xt = data(spec.network.input_shape)
    pb = lr.prepare(spec, x, y, xt)
    KI = np.einsum("iiab->ab", pb.K)
    K = mf.kernel(spec, x.reshape(len(x), -1))
    np.testing.assert_allclose(KI, K, rtol=BACKEND_RTOL, atol=1e-12)
    Kst = mf.kernel(spec, xt.reshape(len(xt), -1), x.reshape(len(x), -1))
    np.testing.assert_allclose(np.einsum("iiab->ab", pb.k_star), Kst, rtol=BACKEND_RTOL, atol=1e-12)


def test_one_patch_is_kernel_renormalization():
    """A window covering the whole input leaves one patch: Q is the scalar Q̄ of Pacelli et al."""
    spec = cnn_spec(shape=(3, 3, 2), kernel=(3, 3), stride=(1, 1), act="erf", wv=1.3, bv=0.1, readout_var=0.8,
                    C=5, noise=0.05)
    x, y, xt = data((3, 3, 2), P=25)
    sol = solve(spec, x, y, xt)
    assert sol.converged and sol.stable and sol.extras["patches"] == 1
    dense = mf.Spec.from_dict({
        "network": {"input_dim": 18, "layers": [
            {"type": "dense", "width": "N", "weight_var": 1.3, "bias_var": 0.1}, {"type": "activation", "fn": "erf"},
            {"type": "dense", "width": 1, "weight_var": 0.8}]},
        "params": {"N": 5}, "posterior": {"noise_var": 0.05}})
    kr = solve_kernel_renormalization(dense, x.reshape(25, -1), y, xt.reshape(len(xt), -1))
    rel = lambda a, b: np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))  # noqa: E731
    assert abs(sol.order_parameters["Q_1_1"] - kr.order_parameters["Q"]) <= LKR_REDUCTION_RTOL * kr.order_parameters["Q"]
    assert abs(sol.action - kr.action) <= LKR_REDUCTION_RTOL * abs(kr.action)
    assert rel(sol.prediction, kr.prediction) <= LKR_REDUCTION_RTOL
    assert rel(sol.variance, kr.variance) <= LKR_REDUCTION_RTOL
    assert abs(sol.order_parameters["Q_1_1"] - 1) > 1e-2       # a real renormalization, not the GP


def test_wide_limit_is_the_gp_with_one_over_c_approach():
    x, y, xt = data()
    gp = solve_gp(cnn_spec(C=10), x, y, xt)
    dev = {}
    for C in (1e3, 1e4, 1e9):
        sol = solve(cnn_spec(C=C), x, y, xt)
        Q = np.array(sol.extras["Q"])
        dev[C] = np.max(np.abs(Q - np.eye(len(Q))))
    assert 8 < dev[1e3] / dev[1e4] < 12            # Q - I = O(1/C)
    sol = solve(cnn_spec(C=1e9), x, y, xt)
    np.testing.assert_allclose(sol.prediction, gp.prediction, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sol.variance, gp.variance, rtol=1e-6, atol=1e-9)


def test_saddle_equation_and_local_structure():
    """The hand-written stationarity condition of the derivation holds at the solution (numpy,
    independent of the torch autograd the solver uses), the saddle is a minimum, and a target that
    lives in one patch renormalizes that patch most."""
    spec = cnn_spec(C=4, noise=0.05)
    x, _, xt = data()
    y = np.sign(x.reshape(len(x), -1)[:, 0])                     # pixel (0, 0): patch 1
    sol = solve(spec, x, y, xt)
    assert sol.converged and sol.stable
    Q = np.array(sol.extras["Q"])
    pb = lr.prepare(spec, x, y)
    A = pb.noise * np.eye(pb.P) + np.einsum("ij,ijab->ab", Q, pb.K)
    Ai = np.linalg.inv(A)
    a = Ai @ y
    G = np.einsum("ab,ijba->ij", Ai, pb.K) - np.einsum("a,ijab,b->ij", a, pb.K, a)   # σ_a²/N_p inside pb.K
    grad = 4 / 2 * (np.eye(4) - np.linalg.inv(Q)) + G / 2
    assert np.max(np.abs(grad)) < 1e-8
    assert np.argmax(np.diag(Q)) == 0 and Q[0, 0] > 1.2 * max(Q[1, 1], Q[2, 2], Q[3, 3])


def test_registry_derivation_and_alias():
    spec = cnn_spec()
    tex = derive_theory(spec)[0].latex()
    assert r"\operatorname{tr}\left(Q \right)" in tex and "K_Q" in tex
    x, y, xt = data()
    from mftsym.solve.registry import get_theory
    a = get_theory("lkr").solve(spec, x, y, xt)
    b = solve(spec, x, y, xt)
    np.testing.assert_allclose(a.prediction, b.prediction, rtol=BACKEND_RTOL)


@pytest.mark.parametrize("kw, match", [
    ({"pool": "global_avg_pool"}, "one-hidden-layer CNN"),
    ({"readout_bias": 0.1}, "readout bias_var to 0"),
    ({"parametrization": "mean_field"}, "ntk and standard"),
])
def test_unsupported_specs_are_clear_errors(kw, match):
    x, y, _ = data()
    with pytest.raises(SpecError, match=match):
        solve(cnn_spec(**kw), x, y)


@pytest.mark.skipif(not DEEPBAYS_PYTHON.exists(),
                    reason="benchmarks/.deepbays-venv is absent; build it with benchmarks/build_deepbays_venv.sh")
def test_agrees_with_deepbays_conv_1hl(tmp_path):
    """deepbays CONV_1HL (Aiudi et al.'s reference code) on the same data and prior:
    l0 = 1/weight_var, l1 = 1/readout_var, T = noise_var, Nc = C, mask = stride = 2."""
    l0, l1, T, Nc = 0.8, 1.5, 0.05, 6
    spec = cnn_spec(wv=1 / l0, readout_var=1 / l1, noise=T, C=Nc)
    x, y, xt = data(P=24)
    sol = solve(spec, x, y, xt)
    np.savez(tmp_path / "in.npz", x=x.reshape(len(x), -1), y=y, x_test=xt.reshape(len(xt), -1))
    subprocess.run([str(DEEPBAYS_PYTHON), str(ROOT / "benchmarks" / "deepbays_conv1hl.py"),
                    "--data", str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz"), "--Nc", str(Nc),
                    "--T", str(T), "--mask", "2", "--l0", str(l0), "--l1", str(l1), "--act", "erf"],
                   check=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    ref = np.load(tmp_path / "out.npz")
    assert bool(ref["converged"])
    Q = np.array(sol.extras["Q"])
    assert np.max(np.abs(Q - ref["Q"])) <= LKR_PEER_RTOL * np.max(np.abs(Q))
    assert np.max(np.abs(Q - np.diag(np.diag(Q)))) > 1e-3       # off-diagonal (non-local) entries compared too
    np.testing.assert_allclose(sol.prediction, ref["mean"], rtol=LKR_PEER_RTOL, atol=1e-9)
    np.testing.assert_allclose(sol.variance, ref["var"], rtol=LKR_PEER_RTOL, atol=1e-9)
