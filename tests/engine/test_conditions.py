"""The condition language: parsing, checking against the vocabulary, and three-valued evaluation."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnunet_doctor.engine.condition_parser import compile_condition
from nnunet_doctor.engine.evaluation import UNKNOWN, ConditionError, evaluate
from nnunet_doctor.engine.facts import Fact, FactBase, Provenance, Record, Unknown
from nnunet_doctor.engine.sources import Source
from nnunet_doctor.engine.vocabulary import FactSpec, FieldSpec, Vocabulary


def vocabulary() -> Vocabulary:
    v = Vocabulary()
    for name, type_name in [("a", "bool"), ("b", "bool"), ("c", "bool"), ("n", "float"), ("m", "int"), ("s", "str"),
                            ("torch.version", "version"), ("names", "list[str]"), ("values", "list[float]")]:
        v.declare(FactSpec(name, type_name, name, "test", f"the {name} probe"))
    v.declare(FactSpec("cases", "collection", "cases", "dataset", "--dataset", fields={
        "id": FieldSpec("id", "str"), "ratio": FieldSpec("ratio", "float"), "labels": FieldSpec("labels", "list[int]")}))
    v.declare(FactSpec("gpu0", "record", "a gpu", "gpu", "gpu probe", fields={"free": FieldSpec("free", "float")}))
    return v


def base(**values: Any) -> FactBase:
    facts = FactBase()
    for name, value in values.items():
        name = name.replace("__", ".")
        if name == "cases":
            value = [Record(item, Provenance(Source.probe("dataset"), detail=item.get("id"))) for item in value]
        facts.add(Fact(name, value, Provenance(Source.probe("test"))))
    return facts


def run(text: str, facts: FactBase) -> Any:
    condition, problems = compile_condition(text, vocabulary())
    assert not problems, problems
    assert condition is not None
    return evaluate(condition, facts)


def value(text: str, **facts: Any) -> Any:
    return run(text, base(**facts)).value


# -- Kleene tables -------------------------------------------------------------------------------------

T, F, U = True, False, UNKNOWN
AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}


def facts_for(left: Any, right: Any) -> FactBase:
    given_values = {}
    if left is not UNKNOWN:
        given_values["a"] = left
    if right is not UNKNOWN:
        given_values["b"] = right
    return base(**given_values)


@pytest.mark.parametrize(("left", "right"), list(AND))
def test_and_follows_kleene(left: Any, right: Any) -> None:
    assert run("a and b", facts_for(left, right)).value is AND[(left, right)]


@pytest.mark.parametrize(("left", "right"), list(OR))
def test_or_follows_kleene(left: Any, right: Any) -> None:
    assert run("a or b", facts_for(left, right)).value is OR[(left, right)]


def test_not_unknown_is_unknown() -> None:
    assert value("not a") is UNKNOWN
    assert value("not a", a=False) is True


def test_unknown_result_names_only_the_facts_that_kept_it_undecided() -> None:
    result = run("(a and n > 1) or s == 'x'", base(a=False))
    assert result.value is UNKNOWN
    assert result.unknowns == {"s"}  # `a and ...` is false whatever n is: n did not matter


def test_an_explicit_unknown_is_unknown_not_false() -> None:
    facts = FactBase()
    facts.add(Fact("n", Unknown("GPU probe timed out after 20 s"), Provenance(Source.probe("gpu"))))
    result = run("n < 100", facts)
    assert result.value is UNKNOWN and result.unknowns == {"n"}


def test_exists_and_unknown_are_never_unknown() -> None:
    assert value("exists n") is False
    assert value("unknown n") is True
    assert value("exists n", n=1.0) is True


@given(st.sampled_from([T, F, U]), st.sampled_from([T, F, U]))
def test_de_morgan_holds_in_three_valued_logic(left: Any, right: Any) -> None:
    facts = facts_for(left, right)
    assert run("not (a and b)", facts).value is run("not a or not b", facts).value
    assert run("not (a or b)", facts).value is run("not a and not b", facts).value


@given(st.sampled_from([T, F, U]), st.sampled_from([T, F, U]), st.sampled_from([T, F, U]))
@settings(max_examples=60)
def test_and_or_are_commutative_and_associative(x: Any, y: Any, z: Any) -> None:
    facts = base(**{k: v for k, v in {"a": x, "b": y, "c": z}.items() if v is not UNKNOWN})
    assert run("a and b", facts).value is run("b and a", facts).value
    assert run("(a or b) or c", facts).value is run("a or (b or c)", facts).value


# -- comparisons, arithmetic, functions ----------------------------------------------------------------

def test_comparisons_and_arithmetic() -> None:
    assert value("n * 2 + 1 > 6", n=3.0) is True
    assert value("m % 2 == 1 and -m < 0", m=3) is True
    assert value("n / m > 1", n=1.0, m=0) is UNKNOWN  # division by zero cannot be established


def test_arithmetic_with_an_unknown_is_unknown() -> None:
    assert value("n + 1 > 0") is UNKNOWN


def test_version_facts_compare_as_versions() -> None:
    assert value('torch.version >= "2.6"', torch__version="2.13.0+cu121") is True
    assert value('torch.version < "2.10"', torch__version="2.9.1") is True
    assert value('version("2.1.1rc1") < version("2.1.1")') is True


def test_membership_and_contains() -> None:
    assert value("'b' in names and names contains 'a'", names=["a", "b"]) is True
    assert value("255 in values", values=[0.0, 255.0]) is True
    assert value("'x' not in names", names=["a"]) is True
    assert value("'warn' in s", s="an error") is False


def test_regex_and_fuzzy_operators() -> None:
    assert value(r"s matches 'Target \d+ is out of bounds'", s="IndexError: Target 255 is out of bounds.") is True
    assert value("s ~= 'One or more background workers are no longer alive'",
                 s="RuntimeError: One or more background workers are no longer alive. Exiting.") is True
    assert value("s ~= 'One or more background workers are no longer alive'", s="Epoch time: 12 s") is False
    assert value("similarity(s, 'abc') >= 100", s="xxabcxx") is True


def test_strings_are_raw_except_for_their_quote() -> None:
    assert value("s matches '\\bworker\\b' and 'it\\'s' == \"it's\"", s="a worker died") is True


def test_functions() -> None:
    assert value("len(names) == 2 and lower(s) == 'ct' and basename('C:\\\\a\\\\b.txt') == 'b.txt'",
                 names=["a", "b"], s="CT") is True
    assert value("max(1, n, 3) == 5 and min(values) == 0 and round(n) == 5", n=5.0, values=[0.0, 2.0]) is True


def test_default_replaces_an_unknown_value() -> None:
    assert value("default(n, 3) == 3") is True
    assert value("default(n, 3) == 5", n=5.0) is True
    assert value("default(cases[0].ratio, 1) == 1", cases=[{"id": "a", "ratio": None, "labels": []}]) is True
    assert run("default(n, m) > 1", base()).unknowns == {"m"}


def test_type_errors_are_condition_errors() -> None:
    condition, _ = compile_condition("s > 1", vocabulary())
    assert condition is not None
    with pytest.raises(ConditionError, match="cannot order 'x' and 1"):
        evaluate(condition, base(s="x"))


# -- collections -------------------------------------------------------------------------------------

CASES = [{"id": "case_001", "ratio": 1.0, "labels": [0, 1]}, {"id": "case_007", "ratio": 1.3, "labels": [0, 1, 255]},
         {"id": "case_009", "ratio": None, "labels": [0, 1]}]


def test_quantifiers_and_their_witnesses() -> None:
    result = run("any c in cases: 255 in c.labels", base(cases=CASES))
    assert result.value is True
    assert [r.fields["id"] for r in result.witnesses["cases"]] == ["case_007"]
    assert value("all c in cases: 0 in c.labels", cases=CASES) is True


def test_quantifier_over_items_with_unknown_fields() -> None:
    assert value("any c in cases: c.ratio > 1.2", cases=CASES) is True  # case_007 decides
    assert value("all c in cases: c.ratio < 2", cases=CASES) is UNKNOWN  # case_009's ratio is unknown
    assert value("any c in cases: c.ratio > 5", cases=CASES) is UNKNOWN
    assert value("any c in cases: c.ratio > 5", cases=CASES[:2]) is False


def test_quantifier_over_an_empty_or_unknown_collection() -> None:
    assert value("any c in cases: c.ratio > 1", cases=[]) is False
    assert value("all c in cases: c.ratio > 1", cases=[]) is True
    assert value("any c in cases: c.ratio > 1") is UNKNOWN


def test_aggregates() -> None:
    assert value("count(c in cases: 255 in c.labels) == 1 and count(cases) == 3", cases=CASES) is True
    assert value("max(c in cases: c.ratio) > 1", cases=CASES) is UNKNOWN
    assert value("max(c in cases: c.ratio) == 1.3 and sum(c in cases: c.ratio) > 2", cases=CASES[:2]) is True


def test_indexing_and_records() -> None:
    assert value("cases[1].id == 'case_007'", cases=CASES) is True
    assert value("cases[5].id == 'x'", cases=CASES) is UNKNOWN
    assert value("gpu0.free < 100", gpu0={"free": 50.0}) is True


# -- checking against the vocabulary -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("cases.id == 'x'", "'cases' is a collection: use cases[0].id or a quantifier"),
    ("any c in cases: c.ratoi > 1", "'cases' items have no field 'ratoi' (did you mean 'ratio'?)"),
    ("any c in n: c > 1", "'n' is not a collection"),
    ("n[0] > 1", "'n' is not a collection and cannot be indexed"),
    ("frobnicate(n)", "unknown function 'frobnicate'"),
    ("len(n, m)", "function 'len' takes 1 argument(s), got 2"),
    ("gpu0.fre < 1", "'gpu0' has no field 'fre' (did you mean 'free'?)"),
    ("c.ratio > 1", "unknown fact 'c.ratio'"),
    ("s matches '(a)\\1'", "invalid regular expression for RE2: invalid escape sequence: \\1"),
])
def test_checking_errors(text: str, message: str) -> None:
    condition, problems = compile_condition(text, vocabulary())
    assert condition is None
    assert [p.message for p in problems] == [message]


def test_syntax_error_offset() -> None:
    _, problems = compile_condition("a and (b or", vocabulary())
    assert problems[0].offset == 11 and problems[0].message == "syntax error: condition ends too early"


def test_no_python_evaluation_is_possible() -> None:
    for text in ["__import__('os').system('true')", "a.__class__", "s.upper()"]:
        condition, problems = compile_condition(text, vocabulary())
        assert condition is None and problems
