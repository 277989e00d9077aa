"""The one registry of theories: each theory's name, its solver, and how validation compares it.

Every stage reads this table: ``[theory] kind`` in a spec, :func:`mftsym.solve.solve`,
``mftsym solve --theory``, :func:`mftsym.validate.validate` (``theory="..."``) and the main job
``mftsym run`` (which validates the spec's theory next to the NNGP posterior ``"gp"``).

A :class:`Theory` declares

* ``name`` (and ``aliases``, e.g. ``"kr"`` for ``"kernel_renormalization"``);
* ``solver``: ``solve(spec, x_train, y_train, x_test=None, params=None, **options) -> Solution``
  (:class:`~mftsym.solve.solution.Solution`), or None for a reference that is only compared
  (``"ntk"``, ``"linear_exact"``); only theories with a solver may be a spec's ``[theory] kind``;
* ``compare``: ``compare(spec, data, trainer=None) -> dict`` with ``"mean"`` (and optionally
  ``"var"``, ``"readout_kernel"``, ``"equations"``, ``"order_parameters"``, ``"kernel_source"``)
  on ``data.x_test``, the prediction :mod:`mftsym.validate` puts next to the trained ensembles
  (``spec`` has its hidden widths set to the trained width).  Omitted, it is
  :func:`compare_by_solving`: the solver's posterior mean and variance on the test points;
* ``derive``: ``derive(spec) -> [Derivation]``, the action and saddle-point equations that
  ``mftsym derive`` and ``mftsym run`` print for a spec of this kind (optional);
* ``equations``: LaTeX lines shown for the theory in the validation report.

Callables may be given as ``"package.module:function"`` strings, imported on first use, so that
this module imports nothing heavy and no stage above it.

Adding a theory is one registration line at the end of this module, with ``"module:function"``
strings so that nothing is imported before it is used::

    register_theory("my_theory", "mftsym.solve.my_theory:solve", derive="mftsym.solve.my_theory:derivations",
                    equations=(r"\\bar f = ...",), summary="what it is, and its theory note")

after which ``kind = "my_theory"`` works in a spec, in ``mftsym solve`` and ``mftsym run`` and in
``validate(..., theory="my_theory")`` (``dmft`` below is registered this way).  A theory
needing a custom comparison (e.g. to add a readout kernel or to refuse a trainer) passes
``compare=``.  The theory notes are in
``docs/theory/README.md``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..errors import EvaluationError, SpecError


def _resolve(ref):
    if ref is None or callable(ref):
        return ref
    module, _, attr = str(ref).partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Theory:
    """One registered theory (see the module docstring)."""

    name: str
    solver: Callable | str | None = None
    compare: Callable | str | None = None
    derive: Callable | str | None = None
    aliases: tuple = ()
    equations: tuple = ()
    summary: str = ""
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def solvable(self) -> bool:
        return self.solver is not None

    def solve(self, spec, x_train, y_train, x_test=None, params=None, **options):
        """Run the solver (a :class:`SpecError` if the theory has none)."""
        if self.solver is None:
            raise SpecError(f"the theory {self.name!r} has no solver; it is a reference for validation only "
                            f"(solvable: {', '.join(solvable_theories())})", "theory.kind")
        return self._get("solver")(spec, x_train, y_train, x_test, params=params, **options)

    def comparator(self) -> Callable:
        """``compare(spec, data, trainer=None) -> dict`` used by validation."""
        if self.compare is None:
            def compare(spec, data, trainer=None, _theory=self):
                return compare_by_solving(_theory, spec, data, trainer)
            compare.__name__ = self.name
            return compare
        return self._get("compare")

    def derivations(self, spec) -> list:
        """The theory's derivations for ``spec`` (empty when it declares none)."""
        return list(self._get("derive")(spec)) if self.derive is not None else []

    def predict(self, spec, x_train, y_train, x_test) -> dict:
        """``dict(mean=, variance=, order_parameters=)`` of the solver's solution."""
        return self.solve(spec, x_train, y_train, x_test).as_prediction()

    def _get(self, which):
        if which not in self._cache:
            self._cache[which] = _resolve(getattr(self, which))
        return self._cache[which]


_REGISTRY: dict = {}
_ALIASES: dict = {}


def register_theory(name: str, solver=None, *, compare=None, derive=None, aliases=(), equations=(), summary: str = "",
                    replace: bool = False) -> Theory:
    """Register a theory (see the module docstring); ``replace=True`` to redefine an existing name."""
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"a theory name must be an identifier, got {name!r}")
    taken = [n for n in (name, *aliases) if (n in _REGISTRY or n in _ALIASES)
             and _ALIASES.get(n, n) != name]
    if (name in _REGISTRY or taken) and not replace:
        raise SpecError(f"a theory named {(taken or [name])[0]!r} is already registered; pass replace=True "
                        "to redefine it")
    theory = Theory(name, solver, compare, derive, tuple(aliases), tuple(equations), summary)
    _REGISTRY[name] = theory
    for alias in aliases:
        _ALIASES[alias] = name
    return theory


def unregister_theory(name: str) -> None:
    """Remove a registered theory and its aliases (a plugin's clean-up; built-ins can be re-registered)."""
    theory = get_theory(name)
    del _REGISTRY[theory.name]
    for alias in theory.aliases:
        _ALIASES.pop(alias, None)


