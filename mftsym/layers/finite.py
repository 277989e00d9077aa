"""Finite-width torch networks built from a spec, with exactly the spec's parametrization and prior.

Every linear layer (dense, conv) holds *raw* trainable parameters and a fixed multiplier with a
Gaussian prior, by the rules of :mod:`mftsym.layers.parametrization`:

================  ==========================  ======================  ===================
parametrization   pre-activation              raw prior of W          raw prior of b
================  ==========================  ======================  ===================
``ntk``           sqrt(wv/fan_in) x W + sqrt(bv) b   N(0, 1)          N(0, 1)
``standard``      x W + b                     N(0, wv/fan_in)         N(0, bv)
``mean_field``    hidden as ntk; readout (sqrt(wv)/fan_in) x W + sqrt(bv) b, all N(0, 1)
``mu_p``          hidden as ntk; readout (sqrt(wv) x W/N + sqrt(bv/N) b)/gamma0, all N(0, 1)
================  ==========================  ======================  ===================

so at initialisation (and under the prior) the output covariance is the spec's NNGP.  The plan of
a network is the fold of its layers' numeric plans (:func:`mftsym.layers.fold_numeric`); every
plan has one ``forward(params, h)`` on tensors with a leading member axis, which the ensembles,
the single :class:`SpecNetwork`, the samplers and the observables all share.  Inputs are (P, d)
for flat networks and (P, *input_shape) (channels last) for spatial ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch

from ..errors import EvaluationError, SpecError
from ..spec.expressions import make_symbol, parse_expression
from . import NumericContext, fold_numeric, linear_widths
from .activation import ActivationPlan
from .dense import DensePlan
from .torch_activation import torch_activation


@dataclass(frozen=True)
class NetworkPlan:
    """The numbers of a spec at given widths: a sequence of layer plans (DensePlan, ActivationPlan, ...)."""

    layers: tuple
    input_dim: int
    output_dim: int
    parametrization: str
    values: dict             # symbol name -> float used
    input_shape: tuple | None = None

    @property
    def dense(self) -> tuple:
        return tuple(l for l in self.layers if isinstance(l, DensePlan))

    @property
    def is_mlp(self) -> bool:
        """Only dense and activation layers on flat inputs."""
        return self.input_shape is None and all(isinstance(l, (DensePlan, ActivationPlan)) for l in self.layers)

    def param_shapes(self) -> list:
        """[(name, shape, prior_var)] of the raw parameters of one member, in order."""
        out, counts = [], {}
        for l in self.layers:
            kind = type(l).__name__
            out += l.param_shapes(counts.get(kind, 0))
            counts[kind] = counts.get(kind, 0) + 1
        return out

    def n_params(self) -> int:
        return sum(math.prod(s) for _, s, _ in self.param_shapes())

    @property
    def lr_multiplier(self) -> float:
        """eta/eta0: gamma0^2 N in ``mu_p`` (N the readout's fan-in; docs/theory/dynamics.md), 1 otherwise."""
        if self.parametrization != "mu_p" or len(self.dense) < 2:
            return 1.0
        return float(self.values["gamma0"]) ** 2 * self.dense[-1].fan_in

    def forward(self, params, x, stop=None, hidden=None):
        """Fold the layer plans over ``x`` with ``params`` (each with a leading member axis);
        ``stop``: index of the first layer not applied; ``hidden``: list collecting activation outputs."""
        it = iter(params)
        h = x
        if self.input_shape is not None and x.dim() == 2:     # flattened spatial inputs (P, prod(shape))
            h = x.reshape(x.shape[0], *self.input_shape)
        for i, layer in enumerate(self.layers):
            if stop is not None and i >= stop:
                break
            h = layer.forward(it, h)
            if hidden is not None and isinstance(layer, ActivationPlan):
                hidden.append(h)
        return h


def _number(expr, values, where):
    expr = parse_expression(expr, where) if not isinstance(expr, sp.Basic) else expr
    subs = {make_symbol(k): v for k, v in values.items()}
    val = expr.subs(subs)
    if not val.is_number:
        missing = sorted(str(s) for s in val.free_symbols)
        raise SpecError(f"no value for {missing}; give it in [params] or as a width", where)
    return float(val)


def hidden_width_symbols(spec) -> list:
    """Names of the symbolic widths of hidden linear layers (what ``width=N`` sets)."""
    names = []
    for w in linear_widths(spec.network):
        if w.is_Symbol and w.name not in names:
            names.append(w.name)
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
    shape = getattr(spec.network, "input_shape", None)
    if input_dim is not None and shape is not None and int(input_dim) == math.prod(shape):
        input_dim = None                          # flattened spatial inputs: (P, prod(input_shape))
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
    shape = getattr(net, "input_shape", None)
    d = int(round(_number(net.input_dim, values, "network.input_dim")))
    dense = [i for i, layer in enumerate(net.layers) if layer.type == "dense"]
    ctx = NumericContext(values, net.parametrization, tuple(shape[:-1]) if shape else None, d)
    plans, spatial, out = fold_numeric(net.layers, ctx, readout=dense[-1] if dense else None)
    return NetworkPlan(tuple(plans), d, out, net.parametrization, values, shape)


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
        """Outputs (M, P, out) of every member at inputs ``x``: (P, *in) shared or (M, P, *in)."""
        hidden = [] if return_hidden else None
        h = self.plan.forward(params, x.to(self.dtype), hidden=hidden)
        if h.dim() == 2:  # a network without any dense layer acting on members cannot happen
            h = h.expand(self.members, *h.shape)
        return (h, hidden) if return_hidden else h

    __call__ = forward

    def readout_features(self, params, x):
        """The features the readout sees, ``(M, P, fan_in)``: the network without its last dense layer."""
        dense = [i for i, l in enumerate(self.plan.layers) if isinstance(l, DensePlan)]
        h = self.plan.forward(params, x.to(self.dtype), stop=dense[-1])
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

    def forward(self, x):
        """The network at inputs ``x`` (P, *in): the plan's fold with a member axis of one."""
        return self.plan.forward([w[None] for w in self.weights], x)[0]

    def prior_energy(self):
        return sum((p * p).sum() / (2 * v) for p, v in zip(self.weights, self.prior_vars))


def build_module(spec, width=None, input_dim=None, seed: int = 0, dtype=torch.float64) -> SpecNetwork:
    """A single ``torch.nn.Module`` network of ``spec`` at ``width``, drawn from the prior."""
    return SpecNetwork(spec, width, input_dim, seed, dtype)


__all__ = ["ActivationPlan", "DensePlan", "EnsembleNetwork", "NetworkPlan", "SpecNetwork", "build_module", "hidden_width_symbols",
           "member_generators", "network_plan", "spec_values", "torch_activation"]
