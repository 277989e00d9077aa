"""Exact limits of the spatial layers, backends against each other, spec parsing and clear errors."""

import numpy as np
import pytest
import sympy as sp

import mftsym as mf
from mftsym.errors import EvaluationError, SpecError
from tests.layers._spatial import act, conv, dense, inputs, spec_of
from tests.tolerances import BACKEND_RTOL, CORRELATION_ONE_RTOL

READOUT = {"type": "dense", "width": 1, "weight_var": 1.1, "bias_var": 0.3}
PARAMS = {"C": 7}


def both(spec, x, params=None):
    return mf.kernel(spec, x, kind=("nngp", "ntk"), params=params)


def close(a, b, rtol=BACKEND_RTOL):
    return np.allclose(a, b, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
@pytest.mark.parametrize("pool", [{"type": "flatten"}, {"type": "global_avg_pool"}])
def test_1x1_conv_is_dense_on_each_position(pool, parametrization):
    body = [act("relu"), conv(kernel=[1, 1], weight_var=0.9), act("erf"), pool, READOUT]
    with_conv = spec_of([conv(kernel=[1, 1])] + body, [3, 4, 2], parametrization)
    with_dense = spec_of([dense(weight_var=1.7, bias_var=0.1)] + body[:1] + [dense(weight_var=0.9, bias_var=0.1)] + body[2:],
                         [3, 4, 2], parametrization)
    x = inputs(with_conv, p=4)
    for a, b in zip(both(with_conv, x, PARAMS), both(with_dense, x, PARAMS)):
        assert close(a, b)


@pytest.mark.parametrize("kernel,padding", [([1, 1], "valid"), ([3, 3], "circular"), ([2, 3], "circular")])
def test_global_pooling_of_a_conv_net_on_a_1x1_image_is_the_mlp(kernel, padding):
    conv_net = spec_of([conv(kernel=kernel, padding=padding, weight_var=1.7, bias_var=0.1), act("relu"),
                        conv(kernel=kernel, padding=padding, weight_var=1.2, bias_var=0.0), act("erf"),
                        {"type": "global_avg_pool"}, READOUT], [1, 1, 3])
    mlp = mf.Spec.from_dict({"network": {"input_dim": 3, "layers": [
        dense(weight_var=1.7, bias_var=0.1), act("relu"), dense(weight_var=1.2, bias_var=0.0), act("erf"),
        READOUT]}})
    x = np.random.default_rng(0).normal(size=(4, 3))
    for a, b in zip(both(conv_net, x.reshape(4, 1, 1, 3)), both(mlp, x)):
        assert close(a, b, CORRELATION_ONE_RTOL)


@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
def test_residual_with_scale_zero_is_the_identity(parametrization):
    head = [conv(kernel=[3]), act("relu")]
    tail = [conv(kernel=[2], padding="valid"), {"type": "global_avg_pool"}, READOUT]
    block = {"type": "residual", "scale": 0, "branch": [conv(kernel=[3]), act("erf"), dense()]}
    x = inputs(spec_of(head + tail, [6, 2]), p=3)
    a = both(spec_of(head + [block] + tail, [6, 2], parametrization), x, PARAMS)
    b = both(spec_of(head + tail, [6, 2], parametrization), x, PARAMS)
    for u, v in zip(a, b):
        assert close(u, v)


def test_residual_adds_the_branch_kernel():
    """x + s * dense(x) on a Gaussian input: K' = K + s^2 (C_W K + C_b) exactly (a linear branch)."""
    head = [dense(weight_var=1.5, bias_var=0.2)]
    block = {"type": "residual", "scale": 0.5, "branch": [dense(weight_var=0.8, bias_var=0.1)]}
    spec = spec_of(head + [block, {"type": "flatten"}, READOUT], [4, 2])
    x = inputs(spec)
    k0 = mf.kernel(spec_of(head + [{"type": "flatten"}, READOUT], [4, 2]), x)
    # readout: 1.1 * mean_s K + 0.3 with K -> K + 0.25 (0.8 K + 0.1)
    expected = 1.1 * ((k0 - 0.3) / 1.1 * (1 + 0.25 * 0.8) + 0.25 * 0.1) + 0.3
    assert close(mf.kernel(spec, x), expected)


@pytest.mark.parametrize("shape,layers", [
    ([5, 3], [dense(), {"type": "layer_norm"}]),
    ([4, 4, 2], [conv(), act("relu"), conv(), {"type": "layer_norm"}]),
    ([4, 4, 2], [conv(), {"type": "avg_pool", "window": [2, 2]}, {"type": "layer_norm"}]),
])
def test_layer_norm_makes_the_kernel_diagonal_one(shape, layers):
    spec = spec_of(layers, shape, params=PARAMS)
    der = mf.derive_kernels(spec)
    x = inputs(spec, p=3)
    k = mf.kernel(spec, x)                               # (P, P, *S) or (P, P, *S, *S)
    r = len(shape) - 1
    diag = np.einsum("ii...->i...", k).reshape(3, -1)
    if k.ndim == 2 + 2 * r:                              # full mode: the position diagonal too
        s = int(np.prod(k.shape[2:2 + r]))
        diag = diag.reshape(3, s, s)[:, range(s), range(s)]
    assert np.allclose(diag, 1.0, rtol=BACKEND_RTOL)
    if k.ndim == 3:                                      # diagonal mode: the x-x entry is 1 symbolically
        assert sp.simplify(der.expression("nngp_11") - 1) == 0


@pytest.mark.parametrize("layers,shape", [
    ([conv(kernel=[3], stride=[2]), act("relu"), {"type": "flatten"}, READOUT], [7, 2]),
    ([conv(padding="circular"), act("erf"), {"type": "avg_pool", "window": [2, 1], "padding": "same"},
      {"type": "global_avg_pool"}, READOUT], [3, 4, 2]),
    ([dense(), {"type": "layer_norm"}, act("relu"),
      {"type": "residual", "branch": [conv(kernel=[2]), act("relu"), dense()]}, {"type": "global_avg_pool"},
      READOUT], [4, 3]),
])
def test_numpy_and_torch_agree(layers, shape):
    torch = pytest.importorskip("torch")
    spec = spec_of(layers, shape, "standard", params=PARAMS)
    x, x2 = inputs(spec, p=3, seed=0), inputs(spec, p=2, seed=1)
    a = mf.kernel(spec, x, x2, kind=("nngp", "ntk"))
    b = mf.kernel(spec, torch.as_tensor(x), torch.as_tensor(x2), kind=("nngp", "ntk"), backend="torch")
    for u, v in zip(a, b):
        assert u.shape == (3, 2) and close(u, v.numpy())
    # K(X, X2) is the corresponding block of K([X; X2], [X; X2])
    full = mf.kernel(spec, np.concatenate([x, x2]), kind="nngp")
    assert close(full[:3, 3:], a[0])


def test_diagonal_mode_keeps_only_the_position_diagonal():
    spec = spec_of([conv(), act("relu"), conv()], [4, 5, 2], params=PARAMS)
    assert mf.kernel(spec, inputs(spec, p=2)).shape == (2, 2, 4, 5)
    pooled = spec_of([conv(), act("relu"), {"type": "avg_pool", "window": [2, 2]}], [4, 5, 2], params=PARAMS)
    assert mf.kernel(pooled, inputs(pooled, p=2)).shape == (2, 2, 2, 2, 2, 2)


def test_toml_spec_round_trip(tmp_path):
    text = """
[network]
input_shape = [8, 8, 3]
parametrization = "ntk"
[[network.layers]]
type = "conv"
width = "C1"
kernel = [3, 3]
stride = [1, 1]
padding = "same"
weight_var = "sigma_w**2"
bias_var = "sigma_b**2"
[[network.layers]]
type = "activation"
fn = "relu"
[[network.layers]]
type = "residual"
scale = 1
  [[network.layers.branch]]
  type = "conv"
  width = "C1"
  kernel = [3, 3]
  padding = "same"
  weight_var = "sigma_w**2"
  [[network.layers.branch]]
  type = "activation"
  fn = "relu"
  [[network.layers.branch]]
  type = "conv"
  width = "C1"
  kernel = [1, 1]
  weight_var = 1
[[network.layers]]
type = "avg_pool"
window = [2, 2]
[[network.layers]]
type = "dense"
width = "C1"
weight_var = 1.0
[[network.layers]]
type = "layer_norm"
[[network.layers]]
type = "global_avg_pool"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
[params]
sigma_w = 1.3
sigma_b = 0.1
"""
    spec = mf.Spec.from_toml_string(text)
    assert spec.network.input_shape == (8, 8, 3)
    again = mf.Spec.from_toml_string(spec.to_toml())
    assert again.network == spec.network
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3))
    assert close(mf.kernel(spec, x), mf.kernel(again, x))
    assert {"C1", "sigma_w", "sigma_b"} <= {s.name for s in spec.network.free_symbols}


