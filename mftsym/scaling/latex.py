"""LaTeX of a whole scaling argument: setup, pattern table, optima, phases and boundaries.
Compiles with pdflatex (amsmath only); reuses the project preamble of mftsym.export.latex."""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from ..export.latex import PREAMBLE, _escape_text
from ..io import atomic_write_text
from .derive import KAPPA
from .monomial import Monomial

_NAMES = {"beta_1": r"\beta_{1}", "beta_2": r"\beta_{2}", "beta_3": r"\beta_{3}", "kappa": r"\kappa"}


def _tex(expr) -> str:
    expr = expr.to_sympy() if hasattr(expr, "to_sympy") else expr
    return sp.latex(expr)


def _pattern_tex(p) -> str:
    return r"\text{" + _escape_text(p.name) + "}"


_FAMILY_NOTES = {
    "cnn": ("\n\\noindent CNN with non-overlapping patches: $n$ patches of dimension $p$ ($d=np$), target "
            "$y=n^{-1/2}\\sum_{a=1}^{n}\\mathrm{He}_k(w_*\\cdot x_a)$; a channel's filter is shared by the "
            "patches, so its input dimension is $p$ ($v=1/p$); a flatten readout multiplies $a_y$ by $n$, "
            "a pooled readout does not.\n"),
    "attention": ("\n\\noindent Softmax attention head ($H$ heads) on $L$ tokens $x_t\\in\\mathbb R^d$, target "
                  "$y=\\mathrm{He}_k(w_*\\cdot x_{t_*})$ carried by one token: lazy attention keeps a share "
                  "$1/L$ of it ($\\lambda\\to\\lambda/L$); attention learning boosts the share to $A/L$ "
                  "($1\\le A\\le L$) at cost $HA$; the value channels follow the dense rules with $v=1/d$.\n"),
}


def scaling_document(res) -> str:
    arch = res.architecture
    parts = [PREAMBLE % _escape_text(f"Scaling argument: {Path(str(res.source)).name}, target {res.target.text}")]
    widths = ", ".join(f"${_tex(l.width)}$ ({_escape_text(l.activation.source)})" for l in arch.layers)
    parts.append(
        "Heuristic scaling argument of Rubin, Davidovich \\& Ringel (arXiv:2512.04165), derived by "
        "\\texttt{mftsym scaling}. Inputs $x\\sim\\mathcal N(0,I_{d})$ with "
        f"$d={_tex(arch.input_dim)}$; hidden layers of widths {widths}; "
        f"{_escape_text(arch.parametrization)} parametrization; target $y={res.target.latex}$.\n\n"
        "Learning needs alignment $A_f=\\langle f,y\\rangle/\\langle y,y\\rangle=O(1)$; the prior-to-posterior "
        "bound gives $P_*\\propto\\kappa\\,\\tilde E$ with the variational bound "
        "$\\tilde E=\\sum_l\\sum_i\\Delta_{l,i}+a_y$ (per-neuron costs of leaving the prior plus the target's "
        "norm under the last hidden layer's kernel). Per layer: GP (lazy, $\\lambda=v^m$), GFL (boost $D$, "
        "cost $N D$, $\\lambda=(Dv)^m$), specialisation ($M$ of $N$ neurons, cost $M/v$, $\\lambda=M/N$), "
        "magnetisation ($\\beta$, cost $N\\beta^2/v$, $\\lambda=\\beta^{2m}$); the input carries the target "
        "as $v=1/d$, $m=k$; $a_y\\sim 1/\\lambda_L$ (times $N_L$ in the mean-field parametrization). "
        "Constants are those of the unit-coefficient monomial sum; scaling statements drop them.\n")
    parts.append(_FAMILY_NOTES.get(getattr(arch, "family", "dense"), ""))
    for dr in res.per_degree:
        parts.append(f"\\section*{{Target degree $k={dr.degree}$}}\n")
        parts.append("\\subsection*{Patterns and their costs}\n{\\small\n\\begin{align*}\n")
        rows = []
        for sc in dr.scalings:
            p = sc.pattern
            rows.append(f"{_pattern_tex(p)}:&\\quad \\tilde E = {sp.latex(p.cost_sum(), symbol_names=_sym_names(p))}")
        parts.append(" \\\\\n".join(rows) + "\n\\end{align*}}\n")
        parts.append("\\subsection*{Optima (terms balance)}\n{\\small\n\\begin{align*}\n")
        rows = []
        for sc in dr.scalings:
            p = sc.pattern
            opt = dr.optima.get(p.name)
            if opt is None:
                continue
            vals = ",\\ ".join(f"{sp.latex(sp.Symbol(k, positive=True), symbol_names=_NAMES)}^*={_tex(v)}"
                               for k, v in opt.values.items())
            rows.append(f"{_pattern_tex(p)}:&\\quad \\tilde E^*={_tex(opt.cost)},\\quad {vals}")
        parts.append(" \\\\\n".join(rows) + "\n\\end{align*}}\n")
        parts.append("\\subsection*{Winning pattern per regime}\n{\\small\n\\begin{align*}\n")
        rows = []
        for ph in dr.phases:
            who = ",\\ ".join(r"\text{" + _escape_text(w) + "}" for w in ph.winners)
            vals = ",\\ ".join(dict.fromkeys(
                f"{sp.latex(sp.Symbol(k, positive=True), symbol_names=_NAMES)}\\sim {_tex(v)}"
                for w in ph.values.values() for k, v in w.items() if v is not None))
            region = ",\\ ".join(sp.latex(r) for r in ph.region)
            rows.append(f"&{who}:\\quad P_*\\propto {sp.latex(KAPPA * ph.cost.to_sympy())}"
                        + (f",\\quad {vals}" if vals else "") + (f"\\\\ &\\qquad\\text{{where }} {region}" if region else ""))
        parts.append(" \\\\\n".join(rows) + "\n\\end{align*}}\n")
        if dr.boundaries:
            parts.append("\\subsection*{Phase boundaries}\nEach line: the two phases, then the inequality that "
                         "holds on the first one's side.\n{\\small\n\\begin{itemize}\n")
            for (a, b), ineqs in dr.boundaries.items():
                parts.append(f"\\item {_phase_tex(a)} \\textit{{vs.}} {_phase_tex(b)}: "
                             + ", ".join(f"${sp.latex(i)}$" for i in sorted(ineqs, key=str)) + "\n")
            parts.append("\\end{itemize}}\n")
    parts.append("\\end{document}\n")
    return "".join(parts)


def _phase_tex(key) -> str:
    names, exps = key
    who = " = ".join(_escape_text(n) for n in names)
    return f"{who} ($\\tilde E\\sim {_tex(Monomial(1, dict(exps)))}$)"


def _sym_names(p) -> dict:
    return {sp.Symbol(q.name, positive=True): q.latex for q in p.free}


def write_scaling_latex(path, res) -> Path:
    path = Path(path)
    atomic_write_text(path, scaling_document(res))
    return path


__all__ = ["scaling_document", "write_scaling_latex"]
