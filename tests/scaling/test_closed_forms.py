"""The derived optima equal the closed forms of the scaling argument (Rubin, Davidovich & Ringel,
arXiv:2512.04165): two-layer erf on He3 and the three-layer table.  Exact: simplify(a - b) == 0."""

import sympy as sp

from tests.scaling.conftest import erf_network

d, N, N1, N2, kappa = sp.symbols("d N N1 N2 kappa", positive=True)


def _opt(res, name):
    return res.per_degree[0].optima[name]


def _zero(a, b):
    return sp.simplify(a - b) == 0


def test_two_layer_specialisation(two_layer):
    opt = _opt(two_layer, "spec1")
    assert _zero(opt.cost.to_sympy(), 2 * sp.sqrt(N1 * d))          # E* = 2 sqrt(N d): P* ~ kappa sqrt(N d)
    assert _zero(opt.values["M_1"].to_sympy(), sp.sqrt(N1 / d))     # ~ sqrt(N/d) specialists
    assert opt.weights == (sp.Rational(1, 2), sp.Rational(1, 2))    # the two terms balance


def test_two_layer_gfl_and_gp(two_layer):
    # GFL: E = N D + d^3/D^3, minimised by hand: D* = (3 d^3/N)^(1/4)
    D = sp.Symbol("D", positive=True)
    E = N1 * D + d**3 / D**3
    Dstar = sp.solve(sp.diff(E, D), D)[0]
    opt = _opt(two_layer, "GFL1")
    assert _zero(opt.values["D_1"].to_sympy(), Dstar)
    assert _zero(opt.cost.to_sympy(), E.subs(D, Dstar))
    assert _opt(two_layer, "GP1") is None
    gp = [s for s in two_layer.per_degree[0].scalings if s.pattern.name == "GP1"][0]
    assert _zero(gp.regimes[0].cost.to_sympy(), d**3)               # kernel regime: P* ~ kappa d^3


def test_two_layer_phases(two_layer):
    phases = {(ph.winners, str(ph.cost)): ph for ph in two_layer.per_degree[0].phases}
    spec_wide = phases[(("spec1",), "sqrt(N1)*sqrt(d)")]
    assert set(map(str, spec_wide.region)) == {"N1 > d", "N1 < d**5"}
    assert str(spec_wide.values["spec1"]["M_1"]) == "sqrt(N1)/sqrt(d)"
    spec_narrow = phases[(("spec1",), "d")]                          # N < d: one specialist, P* ~ d
    assert str(spec_narrow.values["spec1"]["M_1"]) == "1"
    assert set(map(str, phases[(("GP1",), "d**3")].region)) == {"N1 > d**5"}
    assert set(map(str, phases[(("GFL1", "mag1"), "N1**(3/4)*d**(3/4)")].region)) == {"N1 < d**(1/3)"}


def test_three_layer_table(three_layer):
    c = 3 * (N1 * N2 * d) ** sp.Rational(1, 3)
    for name in ("spec1-spec2", "spec1-GFL2", "spec1-mag2"):
        assert _zero(_opt(three_layer, name).cost.to_sympy(), c), name
    M1 = (N1 * N2) ** sp.Rational(1, 3) / d ** sp.Rational(2, 3)
    assert _zero(_opt(three_layer, "spec1-mag2").values["M_1"].to_sympy(), M1)
    assert _zero(_opt(three_layer, "spec1-mag2").values["beta_2"].to_sympy(), (N1 * N2 * d) ** sp.Rational(-1, 6))
    assert _zero(_opt(three_layer, "spec1-spec2").values["M_2"].to_sympy(),
                 N2 ** sp.Rational(2, 3) / (N1 * d) ** sp.Rational(1, 3))
    assert _zero(_opt(three_layer, "spec1-GP2").cost.to_sympy(), 2 * sp.sqrt(N1 * d))
    assert _zero(_opt(three_layer, "GP1-spec2").cost.to_sympy(), 2 * sp.sqrt(N2) * d ** sp.Rational(3, 2))


def test_three_layer_phases(three_layer):
    phases = {(ph.winners, str(ph.cost)): ph for ph in three_layer.per_degree[0].phases}
    mid = phases[(("spec1-GFL2", "spec1-mag2"), "N1**(1/3)*N2**(1/3)*d**(1/3)")]
    assert "N1 > N2**2/d" in set(map(str, mid.region))                 # a second layer narrower than sqrt(N1 d)
    assert set(map(str, phases[(("GP1-GP2",), "d**3")].region)) == {"N1 > d**5", "N2 > d**3"}


def test_every_interior_optimum_is_stationary(three_layer, two_layer):
    """Independent check: the gradient of the monomial sum vanishes at x* and E(x*) = E*."""
    for res in (two_layer, three_layer):
        for sc in res.per_degree[0].scalings:
            opt = res.per_degree[0].optima[sc.pattern.name]
            if opt is None:
                continue
            E = sc.pattern.cost_sum()
            at = {sp.Symbol(k, positive=True): v.to_sympy() for k, v in opt.values.items()}
            assert _zero(E.subs(at), opt.cost.to_sympy()), sc.pattern.name
            for sym in at:
                assert sp.simplify(sp.diff(E, sym).subs(at)) == 0, (sc.pattern.name, sym)


def test_mean_field_readout_scales_the_target_norm():
    from mftsym.scaling.derive import derive_scaling
    res = derive_scaling(erf_network(["N1"], parametrization="mean_field"), "He3")
    opt = res.per_degree[0].optima["spec1"]                          # E = M d + N^2/M
    assert _zero(opt.cost.to_sympy(), 2 * N1 * sp.sqrt(d))
    assert _zero(opt.values["M_1"].to_sympy(), N1 / sp.sqrt(d))
