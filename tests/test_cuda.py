"""The torch paths on a CUDA device agree with the CPU ones (skipped where there is no GPU).

Run on a GPU machine with ``python -m pytest tests/test_cuda.py``; the default suite skips it.
"""

import json

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.solve.renormalization import prepare, solve_batch
from mftsym.validate import Langevin, gp_posterior, run_ensemble, teacher_data
from mftsym.validate.fast import TwoLayerGrad
from mftsym.validate.observables import mean_and_se
from mftsym.validate.theory import kernel_matrix
from mftsym.validate.torch_network import EnsembleNetwork, member_generators, network_plan
from tests.solve.conftest import make_spec as solve_spec
from tests.tolerances import BACKEND_RTOL, MC_SIGMAS
from tests.validate.conftest import linear_model_spec, make_spec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_kernels_on_cuda_match_numpy(act):
    spec = make_spec(act, depth=3)
    rng = np.random.default_rng(0)
    x, x2 = rng.standard_normal((300, 7)), rng.standard_normal((200, 7))
    for args in ((x, x2), (x, None)):            # the general and the symmetric K(X, X) path
        ref = mf.kernel(spec, *args, kind=("nngp", "ntk"), params={"N1": 1})
        got = mf.kernel(spec, *args, kind=("nngp", "ntk"), params={"N1": 1}, backend="torch", device="cuda")
        for r, g in zip(ref, got):
            assert g.device.type == "cuda"
            g = g.cpu().numpy()
            off = ~np.eye(*r.shape, dtype=bool) if args[1] is None else np.ones(r.shape, bool)
            np.testing.assert_allclose(g[off], r[off], rtol=BACKEND_RTOL, atol=1e-13)
            # at coincident points (rho = 1) acos-type closed forms lose digits in every backend
            np.testing.assert_allclose(g[~off], r[~off], rtol=1e-6)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("act", ["erf", "tanh", "relu"])
def test_hand_written_gradients_on_cuda_match_cpu_autograd(act, dtype, tol):
    spec = make_spec(act, bias_var=0.1)
    plan = network_plan(spec, 33, 5)
    cpu = EnsembleNetwork(plan, 4)
    params = cpu.init_params(member_generators(0, 4))
    x, y = torch.randn(11, 5, dtype=torch.float64), torch.randn(11, 1, dtype=torch.float64)
    ps = [p.clone().requires_grad_(True) for p in params]
    ref_loss = 0.5 * ((cpu.forward(ps, x) - y) ** 2).flatten(1).sum(1)
    ref = torch.autograd.grad(ref_loss.sum(), ps)
    gpu = EnsembleNetwork(plan, 4, dtype, "cuda")
    loss, grads = TwoLayerGrad(gpu, x.to("cuda", dtype), y.to("cuda", dtype))([p.to("cuda", dtype) for p in params])
    torch.testing.assert_close(loss.cpu().double(), ref_loss.detach(), rtol=tol, atol=tol)
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g.cpu().double(), r, rtol=tol, atol=tol)


def test_init_covariance_on_cuda_matches_nngp():
    spec, X, M = make_spec("erf", 2), np.array([[1.0, 0.5, -0.3], [-0.7, 1.2, 0.4]]), 20000
    ens = EnsembleNetwork(network_plan(spec, 32, 3), M, device="cuda")
    params = ens.init_params(member_generators(7, M, device="cuda"))
    with torch.no_grad():
        f = ens.forward(params, torch.as_tensor(X, device="cuda"))[..., 0].cpu().numpy()
    prods = f[:, :, None] * f[:, None, :]
    K, _ = kernel_matrix(spec.with_params(N1=32), X, kind="nngp")
    z = (prods.mean(0) - K) / (prods.std(0, ddof=1) / np.sqrt(M))
    assert np.max(np.abs(z)) < MC_SIGMAS, z


def test_langevin_on_cuda_matches_gp_posterior():
    spec = linear_model_spec(noise_var=0.1)
    data = teacher_data(6, 5, 3, noise_var=0.05, seed=3)
    tr = Langevin(step_size=3e-3, steps=6000, burn_in=1000, thin=5)      # noise="auto": chunk on CUDA
    out = run_ensemble(spec, data, None, 64, tr, seed=1, device="cuda")
    mean, se = mean_and_se(out["mean_f"])
    z = (mean - gp_posterior(spec, data, tr)["mean"]) / se
    assert np.max(np.abs(z)) < MC_SIGMAS, z


