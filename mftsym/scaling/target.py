"""The target: a Hermite polynomial of a hidden direction, ``y = He_k(w*.x)``, or a sum of them.

Parsed from a short text ("He3", "He1 + He3", "2*He3 + He5") without eval: tokens are checked
against a fixed grammar.  For a sum, the engine derives each degree separately; learning the whole
sum (alignment O(1) with every component) needs the largest of their P*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SpecError

_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d*)?)\s*\*\s*)?He\s*_?\s*(\d+)\s*$")


@dataclass(frozen=True)
class HermiteTarget:
    """``y = sum_j a_j He_{k_j}(w*.x)`` with |w*| = 1; ``degrees`` sorted, unique."""

    degrees: tuple
    text: str

    @property
    def latex(self) -> str:
        return " + ".join(rf"\mathrm{{He}}_{{{k}}}(w_*\cdot x)" for k in self.degrees)


def parse_target(text: str) -> HermiteTarget:
    """``"He3"`` -> HermiteTarget((3,)); ``"He1 + He3"`` -> (1, 3).  Degrees must be >= 1."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("the target must be a text like 'He3' or 'He1 + He3'", "--target")
    degrees = set()
    for part in text.split("+"):
        m = _TERM.match(part)
        if not m:
            raise SpecError(f"cannot read target term {part.strip()!r}; write Hermite terms like 'He3' "
                            "or '2*He3', joined by '+'", "--target")
        k = int(m.group(2))
        if k < 1:
            raise SpecError(f"target degree must be >= 1 (He0 is a constant), got He{k}", "--target")
        if k > 12:
            raise SpecError(f"target degree {k} is above the supported maximum 12", "--target")
        degrees.add(k)
    return HermiteTarget(tuple(sorted(degrees)), text.strip())


__all__ = ["HermiteTarget", "parse_target"]
