"""Hand-written forward/backward of the loss ½Σ(f − y)² for one-hidden-layer ensembles.

For f = m₂ φ(z) a (+ m_c c),  z = m₁ x W (+ m_b b), the gradient is two batched matmuls plus
elementwise work, which autograd spreads over many temporaries:

    r = f − y,   ∂a = m₂ φᵀ r,   ∂c = m_c Σ_μ r,
    dz = m₂ φ'(z) ⊙ (r aᵀ),   ∂W = m₁ xᵀ dz,   ∂b = m_b Σ_μ dz.

Here every (members, P, N) array lives in a preallocated workspace and is updated in place
(``baddbmm`` fuses bias, scale and matmul; ``φ'`` overwrites z), and the factors r_μ and a_i of
dz are folded into the small (P, d) and (d, N) matrices of the weight-gradient matmul, so the
(members, P, N) work is: one matmul write, φ, φ' (erf: square, negate, exp) and two matmul reads.
Used by :class:`~mftsym.validate.Langevin` and :class:`~mftsym.validate.GradientDescent` when the
network has exactly one hidden dense layer with a supported activation (else autograd).
"""

from __future__ import annotations

import math

import torch

from .torch_network import DensePlan

_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_prime_(z):            # in place: z ← 2/√π e^{−z²}
    return z.square_().neg_().exp_().mul_(_SQRT_PI)


def _tanh_prime_(z):           # z ← 1 − tanh²
    return z.tanh_().square_().neg_().add_(1.0)


def _relu_prime_(z):
    return z.gt_(0)


def _identity_prime_(z):
    return z.fill_(1.0)


_DERIVS = {"erf": (torch.erf, _erf_prime_), "tanh": (torch.tanh, _tanh_prime_),
           "relu": (lambda z, out: torch.clamp_min(z, 0.0, out=out), _relu_prime_), "identity": (None, _identity_prime_), "x": (None, _identity_prime_)}


def _act_name(name):
    n = str(name).replace(" ", "").lower()
    return {"erf(x)": "erf", "tanh(x)": "tanh", "max(0,x)": "relu", "relu(x)": "relu", "max(x,0)": "relu"}.get(n, n)


def two_layer_plan(plan):
    """(hidden DensePlan, activation name, readout DensePlan) if the fast path applies, else None."""
    layers = plan.layers
    if len(layers) != 3 or not isinstance(layers[0], DensePlan) or not isinstance(layers[2], DensePlan) \
            or isinstance(layers[1], DensePlan) or plan.output_dim != 1:
        return None
    name = _act_name(layers[1][0])
    if name not in _DERIVS:
        return None
    return layers[0], name, layers[2]


class TwoLayerGrad:
    """Loss and gradients of ½Σ(f − y)² per member, for a fixed ensemble and training set."""

    def __init__(self, ens, x, y):
        found = two_layer_plan(ens.plan)
        if found is None:
            raise ValueError("not a one-hidden-layer network with a supported activation")
        self.hidden, act, self.readout = found
        self.act, self.act_prime_ = _DERIVS[act]
        M, P, N = ens.members, x.shape[0], self.hidden.width
        dt, dev = ens.dtype, ens.device
        self.x = x.to(dt).expand(M, *x.shape)               # (M, P, d) view, no copy
        self.y = y.to(dt).expand(M, *y.shape)
        self.z = torch.empty(M, P, N, dtype=dt, device=dev)
        self.phi = torch.empty(M, P, N, dtype=dt, device=dev)
        self.f = torch.empty(M, P, 1, dtype=dt, device=dev)
        self.erf = act == "erf"
        self.d = x.shape[1]
        self.xr = torch.empty(M, P, self.d + (1 if self.hidden.has_bias else 0), dtype=dt, device=dev)
        self.zero_b = torch.zeros(M, 1, N, dtype=dt, device=dev)
        self.n_hidden = 2 if self.hidden.has_bias else 1

    def __call__(self, params):
        """(loss (M,), [grad per parameter]) at ``params``."""
        h, ro = self.hidden, self.readout
        W, rest = params[0], params[1:]
        b = rest[0] if h.has_bias else None
        a = rest[self.n_hidden - 1]
        c = rest[self.n_hidden] if ro.has_bias else None
        bias = (b[:, None, :] * h.b_mult) if b is not None else self.zero_b
        torch.baddbmm(bias, self.x, W, alpha=h.w_mult, out=self.z)           # z = m₁ x W + m_b b
        if self.act is None:
            self.phi.copy_(self.z)
        else:
            self.act(self.z, out=self.phi)
        torch.bmm(self.phi, a, out=self.f)                                    # (M, P, 1)
        self.f.mul_(ro.w_mult)
        if c is not None:
            self.f.add_(c[:, None, :], alpha=ro.b_mult)
        r = self.f.sub_(self.y)                                               # residual, in place
        loss = 0.5 * r.square().flatten(1).sum(1)
        ga = torch.bmm(self.phi.transpose(1, 2), r).mul_(ro.w_mult)           # (M, N, 1)
        a_row = a.transpose(1, 2) * ro.w_mult                                 # (M, 1, N), small
        if self.erf:
            # φ' = (2/√π) e^{−z²}: two in-place passes (e^{−z²} = exp(−z²) on the squared buffer)
            dphi = torch.exp(self.z.square_().neg_(), out=self.z)
            a_row.mul_(_SQRT_PI)
        else:
            dphi = self.act_prime_(self.z)
        # dz_{μi} = r_μ φ'_{μi} a_i: fold r into the (P, d) inputs and a into the (d, N) result, so no
        # broadcast pass over (M, P, N) is needed:  ∂W = m₁ ((x ⊙ r)ᵀ φ') ⊙ a,  ∂b = m_b (rᵀ φ') ⊙ a
        if h.has_bias:
            torch.mul(self.x, r, out=self.xr[..., :-1])
            self.xr[..., -1:].copy_(r)
        else:
            torch.mul(self.x, r, out=self.xr)
        g = torch.bmm(self.xr.transpose(1, 2), dphi).mul_(a_row)              # (M, d[+1], N)
        grads = [g[:, :self.d].mul_(h.w_mult)]
        if b is not None:
            grads.append(g[:, self.d].mul_(h.b_mult))
        grads.append(ga)
        if c is not None:
            grads.append(r.sum(1).mul_(ro.b_mult))
        return loss, grads


__all__ = ["TwoLayerGrad", "two_layer_plan"]
