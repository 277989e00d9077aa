"""Langevin sampling of the exact Bayesian posterior of a finite-width network.

Target (docs/theory/conventions.md):  p(θ | D) ∝ p₀(θ) exp(−Σ_μ (f(x_μ) − y_μ)² / (2σ²)),  with p₀ the
spec's Gaussian prior on the raw parameters (see :mod:`.torch_network`).  With the potential
U(θ) = Σ θ²/(2 v_θ) + Σ_μ (f − y)²/(2σ²) and the constant diagonal preconditioner v_θ (each raw
parameter's prior variance) the dynamics is dθ = −v_θ ∇U dt + √(2 v_θ) dW, whose stationary
distribution is the posterior.  Two discretisations with step ε (``integrator=``):

* ``"ou"`` (the default; an exponential / Ornstein–Uhlenbeck integrator): the prior part
  dθ = −θ dt + √(2 v_θ) dW is integrated *exactly* over the step, the likelihood force is held
  fixed over it::

      θ ← e^{−ε} θ − (1 − e^{−ε}) v_θ ∇_θ Σ(f − y)²/(2σ²) + √((1 − e^{−2ε}) v_θ) ξ,   ξ ~ N(0, I).

  With no data the chain samples the prior exactly, at any ε.  The O(ε) bias left is the
  likelihood's: in a Gaussian direction whose whitened precision is λ = 1 + λ_L (1 from the prior,
  λ_L ≈ eig(Θ_white)/σ² from the likelihood, Θ_white the NTK in whitened coordinates) the sampled
  variance is (1/λ)·(1 − h/2)/(1 − hλ/2) with h = 1 − e^{−ε}, i.e. a relative bias
  ≈ ε λ_L/2 -- zero for the prior-dominated directions (most weights of a wide layer) and ε λ_L/2
  in the data-constrained ones; the mean of a Gaussian target is exact.  Stable for hλ < 2.
* ``"euler"`` (Euler–Maruyama)::

      θ ← θ − ε θ − ε v_θ ∇_θ Σ (f − y)²/(2σ²) + √(2 ε v_θ) ξ.

  The sampled variance is 1/(λ(1 − ελ/2)): a relative bias ελ/2 in *every* direction, including
  ε/2 on each prior-dominated weight.  That inflation rescales a wide layer's kernel by 1 + ε/2,
  a bias of the same form as the finite-width kernel renormalization Q̄ − 1 = O(1/N) and as large
  as it at N ~ 1/ε -- so Euler is not suited to finite-width (1/N) studies.  Kept for comparison
  and for runs recorded with it (their fingerprints are unchanged).  Stable for ελ < 2.

For either, choose ε ≲ 0.05 σ² / λ_max(Θ) (so that ε λ_L ≲ 0.05 and the likelihood bias is a few
percent at most); halving ε should change measured observables by less than their standard
errors -- check it.

Rao–Blackwellisation (``rao_blackwell=True``): at every recorded sample the readout layer is also
integrated out exactly -- given the hidden weights the output is a GP with the empirical readout
kernel, whose posterior mean/variance on the test points are closed-form
(:meth:`EnsembleNetwork.conditional_readout_posterior`).  Their sample averages (``rb_mean_f``,
``rb_mean_f2`` = ⟨m² + v⟩) estimate the same posterior moments as ``mean_f``/``mean_f2`` with far
less Monte Carlo noise: the readout's noise is gone and what remains is the O(1/√N) fluctuation of
the hidden-layer kernel, which is what finite-width (1/N) studies need to resolve.

μP (``parametrization = "mu_p"``): the likelihood force carries the learning-rate multiplier γ₀²N that
gradient descent's step carries (``plan.lr_multiplier``; the runner sets the effective noise σ²/(γ₀²N)),
so the chain samples p₀(θ) exp(−γ₀²N Σ(f − y)²/(2σ²)).  With f = f_ntk/(γ₀√N) this is, raw parameter
for raw parameter, the ``ntk`` network's chain on the targets γ₀√N y (same step, same stability
condition ε λ_max(Θ_ntk)/σ² < 2 at every width); the function-space posterior mean at γ₀ → 0 is the
ntk GP's, its spread O(1/(γ₀√N)) (docs/theory/dynamics.md).

Burn-in steps are discarded; afterwards every ``thin``-th state is recorded.  Each ensemble member
is an independent chain (its own generator), so member averages are independent and the
across-member standard error is honest; split-R̂ over members is reported per test point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import TrainingDivergedError
from .member_noise import NOISE_MODES, draw_noise
from .observables import readout_norm, split_rhat


@dataclass(frozen=True)
class Langevin:
    """Langevin sampler of the posterior (see the module docstring): ``integrator="ou"`` (default,
    prior part exact, O(ε) bias only in likelihood-constrained directions) or ``"euler"``.

    ``noise`` chooses where the noise comes from (:mod:`.member_noise`): ``"member"`` (one generator
    per member; the default on CPU), ``"chunk"`` (one call per parameter tensor for the whole
    chunk; the default on a GPU) or ``"auto"``.
    ``noise_var`` None takes σ² from the spec's ``[posterior] noise_var``.  ``max_samples`` bounds
    the stored per-sample test predictions used for split-R̂ (running sums use every sample).
    """

    step_size: float
    steps: int
    burn_in: int = 0
    thin: int = 10
    noise_var: float | None = None
    divergence_factor: float = 1e6
    max_samples: int = 2000
    rao_blackwell: bool = True
    integrator: str = "ou"
    noise: str = "auto"

    name = "langevin"
    default_theories = ("gp",)

    def __post_init__(self):
        if not (self.step_size > 0 and math.isfinite(self.step_size)):
            raise ValueError(f"step_size must be positive, got {self.step_size}")
        if self.steps <= self.burn_in:
            raise ValueError(f"steps ({self.steps}) must exceed burn_in ({self.burn_in}) to record samples")
        if self.thin < 1:
            raise ValueError("thin must be >= 1")
        if self.integrator not in ("euler", "ou"):
            raise ValueError(f"integrator must be 'euler' or 'ou', got {self.integrator!r}")
        if self.noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, got {self.noise!r}")

    def __getstate__(self):      # run-time caches (workspaces, the training set) do not travel
        return {k: v for k, v in self.__dict__.items() if k not in ("_fast", "_train")}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def config(self) -> dict:
        return {"trainer": self.name, "step_size": self.step_size, "steps": self.steps, "burn_in": self.burn_in,
                "thin": self.thin, "noise_var": self.noise_var, "rao_blackwell": self.rao_blackwell,
                # "euler" is left out so that runs recorded when it was the default keep their
                # fingerprints (and caches); "ou" has always been written out
                **({"integrator": self.integrator} if self.integrator != "euler" else {}),
                **({"noise": self.noise} if self.noise != "auto" else {})}

    def n_samples(self) -> int:
        return len(range(self.burn_in + self.thin - 1, self.steps, self.thin))

    def trace_every(self) -> int:
        """Every how many steps the training loss is traced (about 200 points over the run,
        burn-in included, for the report's learning curves)."""
        return max(1, self.steps // 200)

    # -- protocol used by runner.run_ensemble -----------------------------------------
    def init_accumulators(self, ens, n_test, out_dim):
        M, dt, dev = ens.members, ens.dtype, ens.device
        n_keep = min(self.n_samples(), self.max_samples)
        return {"sum_f": torch.zeros(M, n_test, out_dim, dtype=torch.float64, device=dev),
                "sum_f2": torch.zeros(M, n_test, out_dim, dtype=torch.float64, device=dev),
                "sum_loss": torch.zeros(M, dtype=torch.float64, device=dev),
                "sum_qbar": torch.zeros(M, dtype=torch.float64, device=dev),
                "count": torch.zeros(M, dtype=torch.float64, device=dev),
                "rb_sum_f": torch.zeros(M, n_test, out_dim, dtype=torch.float64, device=dev),
                "rb_sum_f2": torch.zeros(M, n_test, out_dim, dtype=torch.float64, device=dev),
                "samples": torch.zeros(M, n_keep, n_test, dtype=dt, device=dev),
                "curve_loss": torch.zeros(M, -(-self.steps // self.trace_every()), dtype=torch.float64, device=dev),
                **({"sum_kread": torch.zeros(M, n_test, n_test, dtype=torch.float64, device=dev)}
                   if len(ens.plan.dense) > 1 else {})}

    def step(self, ens, params, gens, xtr, ytr, k, ref_loss, noise_buffers):
        s2 = self._s2
        eps = self.step_size
        object.__setattr__(self, "_train", (xtr, ytr))
        loss, grads = loss_and_grads(self, ens, params, xtr, ytr)
        with torch.no_grad():
            draw_noise(noise_buffers, gens, self.noise)
            for p, g, v, buf in zip(params, grads, ens.prior_vars, noise_buffers):
                if self.integrator == "ou":
                    a = math.exp(-eps)
                    p.mul_(a).add_(g, alpha=-(1 - a) * v / s2).add_(buf, alpha=math.sqrt((1 - a * a) * v))
                else:
                    p.mul_(1 - eps).add_(g, alpha=-eps * v / s2).add_(buf, alpha=math.sqrt(2 * eps * v))
        check_divergence(loss.detach(), k, ref_loss, self.divergence_factor,
                         f"Langevin step_size={eps:g}: lower step_size (try {eps / 4:g}); stability needs "
                         f"step_size * lambda_max < 2 with lambda_max ~ lambda_max(NTK)/noise_var "
                         f"(noise_var={s2:g})")
        return loss.detach()

    def record(self, ens, params, k, xte, acc, loss):
        if k % self.trace_every() == 0 and "curve_loss" in acc:     # a run resumed from an older checkpoint has none
            acc["curve_loss"][:, k // self.trace_every()] = loss
        if k < self.burn_in or (k - self.burn_in) % self.thin != self.thin - 1:
            return
        with torch.no_grad():
            f = ens.forward(params, xte).to(torch.float64)
            i = int(acc["count"][0].item())
            acc["sum_f"] += f
            acc["sum_f2"] += f * f
            acc["sum_loss"] += loss.to(torch.float64)
            acc["sum_qbar"] += readout_norm(ens, params).to(torch.float64)
            if "sum_kread" in acc:
                acc["sum_kread"] += ens.readout_kernel(params, xte)
            acc["count"] += 1
            train = getattr(self, "_train", None)
            if self.rao_blackwell and train is not None and "rb_sum_f" in acc:
                m, v = ens.conditional_readout_posterior(params, train[0], train[1], xte, self._s2)
                acc["rb_sum_f"] += m
                acc["rb_sum_f2"] += m * m + v
            if i < acc["samples"].shape[1]:
                acc["samples"][:, i] = f[..., 0].to(acc["samples"].dtype)

    def finish(self, ens, params, acc, xte=None, xtr=None, ytr=None) -> dict:
        n = acc["count"][:, None, None].cpu().numpy()
        mean_f = acc["sum_f"].cpu().numpy() / n
        mean_f2 = acc["sum_f2"].cpu().numpy() / n
        kept = int(min(acc["count"][0].item(), acc["samples"].shape[1]))
        samples = acc["samples"][:, :kept].cpu().numpy()
        out = {"mean_f": mean_f, "mean_f2": mean_f2, "train_loss": acc["sum_loss"].cpu().numpy() / n[:, 0, 0],
                "qbar": acc["sum_qbar"].cpu().numpy() / n[:, 0, 0],
                "rhat": split_rhat(samples) if ens.members > 1 else np.full(samples.shape[2:], np.nan),
                "n_samples": kept}
        if "sum_kread" in acc:
            out["readout_kernel"] = acc["sum_kread"].cpu().numpy() / n
        if "curve_loss" in acc:
            out["curve_loss"] = acc["curve_loss"].cpu().numpy()
            out["curve_steps"] = list(range(1, self.steps + 1, self.trace_every()))
        if self.rao_blackwell and "rb_sum_f" in acc:
            out["rb_mean_f"] = acc["rb_sum_f"].cpu().numpy() / n
            out["rb_mean_f2"] = acc["rb_sum_f2"].cpu().numpy() / n
        return out


def loss_and_grads(owner, ens, params, xtr, ytr):
    """(loss per member, gradients) of ½Σ(f − y)²: the hand-written one-hidden-layer path of
    :mod:`.fast` where it applies (cached on ``owner`` per ensemble and training set), else autograd."""
    from .fast import TwoLayerGrad, two_layer_plan
    key = (ens, xtr, ytr)        # the objects themselves (held), so a reused id cannot hit a stale cache
    cache = owner.__dict__.get("_fast")
    if cache is None or any(a is not b for a, b in zip(cache[0], key)):
        fast = TwoLayerGrad(ens, xtr, ytr) if two_layer_plan(ens.plan) is not None else None
        object.__setattr__(owner, "_fast", (key, fast))
        cache = owner.__dict__["_fast"]
    if cache[1] is not None:
        with torch.no_grad():
            return cache[1](params)
    for p in params:
        p.requires_grad_(True)
    f = ens.forward(params, xtr)
    loss = 0.5 * ((f - ytr) ** 2).flatten(1).sum(1)
    grads = torch.autograd.grad(loss.sum(), params)
    for p in params:
        p.requires_grad_(False)
    return loss.detach(), grads


def check_divergence(loss, k, ref_loss, factor, advice):
    """Raise TrainingDivergedError if any member's loss is NaN/inf or exceeds factor × ref_loss."""
    finite = torch.isfinite(loss)
    if not bool(finite.all()):
        m = int((~finite).nonzero()[0, 0])
        raise TrainingDivergedError(f"training diverged at step {k}: member {m} has a non-finite loss. {advice}")
    worst = float(loss.max())
    if worst > factor * ref_loss:
        m = int(loss.argmax())
        raise TrainingDivergedError(f"training diverged at step {k}: member {m} loss {worst:.3g} exceeds "
                                    f"{factor:g} x its reference {ref_loss:.3g}. {advice}")


__all__ = ["Langevin", "check_divergence", "loss_and_grads"]
