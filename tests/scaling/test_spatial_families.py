"""CNN with non-overlapping patches and a softmax attention head: the patterns are derived from the
spec (patch dimension p, number of patches n, sequence length L, heads H) and the optima equal the
closed forms exactly; the quoted exponents P* ~ d^(3/4) (CNN) and P* ~ sqrt(L d^3) (attention) come
out where docs/theory/scaling.md says; exact optima vs scipy; CLI end to end; bad input."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize

from mftsym.cli import main
from mftsym.errors import SpecError
from mftsym.scaling.architecture import scaling_architecture
from mftsym.scaling.derive import derive_scaling
from mftsym.scaling.optimum import interior_optimum
from mftsym.scaling.patterns import enumerate_patterns
from mftsym.scaling.phases import PatternScaling, winners_at
from mftsym.scaling.optimum import scaling_regimes
from tests.scaling.conftest import attention_network, cnn_network, erf_network
from tests.tolerances import SCALING_OPT_RTOL as RTOL

d, p, n, N, L, H = sp.symbols("d p n N L H", positive=True)


def _zero(a, b):
    return sp.simplify(a - b) == 0


def _opt(res, name):
    return res.per_degree[0].optima[name]


def _terms(res, name):
    sc = [s for s in res.per_degree[0].scalings if s.pattern.name == name][0]
    return sorted(str(t.monomial.to_sympy()) for t in sc.pattern.terms)


# ---- the architecture is read from the spec -------------------------------------------------------

def test_cnn_reads_patches_from_spec():
    arch = scaling_architecture(cnn_network("flatten", length=48, kernel=6, channels=2).network)
    assert arch.family == "cnn" and arch.input_dim_name == "p"
    assert arch.instance == {"p": 12, "n": 8, "pooling": "flatten"}
    assert str(arch.readout_scale) == "n"                       # flatten: a_y ~ n / lambda
    pooled = scaling_architecture(cnn_network("global_avg_pool").network)
    assert str(pooled.readout_scale) == "1" and pooled.scale_variables == ("p", "N")
    att = scaling_architecture(attention_network(heads="H", length=5, dim=7).network)
    assert att.family == "attention" and att.instance == {"L": 5, "d": 7}
    assert att.scale_variables == ("d", "N", "H", "L")


# ---- CNN: closed forms ------------------------------------------------------------------------------

def test_cnn_flatten_closed_forms(cnn_flatten):
    assert _terms(cnn_flatten, "spec1") == sorted(["M_1*p", "N*n/M_1"])   # channel fixes p, not d = n p
    opt = _opt(cnn_flatten, "spec1")
    assert _zero(opt.cost.to_sympy(), 2 * sp.sqrt(N * n * p))
    assert _zero(opt.values["M_1"].to_sympy(), sp.sqrt(N * n / p))
    Dv = sp.Symbol("D", positive=True)
    E = N * Dv + n * p**3 / Dv**3
    Dstar = sp.solve(sp.diff(E, Dv), Dv)[0]
    assert _zero(_opt(cnn_flatten, "GFL1").values["D_1"].to_sympy(), Dstar)
    assert _zero(_opt(cnn_flatten, "GFL1").cost.to_sympy(), E.subs(Dv, Dstar))
    gp = [s for s in cnn_flatten.per_degree[0].scalings if s.pattern.name == "GP1"][0]
    assert _zero(gp.regimes[0].cost.to_sympy(), n * p**3)                  # kernel regime


def test_cnn_pooled_closed_forms(cnn_pooled):
    opt = _opt(cnn_pooled, "spec1")
    assert _zero(opt.cost.to_sympy(), 2 * sp.sqrt(N * p))
    assert _zero(opt.values["M_1"].to_sympy(), sp.sqrt(N / p))
    gp = [s for s in cnn_pooled.per_degree[0].scalings if s.pattern.name == "GP1"][0]
    assert _zero(gp.regimes[0].cost.to_sympy(), p**3)


def _winner_at(res, gammas):
    best, wins = winners_at(res.per_degree[0].scalings, gammas)
    return best, sorted(s.pattern.name for s, _ in wins)


def test_cnn_three_quarters_in_the_proportional_limit(cnn_flatten):
    """N ~ p ~ n ~ sqrt(d) (channels proportional to the patch fan-in, square layout): specialisation
    wins, P*/kappa = 2 d^(3/4), with M* = d^(1/4) specialised channels; the fully connected network of
    the same d in its proportional limit N ~ d needs P* ~ d (the wrong exponent for the CNN)."""
    half = {"p": 0.5, "n": 0.5, "N": 0.5}
    best, wins = _winner_at(cnn_flatten, half)
    assert wins == ["spec1"] and best == pytest.approx(0.75)
    root = sp.sqrt(d)
    opt = _opt(cnn_flatten, "spec1")
    sub = {p: root, n: root, N: root}
    assert _zero(opt.cost.to_sympy().subs(sub), 2 * d ** sp.Rational(3, 4))
    assert _zero(opt.values["M_1"].to_sympy().subs(sub), d ** sp.Rational(1, 4))
    fc = derive_scaling(erf_network(["N1"]), "He3", steps=9)
    best_fc, wins_fc = _winner_at(fc, {"d": 1.0, "N1": 1.0})
    assert wins_fc == ["spec1"] and best_fc == pytest.approx(1.0)
    # pooled readout in the same limit: P* ~ 2 sqrt(N p) = 2 sqrt(d)
    pooled = derive_scaling(cnn_network("global_avg_pool"), "He3", steps=9)
    assert _winner_at(pooled, {"p": 0.5, "N": 0.5})[0] == pytest.approx(0.5)


# ---- attention: closed forms ------------------------------------------------------------------------

def test_attention_closed_forms_symbolic_heads():
    arch = scaling_architecture(attention_network(heads="H").network)
    pats = {pt.name: pt for pt in enumerate_patterns(arch, 3)}
    assert set(pats) == {"GP1", "GFL1", "spec1", "mag1", "attn1", "attn+GFL1", "attn+spec1", "attn+mag1"}
    assert sorted(str(t.monomial.to_sympy()) for t in pats["attn1"].terms) == sorted(["A_1*H", "L*d**3/A_1"])
    opt = interior_optimum(pats["attn1"])
    assert _zero(opt.cost.to_sympy(), 2 * sp.sqrt(H * L * d**3))             # P* ~ sqrt(L d^3) (H = 1)
    assert _zero(opt.values["A_1"].to_sympy(), sp.sqrt(L * d**3 / H))
    assert _zero(interior_optimum(pats["spec1"]).cost.to_sympy(), 2 * sp.sqrt(L * N * d))
    assert _zero(interior_optimum(pats["attn+spec1"]).cost.to_sympy(), 3 * (H * L * N * d) ** sp.Rational(1, 3))
    lazy = PatternScaling(pats["GP1"], tuple(scaling_regimes(pats["GP1"])))
    assert _zero(lazy.regimes[0].cost.to_sympy(), L * d**3)                  # lazy head: kernel regime L d^3


def test_attention_sqrt_L_d3_phase(attention_head):
    """sqrt(L d^3) wins where the head's boost A* = sqrt(L d^3) is inside its range (L > d^3) and the
    value channels stay lazy (N > sqrt(L) d^(7/2)); below L = d^3 the head concentrates fully (A = L)
    and P* ~ d^3."""
    best, wins = _winner_at(attention_head, {"d": 1.0, "L": 4.0, "N": 8.0})
    assert wins == ["attn1"] and best == pytest.approx(3.5)                  # (L d^3)^(1/2) at L = d^4
    best, wins = _winner_at(attention_head, {"d": 1.0, "L": 2.0, "N": 8.0})
    assert wins == ["attn1"] and best == pytest.approx(3.0)
    sq = [ph for ph in attention_head.per_degree[0].phases if ph.winners == ("attn1",) and str(ph.cost) == "sqrt(L)*d**(3/2)"]
    assert sq and "L > d**3" in set(map(str, sq[0].region))


# ---- exact optima against scipy --------------------------------------------------------------------

@pytest.mark.parametrize("which", ["cnn_flatten", "cnn_pooled", "attention_head"])
def test_spatial_optima_match_scipy(which, request):
    res = request.getfixturevalue(which)
    rng = np.random.default_rng(3)
    checked = 0
    for sc in res.per_degree[0].scalings:
        opt = res.per_degree[0].optima[sc.pattern.name]
        if opt is None:
            continue
        names, terms = sc.pattern.free_names, [t.monomial for t in sc.pattern.terms]
        scale = {k: float(np.exp(rng.uniform(1.0, 5.0))) for k in res.scale_variables}

        def f(u):
            logs = {**{k: np.log(v) for k, v in scale.items()}, **dict(zip(names, u))}
            return sum(np.exp(T.log_value(logs)) for T in terms)
        r = minimize(f, np.zeros(len(names)), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
        exact = float(opt.cost.to_sympy().subs({sp.Symbol(k, positive=True): v for k, v in scale.items()}))
        assert r.fun == pytest.approx(exact, rel=RTOL), sc.pattern.name
        checked += 1
    assert checked >= 3


# ---- CLI end to end --------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["cnn", "attention"])
def test_cli_spatial_end_to_end(family, tmp_path, capsys):
    spec = cnn_network("flatten") if family == "cnn" else attention_network()
    path = tmp_path / "spec.toml"
    spec.save(path)
    out, tex, png = tmp_path / "r.json", tmp_path / "s.tex", tmp_path / "p.png"
    assert main(["scaling", str(path), "--target", "He3", "--out", str(out), "--latex", str(tex),
                 "--plot", str(png)]) == 0
    data = json.loads(out.read_text())
    pats = {q["name"]: q for q in data["degrees"][0]["patterns"]}
    if family == "cnn":
        assert pats["spec1"]["interior_optimum"]["E"] == "2*sqrt(N)*sqrt(n)*sqrt(p)"
    else:
        assert pats["attn1"]["interior_optimum"]["E"] == "2*sqrt(L)*d**(3/2)"
    assert png.stat().st_size > 1000
    assert "P* ~" in capsys.readouterr().out
    if shutil.which("pdflatex"):
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "s.tex"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:]


# ---- bad input -------------------------------------------------------------------------------------

def test_overlapping_or_padded_conv_is_refused():
    with pytest.raises(SpecError, match="non-overlapping patches"):
        scaling_architecture(cnn_network(kernel=8, stride=4).network)
    with pytest.raises(SpecError, match="non-overlapping patches"):
        scaling_architecture(cnn_network(padding="same").network)
    with pytest.raises(SpecError, match="tile the input"):
        scaling_architecture(cnn_network(length=30, kernel=8).network)
