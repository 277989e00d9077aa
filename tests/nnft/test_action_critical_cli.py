"""NNFT action, criticality, posterior correction, CLI and LaTeX."""

import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp

from mftsym.cli import main
from mftsym.nnft import (connected_four_point_tensor, criticality, deep_recursion, derive_action,
                         derive_finite_width, nnft_action, predict)
from mftsym.nnft.action import couplings
from mftsym.nnft.posterior import importance_posterior_mean
from tests.nnft._specs import make_spec
from tests.tolerances import BACKEND_RTOL, MC_SIGMAS

XS = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [-1.0, -0.5, 0.3]])


def test_action_reproduces_two_and_four_point_functions():
    """Tree level: <ff> = A^-1 - 1/2 A^-1 (lambda.A^-1) A^-1 = K + O(lambda^2); connected 4-pt = -lambda K^4."""
    spec = make_spec("erf")
    res = []
    for N in (1e3, 1e4):                       # the residual is O(lambda^2) = O(1/N^2)
        act = nnft_action(spec, XS, params={"N": N})
        Ai = np.linalg.inv(act.A)
        two = Ai - 0.5 * Ai @ np.einsum("abcd,cd->ab", act.lam, Ai) @ Ai
        res.append(np.abs(two - act.K).max())
    assert res[1] < 1e-7 and 50 < res[0] / res[1] < 200, res
    g4 = -np.einsum("ai,bj,ck,dl,ijkl->abcd", act.K, act.K, act.K, act.K, act.lam)
    assert np.allclose(g4, act.G4c, rtol=1e-10, atol=1e-15)
    assert np.allclose(act.lam, act.lam.transpose(1, 0, 2, 3))


def test_single_input_action_matches_tensor():
    spec = make_spec("tanh")
    der = derive_action(spec)
    val = {s.name: v for s, v in spec.substitutions().items()} | {"N": 64.0}
    x = XS[0]
    # compare numerically through the compiled 1-input tensor route
    K, G4 = connected_four_point_tensor(spec, x[None])
    A, lam = couplings(K, G4)
    from mftsym.compile.chain import compile_chain
    out = compile_chain(der, "numpy", outputs=("lambda", "A"))({**val, "x11": float(x @ x)})
    # one input: the rank-1 (1-D, 150-node) Gauss-Hermite rule of moments4 against the 1-D split
    # Gauss-Legendre of the recursion (the former 4-D order-20 rule was ~1e-3 off for tanh here)
    assert float(out["lambda"]) == pytest.approx(lam[0, 0, 0, 0], rel=5e-3)
    assert float(out["A"]) == pytest.approx(A[0, 0], rel=5e-3)


@pytest.mark.parametrize("act, point", [("tanh", (0.0, 1.0)), ("relu", (0.0, 2.0)), ("erf", (0.0, np.pi / 4)),
                                        ("sin", (0.0, 1.0))])
def test_known_critical_points(act, point):
    res = criticality(make_spec(act, 2))
    assert any(abs(cb - point[0]) < 1e-6 and abs(cw - point[1]) < 1e-4 for cb, cw, _ in res.points), res.points


def test_erf_critical_line_is_symbolic():
    res = criticality(make_spec("erf", 2))
    k = sp.Symbol("k", positive=True)
    assert sp.simplify(res.line.expression("C_W") - sp.pi * sp.sqrt(4 * k + 1) / 4) == 0
    assert sp.simplify(res.line.expression("chi_par") - 1 / (2 * k + 1)) == 0


def test_susceptibilities_at_criticality_are_one():
    r = deep_recursion(make_spec("relu", 3, sw=2 ** 0.5, sb=0.0), XS[:1])
    assert r["chi_par1"][0] == pytest.approx(1) and r["chi_perp2"][0] == pytest.approx(1)


def test_deep_backends_agree():
    spec = make_spec("erf", 3)
    a = deep_recursion(spec, XS[:2])
    b = deep_recursion(spec, XS[:2], backend="torch")
    c = deep_recursion(spec, XS[:1], backend="mpmath")
    for k in ("kappa4", "G1", "K", "chi_par2"):
        assert np.allclose(b[k].numpy(), a[k], rtol=BACKEND_RTOL)
        assert float(c[k][0]) == pytest.approx(a[k][0], rel=BACKEND_RTOL)


def test_relu_second_derivative_is_handled_or_named():
    """Single input: Stein/closed forms, no distribution needed; an explicit phi'' request names the term."""
    from mftsym.errors import MftsymError
    from mftsym.nnft._common import derivative
    from mftsym.spec import X
    r = deep_recursion(make_spec("relu", 3), XS[:1])
    assert np.isfinite(r["G1"][0]) and r["G1"][0] == 0.0      # g(K) = K/2 is linear: no kernel shift
    with pytest.raises(MftsymError, match="G1 vertex"):
        derivative(sp.Max(0, X), 2, "G1 vertex")


def test_posterior_correction_moves_toward_finite_width_posterior():
    spec = make_spec("relu", 1, sw=1.5, sa=1.5)
    xtr, ytr = XS * 1.5, np.array([1.5, -1.2, 0.9])
    xte = np.array([[1.0, 0.0, 0.0]])
    for N in (8, 32):
        p = predict(spec, xtr, ytr, xte, 0.3, params={"N": N})
        m, se = importance_posterior_mean(spec, xtr, ytr, xte, 0.3, 200_000, widths={"N": N}, seed=N)
        assert abs(m[0] - p["mean"][0]) <= MC_SIGMAS * se[0] + 0.3 * abs(p["correction"][0])
        if N == 8:
            assert abs(m[0] - p["mean"][0]) < abs(m[0] - p["gp_mean"][0])


def test_cli_criticality(capsys):
    assert main(["criticality", "example:two_layer_erf", "--set", "sigma_w=1"]) == 0
    out = capsys.readouterr().out
    assert "critical point" in out and "(0, 0.7854)" in out and "chi_par" in out


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_finite_width_latex_compiles(tmp_path):
    tex = tmp_path / "fw.tex"
    assert main(["derive", "example:two_layer_erf", "--latex", str(tex), "--finite-width"]) == 0
    text = tex.read_text()
    assert "G_{4,c}" in text and r"\chi_{\parallel}" in text
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-2000:]


def test_derive_finite_width_deep():
    ders = derive_finite_width(make_spec("tanh", 3).network)
    titles = [d.title for d in ders]
    assert any("action" in t for t in titles) and any("Criticality" in t for t in titles)
