"""CLI, LaTeX compilation, target parsing, activation Hermite content and bad input."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from mftsym.cli import main
from mftsym.errors import SpecError
from mftsym.scaling.activation_hermite import carries_degree, hermite_coefficients
from mftsym.scaling.target import parse_target
from mftsym.spec.activations import resolve_activation
from tests.scaling.conftest import erf_network


def test_cli_writes_json_latex_plot(tmp_path, capsys):
    out, tex, png = tmp_path / "r.json", tmp_path / "s.tex", tmp_path / "p.png"
    assert main(["scaling", "example:two_layer_erf", "--target", "He3", "--out", str(out),
                 "--latex", str(tex), "--plot", str(png)]) == 0
    data = json.loads(out.read_text())
    spec1 = [p for p in data["degrees"][0]["patterns"] if p["name"] == "spec1"][0]
    assert spec1["interior_optimum"]["E"] == "2*sqrt(N1)*sqrt(d)"
    assert spec1["interior_optimum"]["values"]["M_1"] == "sqrt(N1)/sqrt(d)"
    assert png.stat().st_size > 1000
    assert "P* ~" in capsys.readouterr().out
    if shutil.which("pdflatex"):
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "s.tex"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:]


def test_cli_reports_bad_target(capsys):
    assert main(["scaling", "example:two_layer_erf", "--target", "He3 + sin"]) == 2
    assert "cannot read target term" in capsys.readouterr().err
    assert main(["scaling", "example:two_layer_erf", "--target", "He2"]) == 2
    assert "no feature-learning pattern can carry He2" in capsys.readouterr().err


def test_parse_target():
    assert parse_target("He3").degrees == (3,)
    assert parse_target("He1 + 2*He3").degrees == (1, 3)
    for bad in ("", "He0", "x**3", "He3 - He1"):
        with pytest.raises(SpecError):
            parse_target(bad)


def test_erf_hermite_coefficients_closed_form():
    c = hermite_coefficients(resolve_activation("erf"), 3)
    # c_k = E[phi^(k)(z)]/k!: c_1 = 2/sqrt(3 pi), c_3 = -4/(3 sqrt(3 pi))/3! = -2/(9 sqrt(3 pi))
    assert c[1] == pytest.approx(2 / np.sqrt(3 * np.pi), rel=1e-12)
    assert c[3] == pytest.approx(-2 / (9 * np.sqrt(3 * np.pi)), rel=1e-10)
    assert not carries_degree(resolve_activation("erf"), 2)
    assert carries_degree(resolve_activation("relu"), 2) and not carries_degree(resolve_activation("relu"), 3)


def test_sum_target_and_relu_even_degree():
    from mftsym.scaling.derive import derive_scaling
    res = derive_scaling(erf_network(["N1"]), "He1 + He3")
    assert [dr.degree for dr in res.per_degree] == [1, 3]
    # He1 under a lazy erf kernel: a_y ~ d
    gp = [s for s in res.per_degree[0].scalings if s.pattern.name == "GP1"][0]
    assert str(gp.regimes[0].cost) == "d"
    res = derive_scaling(erf_network(["N1"], act="relu"), "He2")
    assert {s.pattern.name for s in res.per_degree[0].scalings} == {"GP1", "GFL1", "spec1", "mag1"}


def test_unsupported_spec_is_a_clear_error():
    from mftsym import Spec
    from mftsym.scaling.derive import derive_scaling
    spec = Spec.from_dict({"network": {"input_dim": "d", "layers": [
        {"type": "dense", "width": "N1", "weight_var": 1}, {"type": "activation", "fn": "erf"},
        {"type": "dense", "width": 2, "weight_var": 1}]}})
    with pytest.raises(SpecError, match="width 1"):
        derive_scaling(spec)