@pytest.mark.parametrize("layers,shape,match", [
    ([conv()], None, "needs spatial inputs"),
    ([conv(kernel=[3])], [4, 4, 2], "rank 1"),
    ([conv(kernel=[5, 5], padding="valid")], [4, 4, 2], "does not fit"),
    ([{**conv(), "padding": "full"}], [4, 4, 2], "padding must be one of"),
    ([{**conv(), "dilation": 2}], [4, 4, 2], "unknown keys"),
    ([dense(), {"type": "residual", "branch": [act("relu")]}], [4, 2], "kernels would not add"),
    ([dense(), {"type": "residual", "branch": [{"type": "layer_norm"}]}], [4, 2], "kernels would not add"),
    ([{"type": "residual", "branch": [dense(width=2), act("relu")]}], [4, 2], "raw input"),
    ([{"type": "residual", "branch": [{"type": "layer_norm"}, dense(width=2)]}], [4, 2], "not tracked for the raw input"),
    ([dense(), act("relu"), {"type": "residual", "branch": [dense(), act("relu")]}, act("relu")], [4, 2],
     "not zero-mean Gaussian"),
    ([dense(), {"type": "residual", "branch": [dense(width=3)]}], [4, 2], "same shape"),
    ([conv(), {"type": "global_avg_pool"}, {"type": "flatten"}], [4, 4, 2], "needs spatial inputs"),
])
def test_clear_errors(layers, shape, match):
    with pytest.raises(SpecError, match=match):
        data = {"network": {"layers": layers, "input_dim": 2}} if shape is None else None
        spec = mf.Spec.from_dict(data) if data else spec_of(layers, shape, params=PARAMS)
        mf.derive_kernels(spec)


