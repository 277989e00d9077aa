"""LaTeX export: a derivation as an ``align*`` block, and a compilable amsmath document."""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from ..io import atomic_write_text

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\title{%s}
\date{}
\begin{document}
\maketitle
"""


def _escape_text(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(repl.get(c, c) for c in str(text))


def derivation_to_latex(derivation) -> str:
    """``align*`` lines ``name &= expr`` for each definition, then the equations."""
    names = derivation.symbol_names
    rows = []
    for d in derivation.definitions:
        rows.append(f"{d.latex_name} &= {sp.latex(d.expr, symbol_names=names)}")
    for eq in derivation.equations:
        lhs = sp.latex(eq.lhs, symbol_names=names)
        rhs = sp.latex(eq.rhs, symbol_names=names)
        rows.append(f"{lhs} &= {rhs}")
    if not rows:
        return ""
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def derivations_document(derivations, title: str = "mftsym derivation", preface: str = "") -> str:
    """A complete LaTeX document: one section per derivation, with its notes."""
    parts = [PREAMBLE % _escape_text(title)]
    if preface:
        parts.append(_escape_text(preface) + "\n")
    for der in derivations:
        parts.append(f"\\section*{{{_escape_text(der.title)}}}\n")
        for note in der.notes:
            parts.append(note + "\n")  # notes are LaTeX
        parts.append(derivation_to_latex(der) + "\n")
    parts.append("\\end{document}\n")
    return "\n".join(parts)


def write_latex(path, derivations, title: str = "mftsym derivation", preface: str = "") -> Path:
    path = Path(path)
    atomic_write_text(path, derivations_document(derivations, title, preface))
    return path