def test_checkpoint_resume_on_cuda_is_identical(tmp_path):
    spec, data = make_spec("erf", 1, "ntk"), teacher_data(6, 4, 3, seed=0)
    tr = Langevin(step_size=2e-3, steps=120, burn_in=20, thin=5)
    ref = run_ensemble(spec, data, 32, 3, tr, seed=5, device="cuda")
    ck = tmp_path / "ck"
    run_ensemble(spec, data, 32, 3, tr, seed=5, device="cuda", checkpoint_dir=ck, checkpoint_every=25,
                 _stop_at_step=60)
    assert json.loads((ck / "latest.json").read_text())["step"] == 50
    resumed = run_ensemble(spec, data, 32, 3, tr, seed=5, device="cuda", checkpoint_dir=ck, checkpoint_every=25)
    for key in ("mean_f", "mean_f2", "train_loss"):
        np.testing.assert_array_equal(ref[key], resumed[key])


def test_batched_saddle_solve_on_cuda_matches_cpu():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    y = np.tanh(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]
    problem = prepare(solve_spec(), x, y)
    noises = np.array([1e-3, 0.03, 0.3, 3.0])
    cpu = solve_batch(problem, {"noise": noises})
    gpu = solve_batch(problem, {"noise": noises}, device="cuda")
    for c, g in zip(cpu, gpu):
        assert g.converged
        assert g.order_parameters["u1"] == pytest.approx(c.order_parameters["u1"], rel=1e-10)


def test_compiled_kernel_on_cuda_matches_eager():
    import warnings

    from mftsym.compile import kernel_fn
    spec = make_spec("erf", depth=2)
    x = torch.randn(64, 5, dtype=torch.float64, device="cuda")
    args = dict(derivation=mf.derive_kernels(spec), network=spec.network, x=x, kind=("nngp", "ntk"),
                params={**spec.params, "N1": 1}, backend="torch")
    eager = kernel_fn.evaluate_kernel(**args, torch_compile=False)
    with warnings.catch_warnings():             # a failed compile would only warn and fall back
        warnings.filterwarnings("error", message="torch.compile of the kernel chain failed")
        fused = kernel_fn.evaluate_kernel(**args, torch_compile=True)
    for e, f in zip(eager, fused):
        assert f.device.type == "cuda"
        torch.testing.assert_close(f, e, rtol=1e-10, atol=1e-12)


def test_main_job_on_cuda(tmp_path):
    from mftsym.cli import main
    assert main(["run", "example:two_layer_erf", "--out", str(tmp_path), "--widths", "8,16", "--ensemble", "4",
                 "--steps", "400", "--device", "cuda", "--no-progress"]) == 0
    report = json.loads((tmp_path / "validation" / "report.json").read_text())
    assert [w["members"] for w in report["widths"]] == [4, 4]
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(5, 8)))
    assert main(["kernel", "example:two_layer_erf", "--x", str(tmp_path / "x.npy"), "--backend", "torch",
                 "--device", "cuda", "--out", str(tmp_path / "k.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), mf.kernel(mf.example_spec(), np.load(tmp_path / "x.npy")),
                               rtol=BACKEND_RTOL)


def test_nnft_contraction_sampling_on_cuda_agrees_with_tensor_path():
    from mftsym.nnft import predict
    from tests.nnft._specs import make_spec as nnft_spec
    rng = np.random.default_rng(1)
    xtr, xte, y = rng.normal(size=(5, 3)), rng.normal(size=(2, 3)), rng.normal(size=5)
    spec = nnft_spec("erf", N=8)
    a = predict(spec, xtr, y, xte, 0.3, method="tensor")
    t = predict(spec, xtr, y, xte, 0.3, method="contract", device="cuda")
    for k in ("correction", "var_correction"):
        assert np.all(np.abs(t[k] - a[k]) < MC_SIGMAS * t[k + "_se"]), (k, a[k], t[k], t[k + "_se"])
