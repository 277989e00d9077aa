"""What every theory needs from a spec: the noise, the readout, the widths, and the kernel of the
features the readout sees (the network truncated before its last dense layer)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import EvaluationError, SpecError
from ..spec import Dense, Network
from ..spec.expressions import as_expr, make_symbol, parse_expression

THEORIES = ("gp", "kernel_renormalization", "adaptive_kernel", "dmft")


def _value(expr, spec, where, params=None):
    values = {**spec.params, **(params or {})}
    val = as_expr(expr).subs({make_symbol(k): v for k, v in values.items()})
    if not val.is_number:
        missing = sorted(map(str, val.free_symbols))
        raise EvaluationError(f"{where}: no value for {', '.join(missing)}; give it in [params] "
                              f"or with --set NAME=VALUE")
    v = float(val)
    if not np.isfinite(v):
        raise EvaluationError(f"{where}: evaluates to {v}")
    return v


def noise_expression(spec) -> sp.Expr:
    """The likelihood variance σ² of ``[posterior] noise_var`` as a SymPy expression."""
    post = spec.posterior or {}
    if "noise_var" not in post:
        raise SpecError("the spec has no [posterior] noise_var; add one, e.g. noise_var = \"sigma2\" "
                        "with sigma2 in [params]", "posterior.noise_var")
    unknown = set(post) - {"noise_var"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} in [posterior]; known: noise_var", "posterior")
    return parse_expression(post["noise_var"], "posterior.noise_var")


def noise_value(spec, params=None) -> float:
    v = _value(noise_expression(spec), spec, "posterior.noise_var", params)
    if v <= 0:
        raise SpecError(f"noise_var must be positive, got {v}", "posterior.noise_var")
    return v


def theory_kind(spec, default: str = "gp") -> str:
    kind = (spec.theory or {}).get("kind", default)
    if kind not in THEORIES:
        raise SpecError(f"unknown theory kind {kind!r}; use one of {', '.join(THEORIES)}", "theory.kind")
    return kind


def readout(network: Network) -> Dense:
    last = network.layers[-1]
    if not isinstance(last, Dense):
        raise SpecError("the network must end with a dense readout layer for a posterior theory",
                        "network.layers[-1]")
    if not (last.width.is_Integer and int(last.width) == 1):
        raise SpecError(f"the readout must have width 1 (one output), got {last.width}", "network.layers[-1]")
    return last


def readout_variance_expr(network: Network) -> sp.Expr:
    """σ_a² with the kernel normalisation of the spec's parametrization: the readout-level kernel is
    ``readout_variance * E[φφ]``; in mean_field it carries the 1/N of f = (1/N) Σ a φ."""
    ro = readout(network)
    dense = network.dense_layers
    var = ro.weight_var
    if network.parametrization == "mean_field" and len(dense) > 1:
        var = var / dense[-2].width
    return var


def feature_network(network: Network) -> Network | None:
    """The network truncated before its readout (None for a linear model without hidden layers)."""
    readout(network)
    layers = network.layers[:-1]
    if not layers:
        return None
    return Network(tuple(layers), input_dim=network.input_dim, parametrization="ntk")


def hidden_layers(network: Network) -> list:
    """[(index from 1, width expression, activation expression or None)] for each hidden dense layer."""
    from ..spec.layers import Nonlinearity
    out, idx = [], 0
    layers = list(network.layers[:-1])
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            idx += 1
            act = None
            for nxt in layers[i + 1:]:
                if isinstance(nxt, Dense):
                    break
                if isinstance(nxt, Nonlinearity):
                    act = nxt.fn.expr if act is None else nxt.fn.expr.subs(make_symbol("x"), act)
            out.append((idx, layer.width, act))
    return out


def feature_kernel(spec, x, x2=None, params=None, backend: str = "numpy", diag: bool = False):
    """E[φ(h(x)) φ(h(x'))] of the features the readout sees (no readout prior): the NNGP of the
    network truncated before its last dense layer; ``diag=True`` returns only k(x, x)."""
    from .. import derive_kernels
    from ..compile.kernel_fn import evaluate_kernel
    values = {**spec.params, **(params or {})}
    net = feature_network(spec.network)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if diag:
        if net is None:
            return np.einsum("ij,ij->i", x, x) / x.shape[1]
        der = derive_kernels(net, ntk=False)
        from ..compile.chain import compile_chain
        from ..compile.kernel_fn import parameter_env
        chain = compile_chain(der, "numpy", outputs=("nngp_11",))
        env = parameter_env(net, values, x.shape[1])
        env["x11"] = np.einsum("ij,ij->i", x, x)
        return np.broadcast_to(np.asarray(chain(env)["nngp_11"], dtype=float), (len(x),)).copy()
    x2a = x if x2 is None else np.atleast_2d(np.asarray(x2, dtype=float))
    if net is None:
        return x @ x2a.T / x.shape[1]
    der = derive_kernels(net, ntk=False)
    return evaluate_kernel(der, net, x, x2a, kind="nngp", params=values, backend=backend)


def readout_kernel(spec, x, x2=None, params=None, diag=False):
    """The readout-level kernel σ_a² E[φφ] (the NNGP at the output without the readout bias)."""
    var = _value(readout_variance_expr(spec.network), spec, "readout weight_var", params)
    return var * feature_kernel(spec, x, x2, params=params, diag=diag)


def as_targets(y, n=None) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise EvaluationError(f"y_train must have one output per training point, got shape {y.shape}")
    if n is not None and len(y) != n:
        raise EvaluationError(f"y_train has {len(y)} values but x_train has {n} rows")
    if not np.all(np.isfinite(y)):
        raise EvaluationError("y_train contains NaN or inf")
    return y


def as_inputs(x, name, dim=None) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise EvaluationError(f"{name} must be a 2-D array (one input per row), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise EvaluationError(f"{name} contains NaN or inf")
    if dim is not None and x.shape[1] != dim:
        raise EvaluationError(f"{name} has dimension {x.shape[1]} but x_train has {dim}")
    return x


def eig_psd(K):
    """(λ ≥ 0, V) of a symmetric PSD matrix; tiny negative round-off eigenvalues are set to 0."""
    K = 0.5 * (K + K.T)
    lam, V = np.linalg.eigh(K)
    if lam.min() < -1e-8 * max(1.0, abs(lam.max())):
        raise EvaluationError(f"the kernel matrix is not positive semi-definite (eigenvalue {lam.min():.3g})")
    return np.maximum(lam, 0.0), V
