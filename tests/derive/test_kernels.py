"""The kernel chain: literature recursions, backends against each other, stability, bad input."""

import subprocess
import shutil

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

import mftsym as mf
from mftsym.errors import EvaluationError
from tests.tolerances import BACKEND_RTOL, QUADRATURE_RTOL


def deep_spec(act, depth, parametrization="ntk", d="d"):
    layers = []
    for _ in range(depth):
        layers += [mf.Dense("N", "sigma_w**2", "sigma_b**2"), mf.Activation(act)]
    layers.append(mf.Dense(1, "sigma_w**2", "sigma_b**2"))
    return mf.Spec(mf.Network(tuple(layers), input_dim=d, parametrization=parametrization),
                   params={"sigma_w": 1.4, "sigma_b": 0.3, "N": 100})


def relu_reference(x, x2, depth, cw, cb):
    """Cho & Saul arc-cosine recursion written by hand (numpy), NNGP and NTK."""
    d = x.shape[1]
    k12 = cw * x @ x2.T / d + cb
    k11 = cw * (x * x).sum(1)[:, None] / d + cb
    k22 = cw * (x2 * x2).sum(1)[None, :] / d + cb
    th = k12.copy()
    for _ in range(depth):
        rho = np.clip(k12 / np.sqrt(k11 * k22), -1, 1)
        t = np.arccos(rho)
        c12 = np.sqrt(k11 * k22) * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
        cdot = (np.pi - t) / (2 * np.pi)
        k12, k11, k22 = cw * c12 + cb, cw * k11 / 2 + cb, cw * k22 / 2 + cb
        th = k12 + cw * cdot * th
    return k12, th


def erf_reference(x, x2, depth, cw, cb):
    d = x.shape[1]
    k12 = cw * x @ x2.T / d + cb
    k11 = cw * (x * x).sum(1)[:, None] / d + cb
    k22 = cw * (x2 * x2).sum(1)[None, :] / d + cb
    th = k12.copy()
    for _ in range(depth):
        c12 = 2 / np.pi * np.arcsin(2 * k12 / np.sqrt((1 + 2 * k11) * (1 + 2 * k22)))
        cdot = 4 / np.pi / np.sqrt((1 + 2 * k11) * (1 + 2 * k22) - 4 * k12**2)
        c11 = 2 / np.pi * np.arcsin(2 * k11 / (1 + 2 * k11))
        c22 = 2 / np.pi * np.arcsin(2 * k22 / (1 + 2 * k22))
        k12, k11, k22 = cw * c12 + cb, cw * c11 + cb, cw * c22 + cb
        th = k12 + cw * cdot * th
    return k12, th


@pytest.mark.parametrize("act, ref", [("relu", relu_reference), ("erf", erf_reference)])
def test_deep_closed_form_recursions(act, ref):
    rng = np.random.default_rng(0)
    x, x2 = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    spec = deep_spec(act, 4)
    k_ref, th_ref = ref(x, x2, 4, 1.4**2, 0.3**2)
    np.testing.assert_allclose(mf.kernel(spec, x, x2), k_ref, rtol=1e-12)
    np.testing.assert_allclose(mf.kernel(spec, x, x2, kind="ntk"), th_ref, rtol=1e-12)


def test_chain_is_named_not_swollen():
    der = mf.derive_kernels(deep_spec("relu", 5))
    names = [d.symbol.name for d in der.definitions]
    assert "K6_12" in names and "Theta6_12" in names
    # each definition refers to the previous layer by name, so it stays small
    assert max(sp.count_ops(d.expr) for d in der.definitions) < 60


