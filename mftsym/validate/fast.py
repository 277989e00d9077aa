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
    """Loss and gradients of ½Σ(f − y)² per member, for a fixed ensemble and training set.

    The returned gradients live in workspaces owned by this object: they are valid until the
    next call (the samplers and trainers use them at once).
    """

    #: on CPU the (members, P, N) passes run over groups of members whose z and φ take about this
    #: many bytes each (at least 2 members per thread, so each batched matmul keeps every thread
    #: busy), so that they stay in the last-level cache between passes: 1.15x per Langevin step in
    #: float32 and 1.05x in float64 at P = 500, N = 1024, 16 members (2-core EPYC, 32 MiB L3)
    chunk_bytes = 8 << 20

    def __init__(self, ens, x, y):
        found = two_layer_plan(ens.plan)
        if found is None:
            raise ValueError("not a one-hidden-layer network with a supported activation")
        self.hidden, act, self.readout = found
        self.act, self.act_prime_ = _DERIVS[act]
        M, P, N = ens.members, x.shape[0], self.hidden.width
        dt, dev = ens.dtype, ens.device
        self.x = x.to(dt).expand(M, *x.shape)               # (M, P, d) view, no copy
        self.y_row = y.to(dt).T.expand(M, 1, P)             # (M, 1, P) view
        item = torch.empty((), dtype=dt).element_size()
        chunk = M if dev.type != "cpu" or not self.chunk_bytes else \
            max(min(M, 2 * torch.get_num_threads()), self.chunk_bytes // (P * N * item))
        self.chunks = [slice(i, min(i + chunk, M)) for i in range(0, M, chunk)]
        self.z = torch.empty(min(chunk, M), P, N, dtype=dt, device=dev)
        self.phi = torch.empty(min(chunk, M), P, N, dtype=dt, device=dev)
        self.f_row = torch.empty(M, 1, P, dtype=dt, device=dev)
        self.erf = act == "erf"
        self.d = x.shape[1]
        d1 = self.d + (1 if self.hidden.has_bias else 0)
        self.xr = torch.empty(M, P, d1, dtype=dt, device=dev)
        self.g = torch.empty(M, d1, N, dtype=dt, device=dev)
        self.ga_row = torch.empty(M, 1, N, dtype=dt, device=dev)
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
        a_row = a.transpose(1, 2) * ro.w_mult                                 # (M, 1, N), small
        for m in self.chunks:
            self._pass(m, W[m], bias[m], a_row[m], c[m] if c is not None else None)
        if self.erf:
            a_row.mul_(_SQRT_PI)
        g = self.g.mul_(a_row)                                                # (M, d[+1], N)
        loss = 0.5 * self.f_row.square().sum((1, 2))
        grads = [g[:, :self.d].mul_(h.w_mult)]
        if b is not None:
            grads.append(g[:, self.d].mul_(h.b_mult))
        grads.append(self.ga_row.mul_(ro.w_mult).transpose(1, 2))             # (M, N, 1)
        if c is not None:
            grads.append(self.f_row.sum(2).mul_(ro.b_mult))
        return loss, grads

    def _pass(self, m, W, bias, a_row, c):
        """The (members, P, N) work of members ``m``: φ, f, r, ∂a and ∂W/∂b into the workspaces."""
        h, ro = self.hidden, self.readout
        n = W.shape[0]
        z, phi = self.z[:n], self.phi[:n]
        torch.baddbmm(bias, self.x[m], W, alpha=h.w_mult, out=z)               # z = m₁ x W + m_b b
        if self.act is None:
            phi.copy_(z)
        else:
            self.act(z, out=phi)
        # the matrix-vector products as row vector × matrix, (1, N)(N, P) and (1, P)(P, N), which
        # read φ along its rows: the (P, N)(N, 1) forms are 3-8x slower on CPU
        f = torch.bmm(a_row, phi.transpose(1, 2), out=self.f_row[m])            # m₂ φ a, (n, 1, P)
        if c is not None:
            f.add_(c[:, :, None], alpha=ro.b_mult)
        r = f.sub_(self.y_row[m])                                                # residual, in place
        torch.bmm(r, phi, out=self.ga_row[m])                                    # ∂a / m₂ = φᵀ r
        if self.erf:
            # φ' = (2/√π) e^{−z²}, in place (the 2/√π goes into the small (d, N) result below)
            dphi = torch.exp(z.square_().neg_(), out=z)
        else:
            dphi = self.act_prime_(z)
        # dz_{μi} = r_μ φ'_{μi} a_i: fold r into the (P, d) inputs and a into the (d, N) result, so
        # no broadcast pass over (P, N) is needed:  ∂W = m₁ ((x ⊙ r)ᵀ φ') ⊙ a,  ∂b = m_b (rᵀ φ') ⊙ a
        r_col = r.transpose(1, 2)
        if h.has_bias:
            torch.mul(self.x[m], r_col, out=self.xr[m][..., :-1])
            self.xr[m][..., -1:].copy_(r_col)
        else:
            torch.mul(self.x[m], r_col, out=self.xr[m])
        torch.bmm(self.xr[m].transpose(1, 2), dphi, out=self.g[m])


__all__ = ["TwoLayerGrad", "two_layer_plan"]
