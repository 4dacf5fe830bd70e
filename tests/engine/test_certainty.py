"""The certainty algebra: bounded, order-independent, monotone."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nnunet_doctor.engine.certainty import ALGEBRAS, MycinAlgebra, certainty_band

FACTORS = st.lists(st.floats(min_value=-1, max_value=1, allow_nan=False).filter(lambda f: abs(f) < 1), max_size=8)


def test_mycin_examples() -> None:
    algebra = MycinAlgebra()
    assert algebra.combine([0.6, 0.5]) == 0.8
    assert round(algebra.combine([0.9, -0.5]), 9) == 0.8
    assert round(algebra.combine([-0.6, -0.5]), 9) == -0.8
    assert algebra.combine([]) == 0.0
    assert algebra.combine([0.7]) == 0.7


def test_certain_support_against_certain_refutation_is_zero_not_a_crash() -> None:
    # found by hypothesis: both sides round to exactly 1.0
    assert MycinAlgebra().combine([0.5, 0.9999999999999999, -0.5, -0.9999999999999999]) == 0.0


@given(FACTORS, st.randoms())
def test_combination_is_bounded_and_order_independent(factors: list[float], rnd) -> None:
    for algebra in ALGEBRAS.values():
        value = algebra.combine(factors)
        assert -1 <= value <= 1
        shuffled = list(factors)
        rnd.shuffle(shuffled)
        assert abs(algebra.combine(shuffled) - value) < 1e-9


@given(FACTORS, st.floats(min_value=0, max_value=0.99))
def test_more_support_never_lowers_the_certainty(factors: list[float], extra: float) -> None:
    algebra = MycinAlgebra()
    assert algebra.combine(factors + [extra]) >= algebra.combine(factors) - 1e-9


def test_bands() -> None:
    assert [certainty_band(v) for v in (0.95, 0.7, 0.5, 0.4, 0.39, 0.0)] == ["high", "high", "medium", "medium", "low", "low"]
