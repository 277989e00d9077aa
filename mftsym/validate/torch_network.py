"""Finite-width torch networks built from a spec, with exactly the spec's parametrization and prior.

Every dense layer holds *raw* trainable parameters ``W`` (fan_in x width) and, where
``bias_var != 0``, ``b`` (width), with a fixed multiplier and a Gaussian prior:

================  ==========================  ======================  ===================
parametrization   pre-activation              raw prior of W          raw prior of b
================  ==========================  ======================  ===================
``ntk``           sqrt(wv/fan_in) x W + sqrt(bv) b   N(0, 1)          N(0, 1)
``standard``      x W + b                     N(0, wv/fan_in)         N(0, bv)
``mean_field``    hidden as ntk; readout (sqrt(wv)/fan_in) x W + sqrt(bv) b, all N(0, 1)
``mu_p``          hidden as ntk; readout (sqrt(wv) x W/N + sqrt(bv/N) b)/gamma0, all N(0, 1)
================  ==========================  ======================  ===================

In ``mu_p`` the trainers step the raw parameters with ``lr * plan.lr_multiplier`` =
``lr gamma0^2 N`` (N the readout's fan-in; docs/theory/dynamics.md); otherwise the multiplier is 1.

so at initialisation (and under the prior) the output covariance is the spec's NNGP.  An
*ensemble* stores every parameter with a leading member axis ``(M, ...)`` and evaluates all
members with one batched matmul per layer; :func:`build_module` gives one ``torch.nn.Module``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch

from ..errors import EvaluationError, SpecError
from ..spec.expressions import X, make_symbol, parse_expression
from ..spec.layers import Dense, Nonlinearity


# --------------------------------------------------------------------------- activations
def _builtin_activation(expr):
    """A fast torch function for common activations, or None."""
    if expr == X:
        return lambda z: z
    if expr == sp.Max(0, X):
        return torch.relu
    if expr == sp.erf(X):
        return torch.erf
    if expr == sp.tanh(X):
        return torch.tanh
    if expr == sp.sin(X):
        return torch.sin
    if expr == sp.cos(X):
        return torch.cos
    return None


def torch_activation(fn):
    """A torch callable for an activation (ActivationFunction or SymPy expression in ``x``).

    Built-ins map to native torch functions; anything else is lambdified through the torch
    namespace of :mod:`mftsym.compile.backends` (numeric constants and erf/gamma handled there).
    """
    expr = getattr(fn, "expr", fn)
    fast = _builtin_activation(expr)
    if fast is not None:
        return fast
    from ..compile.backends import lambdify_expr
    raw = lambdify_expr(X, expr, "torch")

    def act(z):
        out = raw(z)
        if not isinstance(out, torch.Tensor) or out.shape != z.shape:
            out = torch.broadcast_to(torch.as_tensor(out, dtype=z.dtype, device=z.device), z.shape)
        return out.to(z.dtype)
    return act


# --------------------------------------------------------------------------- numeric plan
@dataclass(frozen=True)
class DensePlan:
    fan_in: int
    width: int
    w_mult: float          # effective weight = w_mult * raw W
    b_mult: float          # effective bias = b_mult * raw b (0: no bias parameter)
    w_prior_var: float     # prior variance of a raw W entry
    b_prior_var: float

    @property
    def has_bias(self) -> bool:
        return self.b_mult != 0.0 and self.b_prior_var != 0.0


@dataclass(frozen=True)
class NetworkPlan:
    """The numbers of a spec at given widths: a sequence of DensePlan and activation callables."""

    layers: tuple            # DensePlan or (name, callable)
    input_dim: int
    output_dim: int
    parametrization: str
    values: dict             # symbol name -> float used

    @property
    def dense(self) -> tuple:
        return tuple(l for l in self.layers if isinstance(l, DensePlan))

    def param_shapes(self) -> list:
        """[(name, shape, prior_var)] of the raw parameters of one member, in order."""
        out = []
        for i, l in enumerate(self.dense):
            out.append((f"W{i}", (l.fan_in, l.width), l.w_prior_var))
            if l.has_bias:
                out.append((f"b{i}", (l.width,), l.b_prior_var))
        return out

    def n_params(self) -> int:
        return sum(math.prod(s) for _, s, _ in self.param_shapes())

    @property
    def lr_multiplier(self) -> float:
        """eta/eta0: gamma0^2 N in ``mu_p`` (N the readout's fan-in), 1 otherwise."""
        if self.parametrization != "mu_p" or len(self.dense) < 2:
            return 1.0
        return float(self.values["gamma0"]) ** 2 * self.dense[-1].fan_in


def _number(expr, values, where):
    expr = parse_expression(expr, where) if not isinstance(expr, sp.Basic) else expr
    subs = {make_symbol(k): v for k, v in values.items()}
    val = expr.subs(subs)
    if not val.is_number:
        missing = sorted(str(s) for s in val.free_symbols)
        raise SpecError(f"no value for {missing}; give it in [params] or as a width", where)
    return float(val)


def hidden_width_symbols(spec) -> list:
    """Names of the symbolic widths of hidden dense layers (what ``width=N`` sets)."""
    names = []
    for layer in spec.network.dense_layers[:-1]:
        if layer.width.is_Symbol and layer.width.name not in names:
            names.append(layer.width.name)
    return names


def spec_values(spec, width=None, input_dim=None, params=None) -> dict:
    """{name: float}: spec.params, overridden by ``params``, hidden widths set to ``width``
    (an int for every symbolic hidden width, or a {name: int} dict), and d = ``input_dim``."""
    values = {**spec.params, **(params or {})}
    if width is not None:
        if isinstance(width, dict):
            values.update({k: float(v) for k, v in width.items()})
        else:
            for name in hidden_width_symbols(spec):
                values[name] = float(width)
    dim = spec.network.input_dim
    if input_dim is not None:
        if dim.is_Integer and int(dim) != int(input_dim):
            raise EvaluationError(f"the spec has input_dim = {dim} but the data has dimension {input_dim}")
        if dim.is_Symbol:
            values[dim.name] = float(input_dim)
    return values


def network_plan(spec, width=None, input_dim=None, params=None) -> NetworkPlan:
    """Evaluate the spec's widths and variances to numbers (see :func:`spec_values`)."""
    net = spec.network
    values = spec_values(spec, width, input_dim, params)
    d = int(round(_number(net.input_dim, values, "network.input_dim")))
    dense = net.dense_layers
    layers, fan, k = [], d, 0
    for layer in net.layers:
        if isinstance(layer, Nonlinearity):
            layers.append((layer.fn.source, torch_activation(layer.fn)))
            continue
        assert isinstance(layer, Dense)
        width = _number(layer.width, values, f"network.layers[{k}].width")
        if width < 1 or abs(width - round(width)) > 1e-9:
            raise SpecError(f"width must be a positive integer, got {width}", f"dense layer {k}")
        width = int(round(width))
        wv = _number(layer.weight_var, values, f"dense layer {k}.weight_var")
        bv = _number(layer.bias_var, values, f"dense layer {k}.bias_var")
        is_readout = layer is dense[-1]
        p = net.parametrization
        if p == "standard":
            plan = DensePlan(fan, width, 1.0, 1.0 if bv else 0.0, wv / fan, bv)
        elif p == "mu_p" and is_readout and len(dense) > 1:
            g0 = _number("gamma0", values, "params.gamma0 (the richness of the mu_p parametrization)")
            if not g0 > 0:
                raise SpecError(f"gamma0 must be positive, got {g0}", "params.gamma0")
            plan = DensePlan(fan, width, math.sqrt(wv) / (g0 * fan), math.sqrt(bv / fan) / g0, 1.0,
                             1.0 if bv else 0.0)
        elif p == "mean_field" and is_readout:
            plan = DensePlan(fan, width, math.sqrt(wv) / fan, math.sqrt(bv), 1.0, 1.0 if bv else 0.0)
        else:
            plan = DensePlan(fan, width, math.sqrt(wv / fan), math.sqrt(bv), 1.0, 1.0 if bv else 0.0)
        layers.append(plan)
        fan, k = width, k + 1
    return NetworkPlan(tuple(layers), d, fan, net.parametrization, values)


# --------------------------------------------------------------------------- ensemble
class EnsembleNetwork:
    """``members`` independent networks of one plan, evaluated together.

    Parameters are a list of tensors shaped ``(members, *shape)`` (see ``plan.param_shapes()``);
    :meth:`forward` maps inputs ``(P, d)`` (shared) or ``(members, P, d)`` to ``(members, P, out)``.
    """

    def __init__(self, plan: NetworkPlan, members: int, dtype=torch.float64, device="cpu"):
        if members < 1:
            raise EvaluationError(f"an ensemble needs at least one member, got {members}")
        self.plan, self.members = plan, int(members)
        self.dtype, self.device = dtype, torch.device(device)
        self.shapes = plan.param_shapes()
        self.prior_vars = [v for _, _, v in self.shapes]

    @classmethod
    def from_spec(cls, spec, members, width=None, input_dim=None, dtype=torch.float64, device="cpu"):
        return cls(network_plan(spec, width, input_dim), members, dtype, device)

    # -- parameters -----------------------------------------------------------------
    def init_params(self, generators) -> list:
        """Draw every member's raw parameters from the prior; ``generators`` is one
        ``torch.Generator`` per member (so a member's draw does not depend on the ensemble)."""
        out = []
        for _, shape, var in self.shapes:
            t = torch.empty((self.members, *shape), dtype=self.dtype, device=self.device)
            for m, g in enumerate(generators):
                t[m] = torch.randn(shape, generator=g, dtype=self.dtype, device=self.device) * math.sqrt(var)
            out.append(t)
        return out

    def prior_energy(self, params) -> torch.Tensor:
        """-log prior (up to a constant) per member, shape (M,)."""
        e = 0
        for p, var in zip(params, self.prior_vars):
            e = e + (p * p).flatten(1).sum(1) / (2 * var)
        return e

    # -- forward ----------------------------------------------------------------------
    def forward(self, params, x, return_hidden: bool = False):
        h = x.to(self.dtype)
        hidden, it, k = [], iter(params), 0
        for layer in self.plan.layers:
            if isinstance(layer, DensePlan):
                W = next(it)
                h = torch.matmul(h, W) * layer.w_mult
                if layer.has_bias:
                    h = h + layer.b_mult * next(it)[:, None, :]
                k += 1
            else:
                h = layer[1](h)
                if return_hidden:
                    hidden.append(h)
        if h.dim() == 2:  # a network without any dense layer acting on members cannot happen
            h = h.expand(self.members, *h.shape)
        return (h, hidden) if return_hidden else h

    __call__ = forward

    def readout_features(self, params, x):
        """The features the readout sees, ``(M, P, fan_in)``: the network without its last dense layer."""
        h = x.to(self.dtype)
        it = iter(params)
        dense = self.plan.dense
        for layer in self.plan.layers:
            if isinstance(layer, DensePlan):
                if layer is dense[-1]:
                    break
                h = torch.matmul(h, next(it)) * layer.w_mult
                if layer.has_bias:
                    h = h + layer.b_mult * next(it)[:, None, :]
            else:
                h = layer[1](h)
        if h.dim() == 2:
            h = h.expand(self.members, *h.shape)
        return h

    def readout_kernel(self, params, x) -> torch.Tensor:
        """The readout kernel on the rows of ``x``, (M, n, n) float64: the output's covariance given
        every parameter but the readout's, k(x, x') = v_W m_W² φ(x)·φ(x') + v_b m_b² with φ the
        readout's input.  Its prior mean is the NNGP kernel (exactly, for one hidden layer); its
        posterior mean moves by O(1/N): the feature learning the GP limit leaves out."""
        ro = self.plan.dense[-1]
        phi = self.readout_features(params, x.to(self.dtype)).to(torch.float64)
        kern = (ro.w_prior_var * ro.w_mult ** 2) * phi @ phi.transpose(1, 2)
        if ro.has_bias:
            kern = kern + ro.b_prior_var * ro.b_mult ** 2
        return kern

    def conditional_readout_posterior(self, params, xtr, ytr, xte, noise_var):
        """Posterior mean and variance of the output on ``xte`` given every parameter but the readout's,
        ``(M, P*, out)`` each: the readout (W, b) is Gaussian a priori and the likelihood is Gaussian, so
        f | hidden ~ GP with kernel k(x, x') = v_W m_W² φ(x)·φ(x') + v_b m_b² (exact, any depth).
        Averaged over posterior samples of the hidden weights this is a Rao–Blackwellised estimator of
        the posterior mean (same expectation, smaller Monte Carlo variance)."""
        n = len(xtr)
        kern = self.readout_kernel(params, torch.cat([xtr.to(self.dtype), xte.to(self.dtype)], 0))
        K, ks, kss = kern[:, :n, :n], kern[:, n:, :n], torch.diagonal(kern[:, n:, n:], dim1=1, dim2=2)
        A = K + noise_var * torch.eye(n, dtype=K.dtype, device=K.device)
        L = torch.linalg.cholesky(A)
        y = ytr.to(torch.float64).expand(self.members, *ytr.shape)
        mean = ks @ torch.cholesky_solve(y, L)
        v = torch.linalg.solve_triangular(L, ks.transpose(1, 2), upper=False)
        var = kss - (v * v).sum(1)
        return mean, var[..., None].expand_as(mean)

    def first_layer_weights(self, params) -> torch.Tensor:
        """Effective first-layer weights, shape (M, width, d): one row per hidden neuron."""
        return (params[0] * self.plan.dense[0].w_mult).transpose(1, 2)


def member_generators(seed: int, members: int, offset: int = 0, device="cpu") -> list:
    """One torch.Generator per member, seeded by (seed, member index)."""
    gens = []
    for m in range(offset, offset + members):
        g = torch.Generator(device=device)
        g.manual_seed(int(seed) * 1_000_003 + m)
        gens.append(g)
    return gens


# --------------------------------------------------------------------------- single network
class SpecNetwork(torch.nn.Module):
    """One network of a spec as a ``torch.nn.Module`` (raw parameters as in the table above)."""

    def __init__(self, spec_or_plan, width=None, input_dim=None, seed: int = 0, dtype=torch.float64):
        super().__init__()
        plan = spec_or_plan if isinstance(spec_or_plan, NetworkPlan) else network_plan(spec_or_plan, width, input_dim)
        self.plan = plan
        g = torch.Generator().manual_seed(int(seed))
        self.weights = torch.nn.ParameterList()
        self.prior_vars = []
        for _, shape, var in plan.param_shapes():
            self.weights.append(torch.nn.Parameter(torch.randn(shape, generator=g, dtype=dtype) * math.sqrt(var)))
            self.prior_vars.append(var)
        self._acts = [l[1] for l in plan.layers if not isinstance(l, DensePlan)]

    def forward(self, x):
        h, it, a = x, iter(self.weights), iter(self._acts)
        for layer in self.plan.layers:
            if isinstance(layer, DensePlan):
                h = (h @ next(it)) * layer.w_mult
                if layer.has_bias:
                    h = h + layer.b_mult * next(it)
            else:
                h = next(a)(h)
        return h

    def prior_energy(self):
        return sum((p * p).sum() / (2 * v) for p, v in zip(self.weights, self.prior_vars))


def build_module(spec, width=None, input_dim=None, seed: int = 0, dtype=torch.float64) -> SpecNetwork:
    """A single ``torch.nn.Module`` network of ``spec`` at ``width``, drawn from the prior."""
    return SpecNetwork(spec, width, input_dim, seed, dtype)


__all__ = ["DensePlan", "EnsembleNetwork", "NetworkPlan", "SpecNetwork", "build_module", "hidden_width_symbols",
           "member_generators", "network_plan", "spec_values", "torch_activation"]
