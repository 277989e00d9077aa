"""Per-sample neuron statistics of a two-layer network's Langevin posterior (study B3, README.md).

``NeuronTrace`` is the harness's :class:`mftsym.validate.langevin.Langevin` sampler (same chain,
same config and fingerprint) that, at every *recorded* sample, also stores each hidden neuron's
target overlap w_i·w*, squared norm |w_i|² and readout a_i, so that specialisation can be measured
on the posterior samples instead of the final state only (the runner returns the final state's
overlaps).  Set the teacher direction with :meth:`NeuronTrace.with_direction`.

Statistics (docs/theory/scaling.md, two-layer erf on He3: M* = sqrt(N/d) specialised neurons):

* ``participation(q) = (sum_i q_i)^2 / sum_i q_i^2`` per sample;
* q_i = a_i^2 (w_i.w*)^2 / |w_i|^2  (readout-weighted target overlap);
* He3 share t_i = a_i (w_i.w*)^3 / (1 + 2|w_i|^2)^{3/2}: for x ~ N(0, I),
  E[erf(w.x) He3(w*.x)] = -(4/sqrt(pi)) (w.w*)^3 / (1 + 2|w|^2)^{3/2} (Stein's lemma thrice), so
  sum_i a_i E[erf(w_i.x) He3(w*.x)] is the network's exact He3(w*.x) component;
* ``m_frac(q, 0.5)``: the fewest neurons whose largest q_i carry half of sum_i q_i.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mftsym.validate.langevin import Langevin


class NeuronTrace(Langevin):
    """Langevin sampler that records (overlap, norm2, readout) per neuron at every recorded sample."""

    def with_direction(self, direction):
        w = np.asarray(direction, float)
        object.__setattr__(self, "_direction", w / np.linalg.norm(w))
        return self

    def init_accumulators(self, ens, n_test, out_dim):
        acc = super().init_accumulators(ens, n_test, out_dim)
        acc["neuron_trace"] = []
        return acc

    def record(self, ens, params, k, xte, acc, loss):
        super().record(ens, params, k, xte, acc, loss)
        if k < self.burn_in or (k - self.burn_in) % self.thin != self.thin - 1:
            return
        with torch.no_grad():
            w = ens.first_layer_weights(params).to(torch.float64)            # (M, N, d)
            ws = torch.as_tensor(self._direction, dtype=torch.float64, device=w.device)
            ro = ens.plan.dense[-1]
            a = (params[-1] * ro.w_mult).to(torch.float64)[..., 0]            # (M, N): no readout bias here
            acc["neuron_trace"].append(torch.stack([w @ ws, (w * w).sum(-1), a]).cpu().numpy().astype(np.float32))

    def finish(self, ens, params, acc, xte=None, xtr=None, ytr=None) -> dict:
        out = super().finish(ens, params, acc, xte=xte, xtr=xtr, ytr=ytr)
        tr = np.stack(acc["neuron_trace"], 1)                                # (3, samples, M, N)
        out["trace_overlap"], out["trace_norm2"], out["trace_readout"] = (tr[i].transpose(1, 0, 2) for i in range(3))
        return out                                                          # each (M, samples, N)


def participation(q, axis=-1):
    q = np.asarray(q, float)
    return q.sum(axis) ** 2 / np.maximum((q * q).sum(axis), 1e-300)


def m_frac(q, frac=0.5, axis=-1):
    q = np.sort(np.moveaxis(np.asarray(q, float), axis, -1), -1)[..., ::-1]
    c = np.cumsum(q, -1) / np.maximum(q.sum(-1, keepdims=True), 1e-300)
    return (c < frac).sum(-1) + 1


def neuron_weights(overlap, norm2, readout):
    """(q, t): readout-weighted target overlap q_i and He3 share t_i (see the module docstring)."""
    overlap, norm2, readout = (np.asarray(x, float) for x in (overlap, norm2, readout))
    q = readout**2 * overlap**2 / norm2
    t = readout * overlap**3 / (1 + 2 * norm2) ** 1.5
    return q, t


HE3_C = -4 / math.sqrt(math.pi)      # E[erf(w.x) He3(w*.x)] = HE3_C t_i / a_i


def chain_statistics(out, theta=0.7):
    """Per chain (member): sample averages of the participation counts and threshold counts,
    plus first/second half of the recorded samples for the primary M_eff (drift check)."""
    q, t = neuron_weights(out["trace_overlap"], out["trace_norm2"], out["trace_readout"])   # (M, S, N)
    meff = participation(q)                         # (M, S)
    cos = np.abs(out["trace_overlap"]) / np.sqrt(out["trace_norm2"])
    half = meff.shape[1] // 2
    return {"m_eff": meff.mean(1).tolist(), "m_eff_first_half": meff[:, :half].mean(1).tolist(),
            "m_eff_second_half": meff[:, half:].mean(1).tolist(),
            "m_he3": participation(t * t).mean(1).tolist(), "m_50": m_frac(q, 0.5).mean(1).tolist(),
            "n_spec_avg": (cos > theta).sum(-1).mean(1).tolist(),
            "q_frac_aligned": ((q * (cos > theta)).sum(-1) / q.sum(-1)).mean(1).tolist(),   # diagnostic
            "n_spec_final": (np.abs(out["overlap"]) / np.sqrt(out["norm2"]) > theta).sum(-1).tolist(),
            "n_samples": int(meff.shape[1])}


def prior_m_eff(d, N, draws=4000, seed=0):
    """Monte Carlo mean of M_eff (and of the He3-share count) under the prior: w_i ~ N(0, I/d), a_i ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((draws, N, d)) / math.sqrt(d)
    a = rng.standard_normal((draws, N))
    q, t = neuron_weights(w[..., 0], (w * w).sum(-1), a)
    return float(participation(q).mean()), float(participation(t * t).mean())
