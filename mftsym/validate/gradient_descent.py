"""Full-batch gradient descent (and minibatch SGD) on the squared error ½Σ(f − y)².

θ ← θ − lr ∇_θ [½ Σ_{μ∈batch} (f(x_μ) − y_μ)² + ½ weight_decay |θ|²].  In the NTK parametrization
at large width, full-batch GD from the prior follows the linearised dynamics of Lee et al. (2019):
f_t − y = (I − lr Θ)^t (f_0 − y) on the training set, compared with :func:`.theory.ntk_predictor`.
GD is stable for lr λ_max(Θ) < 2.  In the ``mu_p`` parametrization ``lr`` is the base rate η₀ and the
raw parameters move with η₀ γ₀² N (``plan.lr_multiplier``; docs/theory/dynamics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .langevin import check_divergence, loss_and_grads
from .observables import readout_norm


@dataclass(frozen=True)
class GradientDescent:
    """Full-batch GD (``batch_size=None``) or SGD with per-member random minibatches."""

    lr: float
    steps: int
    batch_size: int | None = None
    weight_decay: float = 0.0
    record_every: int = 0          # >0: record test predictions every that many steps (learning curve)
    divergence_factor: float = 1e4

    name = "gd"
    default_theories = ("ntk",)
    noise_var = None

    def __post_init__(self):
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.steps < 0:
            raise ValueError("steps must be >= 0")

    def __getstate__(self):      # run-time caches do not travel
        return {k: v for k, v in self.__dict__.items() if k != "_fast"}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def config(self) -> dict:
        return {"trainer": self.name, "lr": self.lr, "steps": self.steps, "batch_size": self.batch_size,
                "weight_decay": self.weight_decay, "record_every": self.record_every}

    def init_accumulators(self, ens, n_test, out_dim):
        n_rec = self.steps // self.record_every if self.record_every else 0
        return {"curve_f": torch.zeros(ens.members, max(n_rec, 1), n_test, out_dim, dtype=torch.float64,
                                       device=ens.device),
                "curve_loss": torch.zeros(ens.members, max(n_rec, 1), dtype=torch.float64, device=ens.device)}

    def step(self, ens, params, gens, xtr, ytr, k, ref_loss, noise_buffers):
        if self.batch_size and self.batch_size < xtr.shape[0]:
            idx = torch.stack([torch.randperm(xtr.shape[0], generator=g, device=xtr.device)[:self.batch_size]
                               for g in gens])                                   # (M, B)
            xb, yb = xtr[idx], ytr[idx]
        else:
            xb, yb = xtr, ytr
        if xb is xtr:
            loss, grads = loss_and_grads(self, ens, params, xb, yb)
        else:
            for p in params:
                p.requires_grad_(True)
            f = ens.forward(params, xb)
            loss = 0.5 * ((f - yb) ** 2).flatten(1).sum(1)
            grads = torch.autograd.grad(loss.sum(), params)
        lr = self.lr * getattr(ens.plan, "lr_multiplier", 1.0)     # mu_p: eta = eta0 gamma0^2 N
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.requires_grad_(False)
                if self.weight_decay:
                    p.mul_(1 - lr * self.weight_decay)
                p.add_(g, alpha=-lr)
        check_divergence(loss.detach(), k, ref_loss, self.divergence_factor,
                         f"gradient descent lr={self.lr:g}: lower lr (try {self.lr / 4:g}); full-batch GD "
                         "needs lr * lambda_max(NTK on the training set) < 2")
        return loss.detach()

    def record(self, ens, params, k, xte, acc, loss):
        if not self.record_every or (k + 1) % self.record_every:
            return
        i = (k + 1) // self.record_every - 1
        with torch.no_grad():
            acc["curve_f"][:, i] = ens.forward(params, xte).to(torch.float64)
            acc["curve_loss"][:, i] = loss.to(torch.float64)

    def finish(self, ens, params, acc, xte=None, xtr=None, ytr=None) -> dict:
        with torch.no_grad():
            f = ens.forward(params, xte).to(torch.float64).cpu().numpy()
            ftr = ens.forward(params, xtr)
            loss = (0.5 * ((ftr - ytr) ** 2).flatten(1).sum(1)).cpu().numpy()
        out = {"mean_f": f, "mean_f2": f * f, "train_loss": loss,
               "qbar": readout_norm(ens, params).cpu().numpy()}
        if self.record_every:
            out["curve_f"] = acc["curve_f"].cpu().numpy()
            out["curve_loss"] = acc["curve_loss"].cpu().numpy()
            out["curve_steps"] = [(i + 1) * self.record_every for i in range(acc["curve_f"].shape[1])]
        return out


__all__ = ["GradientDescent"]
