import numpy as np
import pytest

from mftsym.spec import Spec


def make_spec(hidden=(("N1", "erf"),), readout_var="sigma_a**2", params=None, theory="kernel_renormalization",
              parametrization="ntk", readout_bias=None, noise="sigma2", extra=""):
    lines = ["[network]", 'input_dim = "d"', f'parametrization = "{parametrization}"']
    for width, act in hidden:
        lines += ["[[network.layers]]", 'type = "dense"', f'width = "{width}"', 'weight_var = "sigma_w**2"']
        if act:
            lines += ["[[network.layers]]", 'type = "activation"', f'fn = "{act}"']
    lines += ["[[network.layers]]", 'type = "dense"', "width = 1", f'weight_var = "{readout_var}"']
    if readout_bias:
        lines.append(f'bias_var = "{readout_bias}"')
    p = {"sigma_w": 1.0, "sigma_a": 1.0, "sigma2": 0.1, **{w: 50 for w, _ in hidden}, **(params or {})}
    lines.append("[params]")
    lines += [f"{k} = {float(v)!r}" for k, v in p.items()]
    if noise is not None:
        lines += ["[posterior]", f'noise_var = "{noise}"']
    if theory:
        lines += ["[theory]", f'kind = "{theory}"']
    return Spec.from_toml_string("\n".join(lines) + "\n" + extra)


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    d, P = 6, 30
    x = rng.standard_normal((P, d))
    y = np.tanh(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]
    xt = rng.standard_normal((5, d))
    return x, y, xt