def test_data_of_the_wrong_shape():
    spec = spec_of([conv(), {"type": "global_avg_pool"}, READOUT], [4, 4, 2], params=PARAMS)
    with pytest.raises(EvaluationError, match=r"\(P, 4, 4, 2\)"):
        mf.kernel(spec, np.zeros((3, 4, 2)))
    with pytest.raises(EvaluationError, match="mpmath"):
        mf.kernel(spec, np.zeros((1, 4, 4, 2)), backend="mpmath")


@pytest.mark.parametrize("theory", ["kernel_renormalization", "adaptive_kernel"])
def test_a_theory_names_the_layer_it_does_not_support(theory):
    from mftsym.solve.api import solve
    spec = mf.Spec.from_dict({"network": {"input_shape": [4, 2], "layers": [
        conv(kernel=[2]), act("relu"), {"type": "flatten"}, {**READOUT, "bias_var": 0}]},
        "params": PARAMS, "posterior": {"noise_var": 0.1}, "theory": {"kind": theory}})
    x = np.random.default_rng(0).normal(size=(5, 4, 2))
    with pytest.raises(SpecError, match="does not support `conv` layers"):
        solve(spec, x, np.zeros(5))


def test_nnft_sampler_names_the_layer_it_does_not_support():
    from mftsym.nnft.sampler import sample_outputs
    spec = spec_of([dense(), {"type": "layer_norm"}, {"type": "flatten"}, READOUT], [4, 2], params=PARAMS)
    with pytest.raises(SpecError, match="does not support `layer_norm` layers"):
        sample_outputs(spec, np.zeros((2, 4, 2)), 10)


def test_spatial_latex_is_readable_and_compiles(tmp_path):
    import shutil
    import subprocess
    spec = spec_of([conv(kernel=[3, 3], stride=[2, 2]), act("relu"),
                    {"type": "residual", "branch": [conv(), act("relu"), conv(kernel=[1, 1])]},
                    {"type": "layer_norm"} if False else {"type": "avg_pool", "window": [2, 2]},
                    {"type": "flatten"}, READOUT], [6, 6, 2], params=PARAMS)
    tex = mf.derive_kernels(spec).latex()
    for piece in (r"\mathcal{P}^{3\times 3", r"\mathcal{W}^{2\times 2}", r"\operatorname*{mean}_{s}",
                  r"K^{(1)}_{x x}(s,s)"):
        assert piece in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex")
    from mftsym.export.latex import write_latex
    out = tmp_path / "cnn.tex"
    write_latex(out, [mf.derive_kernels(spec)], title="cnn")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:]


def test_cli_kernel_takes_spatial_inputs(tmp_path):
    from mftsym.cli import main
    spec = spec_of([conv(), act("relu"), {"type": "global_avg_pool"}, READOUT], [4, 4, 2], params=PARAMS)
    path = tmp_path / "cnn.toml"
    spec.save(path)
    x = inputs(spec, p=3)
    np.save(tmp_path / "x.npy", x)
    assert main(["kernel", str(path), "--x", str(tmp_path / "x.npy"), "--kind", "ntk",
                 "--out", str(tmp_path / "k.npy")]) == 0
    assert close(np.load(tmp_path / "k.npy"), mf.kernel(spec, x, kind="ntk"))


def test_python_api_builds_the_same_network_as_toml():
    net = mf.Network((mf.Conv("C", [3, 3], 1.7, 0.1, padding="circular"),
                      mf.Residual((mf.Activation("relu"), mf.Dense("C", 1.0),), scale=0.5), mf.LayerNorm(),
                      mf.Attention("C", "H", "C", "C", mechanism="relu"),
                      mf.AvgPool([2, 2]), mf.Flatten(), mf.Dense(1, 1.0)), input_shape=(4, 4, 2))
    spec = mf.Spec(net, params={"C": 8, "H": 2})
    again = mf.Spec.from_toml_string(spec.to_toml())
    assert again.network == net and again.network.input_shape == (4, 4, 2)
    x = inputs(spec, p=2)
    assert close(mf.kernel(spec, x, kind="ntk"), mf.kernel(again, x, kind="ntk"))
    assert isinstance(mf.GlobalAvgPool(), mf.GlobalAvgPool)
