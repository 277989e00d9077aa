"""The command line: derive, kernel, run (the main job, scaled down), and its error messages."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mftsym as mf
from mftsym.cli import main

EXAMPLE = "example:two_layer_erf"


def test_derive_prints_and_writes_latex(tmp_path, capsys):
    assert main(["derive", EXAMPLE]) == 0
    assert "K1_12 :=" in capsys.readouterr().out
    out = tmp_path / "k.tex"
    assert main(["derive", EXAMPLE, "--latex", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("\\documentclass") and "\\end{document}" in text
    if shutil.which("pdflatex"):
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "k.tex"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:]


def test_kernel_command_matches_api(tmp_path):
    rng = np.random.default_rng(0)
    x, x2 = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x2.npy", x2)
    for kind in ("nngp", "ntk"):
        out = tmp_path / f"{kind}.npy"
        assert main(["kernel", EXAMPLE, "--x", str(tmp_path / "x.npy"), "--x2", str(tmp_path / "x2.npy"),
                     "--kind", kind, "--set", "sigma_w=2", "--out", str(out)]) == 0
        expected = mf.kernel(mf.example_spec().with_params(sigma_w=2.0), x, x2, kind=kind)
        np.testing.assert_array_equal(np.load(out), expected)
        assert np.load(out).shape == (5, 4)
    args = ["kernel", EXAMPLE, "--x", str(tmp_path / "x.npy"), "--out", str(tmp_path / "t.npy"), "--device", "cpu"]
    assert main(args + ["--backend", "torch"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "t.npy"), mf.kernel(mf.example_spec(), x), rtol=1e-12)


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    np.save(tmp_path / "x2.npy", np.ones((2, 4)))
    assert main(["kernel", EXAMPLE, "--x", str(tmp_path / "x.npy"), "--x2", str(tmp_path / "x2.npy"),
                 "--out", str(tmp_path / "k.npy")]) == 2
    assert "dimension 3 but X2 of dimension 4" in capsys.readouterr().err
    assert not (tmp_path / "k.npy").exists()
    assert main(["kernel", EXAMPLE, "--x", str(tmp_path / "x.npy"), "--device", "cuda", "--out", str(tmp_path / "k.npy")]) == 2
    assert "--device needs --backend torch" in capsys.readouterr().err
    assert main(["derive", "example:nope"]) == 2
    assert "no built-in example" in capsys.readouterr().err
    assert main(["derive", EXAMPLE, "--set", "sigma_w"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[network]\n[[network.layers]]\ntype = "dense"\nwidth = 4\nweight_var = "os.system(1)"\n')
    assert main(["derive", str(bad)]) == 2
    assert "bad.toml: network.layers[0].weight_var" in capsys.readouterr().err


def test_main_job_small(tmp_path):
    from mftsym.pipeline import run_pipeline
    run_pipeline(mf.example_spec(), tmp_path, n_train=12, n_test=4, input_dim=3, widths=(8, 16), ensemble=2,
                 steps=200, progress=False, log=lambda *a: None)
    for name in ("spec.toml", "derivation.tex", "data.npz", "solution.json", "README.md",
                 "validation/report.json", "validation/report.md"):
        assert (tmp_path / name).exists(), name
    sol = json.loads((tmp_path / "solution.json").read_text())
    assert sol["converged"] and sol["theory"] == "kernel_renormalization"
    assert mf.Spec.from_toml(tmp_path / "spec.toml") == mf.example_spec()


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "mftsym.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "derive" in r.stdout and "run" in r.stdout
