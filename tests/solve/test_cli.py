import json

import numpy as np

from mftsym.cli import main
from tests.solve.conftest import make_spec


def _write(tmp_path, spec, data):
    x, y, xt = data
    sp_path = tmp_path / "spec.toml"
    spec.save(sp_path)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=xt)
    return sp_path, tmp_path / "data.npz"


def test_cli_solve_and_derive(tmp_path, data):
    sp_path, d_path = _write(tmp_path, make_spec(), data)
    out = tmp_path / "result.json"
    assert main(["solve", str(sp_path), "--data", str(d_path), "--out", str(out), "--set", "N1=20",
                 "--confirm"]) == 0
    res = json.loads(out.read_text())
    for key in ("theory", "order_parameters", "action", "prediction", "variance", "converged", "residual",
                "iterations", "saddles"):
        assert key in res
    assert res["theory"] == "kernel_renormalization" and res["converged"] and len(res["prediction"]) == 5
    assert res["extras"]["mpmath_relative_distance"] < 1e-12
    tex = tmp_path / "out.tex"
    assert main(["derive", str(sp_path), "--latex", str(tex)]) == 0
    text = tex.read_text()
    assert "Kernel renormalization" in text and r"\sum_{\mu=1}^{P}" in text


def test_cli_sweep_and_errors(tmp_path, data, capsys):
    sp_path, d_path = _write(tmp_path, make_spec(), data)
    out = tmp_path / "sweep.json"
    assert main(["sweep", str(sp_path), "--data", str(d_path), "--param", "noise", "--values", "log:0.01:1:5",
                 "--out", str(out), "--plot", str(tmp_path / "p.png")]) == 0
    res = json.loads(out.read_text())
    assert len(res["solutions"]) == 5 and all(s["converged"] for s in res["solutions"])
    assert (tmp_path / "p.png").stat().st_size > 0
    np.savez(tmp_path / "bad.npz", x_train=data[0])
    assert main(["solve", str(sp_path), "--data", str(tmp_path / "bad.npz"), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["sweep", str(sp_path), "--data", str(d_path), "--param", "noise", "--values", "x",
                 "--out", str(out)]) == 2
