"""Derived NNGP/NTK against finite random networks built from the same spec.

The reference is independent of the derivation: a plain torch forward pass of many random
networks (NNGP = covariance of the outputs at initialisation) and the empirical NTK from
autograd at large width.
"""

import numpy as np
import pytest
import torch

import mftsym as mf
from tests.tolerances import MC_SIGMAS

ACTS = {
    "relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh, "x**3 - 3*x": lambda z: z**3 - 3 * z,
    "gelu": lambda z: torch.nn.functional.gelu(z), "sin": torch.sin, "abs": torch.abs,
    "leaky_relu(0.2)": lambda z: torch.nn.functional.leaky_relu(z, 0.2), "softplus": torch.nn.functional.softplus,
}


def make_spec(act, depth, sw=1.3, sb=0.2, sa=1.0, parametrization="ntk", d=3):
    layers = []
    for _ in range(depth):
        layers += [mf.Dense("N", "sigma_w**2", "sigma_b**2"), mf.Activation(act)]
    layers.append(mf.Dense(1, "sigma_a**2"))
    return mf.Spec(mf.Network(tuple(layers), input_dim=d, parametrization=parametrization),
                   params={"sigma_w": sw, "sigma_b": sb, "sigma_a": sa, "N": 64})


def random_outputs(x, act, depth, sw, sb, sa, width, draws, gen):
    """Outputs of `draws` independent random networks (NTK/standard params give the same prior)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    h = x.expand(draws, *x.shape)
    fan = x.shape[1]
    for _ in range(depth):
        W = torch.randn(draws, fan, width, generator=gen, dtype=torch.float64)
        b = torch.randn(draws, 1, width, generator=gen, dtype=torch.float64)
        h = ACTS[act](h @ W * (sw / fan**0.5) + sb * b)
        fan = width
    a = torch.randn(draws, width, 1, generator=gen, dtype=torch.float64)
    return (h @ a * (sa / fan**0.5))[..., 0]          # (draws, P)


@pytest.mark.parametrize("act, depth", [("relu", 1), ("relu", 3), ("erf", 2), ("tanh", 2),
                                        ("x**3 - 3*x", 1), ("gelu", 2), ("sin", 1), ("abs", 2),
                                        ("leaky_relu(0.2)", 2), ("softplus", 1)])
def test_nngp_matches_monte_carlo(act, depth):
    gen = torch.Generator().manual_seed(1)
    x = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [0.0, 0.0, 0.0], [-1.0, -0.5, 0.3]])
    spec = make_spec(act, depth)
    K = mf.kernel(spec, x)
    f = random_outputs(x, act, depth, 1.3, 0.2, 1.0, width=128, draws=3000, gen=gen).numpy()
    prods = f[:, :, None] * f[:, None, :]           # E[f f'] = K (mean zero)
    mean, se = prods.mean(0), prods.std(0) / np.sqrt(len(f))
    # finite width 128 shifts the covariance by O(1/N) relative: allow it on top of the MC error
    assert np.all(np.abs(mean - K) <= MC_SIGMAS * se + 0.02 * np.abs(K).max()), (mean, K)


def empirical_ntk(x, act, depth, sw, sb, sa, width, gen, standard=False):
    x = torch.as_tensor(x, dtype=torch.float64)
    params, fan = [], x.shape[1]
    for _ in range(depth):
        params += [torch.randn(fan, width, generator=gen, dtype=torch.float64), torch.randn(width, generator=gen, dtype=torch.float64)]
        fan = width
    params.append(torch.randn(width, 1, generator=gen, dtype=torch.float64))
    if standard:  # W ~ N(0, s^2/n), b ~ N(0, sb^2) as the trained parameters
        fans = [x.shape[1]] + [width] * depth
        params = [p * (sw / fans[i // 2] ** 0.5 if i % 2 == 0 else sb) for i, p in enumerate(params[:-1])] \
            + [params[-1] * sa / width**0.5]

    def f(*ps):
        h, fan = x, x.shape[1]
        for i in range(depth):
            W, b = ps[2 * i], ps[2 * i + 1]
            h = ACTS[act](h @ W + b if standard else h @ W * (sw / fan**0.5) + sb * b)
            fan = width
        return (h @ ps[-1] if standard else h @ ps[-1] * (sa / fan**0.5))[:, 0]

    jac = torch.autograd.functional.jacobian(f, tuple(params))
    J = torch.cat([j.reshape(x.shape[0], -1) for j in jac], dim=1)
    return (J @ J.T).numpy()


@pytest.mark.parametrize("act, depth, standard", [("relu", 2, False), ("erf", 2, False), ("tanh", 1, False),
                                                  ("relu", 1, True), ("erf", 2, True)])
def test_ntk_matches_wide_network(act, depth, standard):
    gen = torch.Generator().manual_seed(2)
    x = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [-1.0, -0.5, 0.3]])
    width = 2048
    spec = make_spec(act, depth, parametrization="standard" if standard else "ntk").with_params(N=width)
    theta = mf.kernel(spec, x, kind="ntk")
    emp = np.mean([empirical_ntk(x, act, depth, 1.3, 0.2, 1.0, width, gen, standard) for _ in range(3)], axis=0)
    # fluctuations of the empirical NTK are O(1/sqrt(N)) relative
    np.testing.assert_allclose(emp, theta, rtol=0.08, atol=0.08 * np.abs(theta).max())
