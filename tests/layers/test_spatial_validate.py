"""Finite CNN ensembles trained by the existing trainers (autograd path) against the GP / NTK
predictions of the same spec, through ``mftsym.validate``."""

import numpy as np
import torch

import mftsym as mf
from mftsym.validate import Dataset, GradientDescent, Langevin, validate
from tests.tolerances import MC_SIGMAS

torch.set_num_threads(1)

CNN = {"network": {"input_shape": [4, 4, 1], "layers": [
    {"type": "conv", "width": "N", "kernel": [3, 3], "weight_var": 2.0, "bias_var": 0.1},
    {"type": "activation", "fn": "erf"},
    {"type": "global_avg_pool"},
    {"type": "dense", "width": 1, "weight_var": 1.0}]}, "posterior": {"noise_var": 0.05}}


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4, 4, 1))
    y = np.sin(x.reshape(20, -1)[:, :4].sum(1, keepdims=True))
    return Dataset(x[:14], y[:14], x[14:])          # (P, H, W, C) inputs are stored flattened


def test_gradient_descent_cnn_ensemble_matches_the_ntk_predictor(tmp_path):
    rep = validate(mf.Spec.from_dict(CNN), _data(), widths=[128], ensemble=12, out_dir=tmp_path,
                   trainer=GradientDescent(lr=0.5, steps=100), progress=False, plots=False)
    obs = rep["widths"][0]["observables"]["mean"]
    z = (np.asarray(obs["experiment"]) - np.asarray(obs["theory"]["ntk"] if isinstance(obs["theory"], dict)
                                                      else obs["theory"])) / np.asarray(obs["se"])
    assert np.max(np.abs(z)) < MC_SIGMAS, z


def test_langevin_runs_on_a_cnn_against_the_gp(tmp_path):
    rep = validate(mf.Spec.from_dict(CNN), _data(), widths=[32], ensemble=4, out_dir=tmp_path,
                   trainer=Langevin(step_size=2e-3, steps=60, burn_in=20, thin=5), progress=False, plots=False)
    row = rep["widths"][0]["observables"]["mean"]
    assert np.all(np.isfinite(np.asarray(row["experiment"], dtype=float)))
    assert (tmp_path / "report.md").exists()


def test_flattened_and_spatial_inputs_give_the_same_kernel():
    spec = mf.Spec.from_dict(CNN).with_params(N=8)
    x = np.random.default_rng(1).normal(size=(3, 4, 4, 1))
    assert np.array_equal(mf.kernel(spec, x), mf.kernel(spec, x.reshape(3, -1)))


def test_solve_gp_on_a_cnn_is_the_kernel_regression():
    from mftsym.solve.api import solve
    spec = mf.Spec.from_dict({"network": {"input_shape": [4, 2], "layers": [
        {"type": "conv", "width": "C", "kernel": [2], "weight_var": 1.5}, {"type": "activation", "fn": "relu"},
        {"type": "flatten"}, {"type": "dense", "width": 1, "weight_var": 1.0}]},
        "posterior": {"noise_var": 0.1}, "theory": {"kind": "gp"}})
    x = np.random.default_rng(0).normal(size=(6, 4, 2))
    y = np.sin(x.sum((1, 2)))
    K = mf.kernel(spec, x)
    expected = K[:2] @ np.linalg.solve(K + 0.1 * np.eye(6), y)
    assert np.allclose(solve(spec, x, y, x[:2]).prediction, expected, rtol=1e-10)