def get_theory(name: str) -> Theory:
    """The registered theory ``name`` (or alias); a :class:`SpecError` naming the known ones."""
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise SpecError(f"unknown theory {name!r}; known: {', '.join(theory_names())}", "theory.kind")
    return _REGISTRY[key]


def theory_names(aliases: bool = False) -> tuple:
    """Registered names in registration order (``aliases=True`` adds the aliases)."""
    return tuple(_REGISTRY) + (tuple(_ALIASES) if aliases else ())


def solvable_theories() -> tuple:
    """Names of the theories with a solver: the values ``[theory] kind`` may take."""
    return tuple(n for n, t in _REGISTRY.items() if t.solvable)


def compare_by_solving(theory: Theory, spec, data, trainer=None) -> dict:
    """The default comparison: solve the theory on ``data`` (its x_train, y_train, x_test) and
    return its posterior mean and variance on the test points.  The likelihood variance is the
    spec's ``[posterior] noise_var``; a trainer with a different ``noise_var`` is refused."""
    from .values import raw_noise_value
    s2 = getattr(trainer, "noise_var", None)
    if s2 is not None and abs(float(s2) - raw_noise_value(spec)) > 1e-12 * max(1.0, abs(float(s2))):
        raise SpecError(f"the trainer's noise_var={s2} differs from the spec's [posterior] noise_var; "
                        f"{theory.name} reads the spec: set it there", "posterior.noise_var")
    pred = theory.predict(spec, data.x_train, data.y_train, data.x_test)
    if pred.get("mean") is None:
        raise EvaluationError(f"{theory.name} returned no prediction on the test inputs")
    return {"mean": pred["mean"], "var": pred.get("variance"), "kernel_source": "mftsym.solve",
            "order_parameters": dict(pred.get("order_parameters") or {}), "equations": list(theory.equations)}


# --------------------------------------------------------------------------- built-in theories
register_theory(
    "gp", "mftsym.solve.gp:solve_gp", compare="mftsym.solve.predictors:gp_posterior",
    derive="mftsym.solve.derive:gp_derivations",
    summary="NNGP posterior (infinite width), docs/theory/nngp_ntk.md")
register_theory(
    "kernel_renormalization", "mftsym.solve.renormalization:solve_kernel_renormalization", aliases=("kr",),
    derive="mftsym.solve.derive:renormalization_derivations",
    equations=(r"\bar f(x_*) = \bar Q\, k_*^\top (\sigma^2 I + \bar Q K)^{-1} y",
               r"\bar Q = \arg\min_Q\ \tfrac{N}{2}(Q - \ln Q) + \tfrac12 \ln\det(\sigma^2 I + Q K)"
               r" + \tfrac12 y^\top (\sigma^2 I + Q K)^{-1} y"),
    summary="kernel renormalization at finite P/N, docs/theory/kernel_renormalization.md")
register_theory(
    "adaptive_kernel", "mftsym.solve.adaptive:solve_adaptive_kernel",
    derive="mftsym.solve.data_model:adaptive_kernel_derivations",
    equations=(r"\bar f(x_*) = Q_{*X} (Q_{XX} + \sigma^2 I)^{-1} y,\ Q = \sigma_a^2\, "
               r"\langle \phi(w^\top \tilde x)\phi(w^\top \tilde x')\rangle_{w \sim \mathcal N(0, \Sigma)}",
               r"\Sigma^{-1} = \Lambda_0 - \tfrac1N \partial_\Sigma \mathrm{Tr}"
               r"[(\bar t\bar t^\top - (Q+\sigma^2I)^{-1})Q(\Sigma)]"),
    summary="adaptive kernel (any depth: Gaussian closure, or sampled single-neuron measures with "
            "strategy = \"langevin\"), docs/theory/adaptive_kernel.md, docs/theory/deep_adaptive_kernel.md")
register_theory(
    "ntk", compare="mftsym.solve.predictors:ntk_predictor",
    summary="infinite ensemble trained by gradient descent (Lee et al. 2019), docs/theory/nngp_ntk.md")
register_theory(
    "dmft", "mftsym.dynamics:solve_dmft", compare="mftsym.dynamics:compare_dmft",
    derive="mftsym.dynamics:dmft_derivations",
    equations=(r"\partial_t f = \Theta(t)\,(y - f),\ \Theta = \sigma_a^2(\Phi + G\circ K^x)",),
    summary="dynamical mean-field theory of gradient descent in mu_p (two-layer and deep fully connected), docs/theory/dynamics.md")

__all__ = ["Theory", "compare_by_solving", "get_theory", "register_theory", "solvable_theories", "theory_names",
           "unregister_theory"]
register_theory(
    "local_kernel_renormalization", "mftsym.solve.local_renormalization:solve_local_kernel_renormalization",
    aliases=("lkr",), derive="mftsym.solve.local_renormalization:local_renormalization_derivations",
    equations=(r"\bar f(x_*) = k_{Q*}^\top (\sigma^2 I + K_Q)^{-1} y,\ K_Q = \tfrac{\sigma_a^2}{N_p}"
               r" \sum_{ij} Q_{ij} K_{ij}",
               r"Q = \arg\min_Q\ \tfrac{C}{2}(\mathrm{Tr}\,Q - \ln\det Q) + \tfrac12 \ln\det(\sigma^2 I + K_Q)"
               r" + \tfrac12 y^\top (\sigma^2 I + K_Q)^{-1} y"),
    summary="local kernel renormalization of one-hidden-layer CNNs, docs/theory/local_kernel_renormalization.md")