def test_nngp_one_layer_symbolic_relu():
    spec = mf.Spec(mf.Network((mf.Dense("N", "sigma_w**2"), mf.Activation("relu"), mf.Dense(1, "sigma_a**2"))))
    der = mf.derive_kernels(spec)
    full = der.expression("nngp").doit()
    sw, sa, d = sp.symbols("sigma_w sigma_a d", positive=True)
    x11, x12, x22 = der.inputs
    k11, k12, k22 = sw**2 * x11 / d, sw**2 * x12 / d, sw**2 * x22 / d
    theta = sp.acos(k12 / sp.sqrt(k11 * k22))
    expected = sa**2 * sp.sqrt(k11 * k22) * (sp.sin(theta) + (sp.pi - theta) * sp.cos(theta)) / (2 * sp.pi)
    assert sp.simplify(full - expected) == 0


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "gelu", "x**3 - 3*x", "sin"])
def test_backends_agree(act):
    rng = np.random.default_rng(1)
    x, x2 = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    spec = deep_spec(act, 2)
    for kind in ("nngp", "ntk"):
        k_np = mf.kernel(spec, x, x2, kind=kind)
        k_t = mf.kernel(spec, x, x2, kind=kind, backend="torch").numpy()
        np.testing.assert_allclose(k_t, k_np, rtol=BACKEND_RTOL, atol=1e-13)
        if act in ("relu", "erf", "x**3 - 3*x", "sin"):  # closed forms: mpmath exact to 1e-10
            with mpmath.workdps(30):
                k_mp = mf.kernel(spec, x, x2, kind=kind, backend="mpmath").astype(float)
            np.testing.assert_allclose(k_np, k_mp, rtol=BACKEND_RTOL)


def test_quadrature_fallback_agrees_with_closed_form():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3))
    spec = deep_spec("erf", 2)
    closed = mf.kernel(spec, x, kind="ntk")
    quad = mf.kernel(spec, x, kind="ntk", method="quadrature")
    np.testing.assert_allclose(quad, closed, rtol=QUADRATURE_RTOL)


def test_torch_is_differentiable():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    k = mf.kernel(deep_spec("erf", 2), x, kind="ntk", backend="torch")
    k.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_degenerate_inputs_are_finite():
    """Zero-norm inputs and identical/antipodal pairs (correlation exactly +-1)."""
    x = np.array([[0.0, 0.0], [1.0, 2.0], [1.0, 2.0], [-1.0, -2.0], [3e-9, 0.0]])
    for act in ("relu", "erf", "abs", "step"):
        spec = mf.Spec(mf.Network((mf.Dense("N", 2), mf.Activation(act), mf.Dense(1, 1)), input_dim=2))
        for backend in ("numpy", "torch"):
            for kind in ("nngp", "ntk"):
                k = np.asarray(mf.kernel(spec, x, kind=kind, backend=backend))
                assert np.all(np.isfinite(k)), (act, backend, kind, k)
        k = mf.kernel(spec, x)
        assert np.allclose(k, k.T) and np.all(np.linalg.eigvalsh(k) > -1e-9)


def test_symbols_without_values_and_shape_errors():
    spec = mf.Spec(mf.Network((mf.Dense("N", "s**2"), mf.Activation("relu"), mf.Dense(1, 1))))
    x = np.ones((2, 3))
    with pytest.raises(EvaluationError, match="no value for s"):
        mf.kernel(spec, x)
    spec = spec.with_params(s=1.0)
    with pytest.raises(EvaluationError, match="dimension 3 but X2 of dimension 4"):
        mf.kernel(spec, x, np.ones((2, 4)))
    with pytest.raises(EvaluationError, match="unknown kernel kind"):
        mf.kernel(spec, x, kind="cntk")
    fixed = mf.Spec(mf.Network((mf.Dense("N", 1), mf.Activation("relu"), mf.Dense(1, 1)), input_dim=5))
    with pytest.raises(EvaluationError, match="input_dim = 5"):
        mf.kernel(fixed, x)


def test_latex_document_compiles(tmp_path):
    from mftsym.export.latex import write_latex
    der = mf.derive_kernels(deep_spec("gelu", 2))
    assert der._repr_latex_().startswith("\\begin{align*}")
    tex = write_latex(tmp_path / "k.tex", [der, mf.derive_kernels(deep_spec("tanh", 1))])
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert (tmp_path / "k.pdf").exists()


def test_hermite_series_kernel_converges_to_closed_form():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3)) * 0.5
    spec = deep_spec("erf", 1)
    closed = mf.kernel(spec, x)
    series = mf.kernel(spec, x, method="hermite", order=24)
    np.testing.assert_allclose(series, closed, rtol=1e-4)
    assert not np.allclose(series, closed, rtol=1e-14)  # it really is a truncated series
