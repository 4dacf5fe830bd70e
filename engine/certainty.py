"""Combining the evidence of several rules into one certainty per cause.

The default algebra is MYCIN's certainty factors. Each rule firing carries a factor in [-1, 1]: positive
supports its cause, negative weakens it. For one cause:

1. one rule that fires several times (once per matching case, say) counts once, with its strongest
   factor: ten cases with the same defect are one piece of evidence, not ten;
2. the factors of different rules are combined: supporting ones with ``a + b(1 - a)``, weakening ones with
   ``a + b(1 + a)``, and the two results with ``(x + y) / (1 - min(|x|, |y|))``.

Combining the supporting and the weakening factors separately before mixing them makes the result
independent of the order of the rules (MYCIN's mixed-sign formula alone is not associative). Certain support
(1.0) against certain refutation (-1.0) is undefined in MYCIN; it gives 0 here.

>>> MycinAlgebra().combine([0.6, 0.5])
0.8
>>> round(MycinAlgebra().combine([0.9, -0.5]), 3)
0.8
"""
from __future__ import annotations

from typing import Iterable, Protocol


class CertaintyAlgebra(Protocol):
    name: str

    def combine(self, factors: Iterable[float]) -> float:
        """Combine the factors of different rules for one cause (each in [-1, 1])."""


class MycinAlgebra:
    name = "mycin"

    @staticmethod
    def _same_sign(factors: list[float]) -> float:
        total = 0.0
        for factor in sorted(factors, key=abs):
            total = total + factor * (1 - abs(total))
        return total

    def combine(self, factors: Iterable[float]) -> float:
        values = list(factors)
        support = self._same_sign([f for f in values if f > 0])
        against = self._same_sign([f for f in values if f < 0])
        if not support or not against:
            return support or against
        conflict = min(abs(support), abs(against))
        if conflict >= 1.0:  # certain support against certain refutation: MYCIN leaves it undefined
            return 0.0
        return (support + against) / (1 - conflict)


class MaxAlgebra:
    """The strongest supporting rule wins; weakening rules subtract. A simple alternative for sites."""

    name = "max"

    def combine(self, factors: Iterable[float]) -> float:
        values = list(factors)
        best = max((f for f in values if f > 0), default=0.0)
        return max(-1.0, min(1.0, best + sum(f for f in values if f < 0)))


ALGEBRAS: dict[str, CertaintyAlgebra] = {"mycin": MycinAlgebra(), "max": MaxAlgebra()}


#: the lower bounds of the certainty bands
HIGH = 0.7
MEDIUM = 0.4
#: a cause at this certainty or above counts as *found*: the exit code, the report's summary, the healthy-corpus
#: check, the check-up, the unexplained-error check and the desk's history all ask :func:`is_found`
FOUND_THRESHOLD = MEDIUM


def is_found(certainty: float) -> bool:
    """Whether a cause of this certainty counts as found (medium or high).

    >>> is_found(0.4), is_found(0.39)
    (True, False)
    """
    return certainty >= FOUND_THRESHOLD


def certainty_band(value: float) -> str:
    """Words for a certainty: the report and the healthy-corpus check use the same bands."""
    if value >= HIGH:
        return "high"
    if value >= MEDIUM:
        return "medium"
    return "low"
