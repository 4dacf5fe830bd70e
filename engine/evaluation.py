"""Evaluating compiled conditions against a fact base, in three-valued (Kleene) logic.

A fact that is absent or explicitly unknown evaluates to :data:`UNKNOWN`. ``and``/``or``/``not`` follow
Kleene's tables (``false and unknown`` is false, ``true or unknown`` is true); comparisons, arithmetic and
functions of an unknown are unknown; ``exists x`` and ``unknown x`` are never unknown. The result says
which unknown facts made it unknown, so the report can name the probe or input that would settle them.

>>> from nnunet_doctor.engine.facts import FactBase
>>> from nnunet_doctor.engine.vocabulary import Vocabulary, FactSpec
>>> from nnunet_doctor.engine.condition_parser import compile_condition
>>> vocabulary = Vocabulary()
>>> vocabulary.declare(FactSpec("gpu.free_mib", "float", "free memory", "gpu", "run the gpu probe"))
>>> condition, _ = compile_condition("gpu.free_mib < 1000 or false", vocabulary)
>>> result = evaluate(condition, FactBase())
>>> result.value is UNKNOWN, sorted(result.unknowns)
(True, ['gpu.free_mib'])
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Iterator, Mapping

from msgspec import Struct, field
from rapidfuzz import fuzz

from .conditions import (Aggregate, Arith, BoolOp, Call, Compare, Condition, Exists, FactRef, ListExpr, Literal,
                         Matches, Neg, Node, Not, Quantifier, Resembles, VarRef)
from .facts import Fact, FactBase, Record, Unknown
from .versions import Version, VersionError

_MAX_WITNESSES = 20


class _UnknownValue:
    """The third truth value. Deliberately unusable in a Python ``if``."""

    _instance: "_UnknownValue | None" = None

    def __new__(cls) -> "_UnknownValue":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no Python truth value; use the evaluator's truth()")


UNKNOWN: Any = _UnknownValue()


class ConditionError(Exception):
    """A condition that cannot be evaluated (type mismatch, bad regex subject...): a rule bug."""


class Evaluation(Struct):
    value: Any
    unknowns: frozenset[str]
    facts_used: dict[str, Fact] = field(default_factory=dict)
    witnesses: dict[str, list[Record]] = field(default_factory=dict)
    trace: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def truth(self) -> Any:
        return truth(self.value)


def truth(value: Any) -> Any:
    """Python value -> True / False / UNKNOWN."""
    if value is UNKNOWN or value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple, str, dict)):
        return len(value) > 0
    if isinstance(value, (int, float)):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    return True


def _unknown_or(value: Any) -> Any:
    return UNKNOWN if value is None or isinstance(value, Unknown) else value


_Result = tuple[Any, frozenset[str]]
_NONE: frozenset[str] = frozenset()


class _Evaluator:
    def __init__(self, condition: Condition, facts: FactBase, trace: bool):
        self.condition = condition
        self.facts = facts
        self.tracing = trace
        self.used: dict[str, Fact] = {}
        self.witnesses: dict[str, list[Record]] = {}
        self.trace: list[tuple[str, Any]] = []
        self.depth = 0  # > 0 inside quantifier and aggregate bodies: their items are not traced

    # -- helpers ---------------------------------------------------------------------------------------
    def witness(self, name: str, records: list[Record]) -> None:
        bucket = self.witnesses.setdefault(name, [])
        for record in records:
            if len(bucket) >= _MAX_WITNESSES:
                break
            if not any(existing is record for existing in bucket):
                bucket.append(record)

    @contextmanager
    def untraced(self) -> Iterator[None]:
        """Quantifier and aggregate bodies run once per item: their sub-conditions are not traced."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def note(self, node: Node, value: Any) -> None:
        if self.tracing and self.depth == 0:
            self.trace.append((self.condition.excerpt(node), value))

    def boolean(self, node: Node, env: Mapping[str, Record]) -> _Result:
        value, unknowns = self.eval(node, env)
        result = truth(value)
        if isinstance(node, FactRef) and node.spec.is_collection and node.index is None and result is True:
            fact = self.facts.get(node.name)
            if fact is not None:
                self.witness(node.name, list(fact.value))
        if result is UNKNOWN and not unknowns and value is None:
            unknowns = frozenset({self.condition.excerpt(node)})
        self.note(node, result)
        return result, unknowns if result is UNKNOWN else _NONE

    # -- evaluation ------------------------------------------------------------------------------------
    def eval(self, node: Node, env: Mapping[str, Record]) -> _Result:
        method = getattr(self, "_" + type(node).__name__)
        return method(node, env)  # type: ignore[no-any-return]

    def _Literal(self, node: Literal, env: Mapping[str, Record]) -> _Result:
        return node.value, _NONE

    def values(self, nodes: tuple[Node, ...], env: Mapping[str, Record]) -> tuple[list[Any], frozenset[str]]:
        """Every node's value, and the unknowns that make any of them unknown."""
        values: list[Any] = []
        unknowns: set[str] = set()
        for node in nodes:
            value, node_unknowns = self.eval(node, env)
            if value is UNKNOWN:
                unknowns |= node_unknowns
            values.append(value)
        return values, frozenset(unknowns)

    def _ListExpr(self, node: ListExpr, env: Mapping[str, Record]) -> _Result:
        values, unknowns = self.values(node.items, env)
        return (UNKNOWN, unknowns) if unknowns else (values, _NONE)

    def _FactRef(self, node: FactRef, env: Mapping[str, Record]) -> _Result:
        fact = self.facts.get(node.name)
        label = node.name if node.index is None else f"{node.name}[{node.index}]"
        if fact is None or not fact.known:
            return UNKNOWN, frozenset({node.name})
        self.used[node.name] = fact
        value = fact.value
        if node.index is not None:
            if node.index >= len(value):
                return UNKNOWN, frozenset({label})
            record = value[node.index]
            self.witness(node.name, [record])
            if node.field is None:
                return record, _NONE
            return self._field(record.fields.get(node.field), node.spec.fields[node.field].type, f"{label}.{node.field}")
        if node.field is not None:
            return self._field(value.get(node.field) if isinstance(value, Mapping) else None,
                               node.spec.fields[node.field].type, f"{node.name}.{node.field}")
        if node.spec.type == "version":
            return self._version(value), _NONE
        return value, _NONE

    def _field(self, value: Any, type_name: str, label: str) -> _Result:
        value = _unknown_or(value)
        if value is UNKNOWN:
            return UNKNOWN, frozenset({label})
        if type_name == "version":
            return self._version(value), _NONE
        return value, _NONE

    @staticmethod
    def _version(value: Any) -> Any:
        try:
            return Version(str(value))
        except VersionError:
            return value

    def _VarRef(self, node: VarRef, env: Mapping[str, Record]) -> _Result:
        record = env[node.var]
        if node.field is None:
            return record, _NONE
        return self._field(record.fields.get(node.field), node.field_type, f"{node.collection}.{node.field}")

    def _Not(self, node: Not, env: Mapping[str, Record]) -> _Result:
        value, unknowns = self.boolean(node.operand, env)
        result = UNKNOWN if value is UNKNOWN else not value
        return result, unknowns

    def _BoolOp(self, node: BoolOp, env: Mapping[str, Record]) -> _Result:
        decisive = node.op == "or"  # True decides an `or`, False decides an `and`
        left, left_unknowns = self.boolean(node.left, env)
        if left is decisive:  # Kleene logic short-circuits too: the right side cannot change the result
            return decisive, _NONE
        right, right_unknowns = self.boolean(node.right, env)
        if right is decisive:
            result: Any = decisive
            unknowns = _NONE
        elif left is UNKNOWN or right is UNKNOWN:
            result, unknowns = UNKNOWN, left_unknowns | right_unknowns
        else:
            result, unknowns = not decisive, _NONE
        return result, unknowns

    def _Compare(self, node: Compare, env: Mapping[str, Record]) -> _Result:
        left, left_unknowns = self.eval(node.left, env)
        right, right_unknowns = self.eval(node.right, env)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN, left_unknowns | right_unknowns
        return _compare(node.op, left, right, partial(self.condition.excerpt, node)), _NONE

    def _Matches(self, node: Matches, env: Mapping[str, Record]) -> _Result:
        value, unknowns = self.eval(node.operand, env)
        if value is UNKNOWN:
            return UNKNOWN, unknowns
        subjects = value if isinstance(value, (list, tuple)) else [value]
        return any(node.pattern.search(_text(item)) is not None for item in subjects), _NONE

    def _Resembles(self, node: Resembles, env: Mapping[str, Record]) -> _Result:
        value, unknowns = self.eval(node.operand, env)
        if value is UNKNOWN:
            return UNKNOWN, unknowns
        subjects = value if isinstance(value, (list, tuple)) else [value]
        return any(fuzz.partial_ratio(node.text, _text(item)) >= node.cutoff for item in subjects), _NONE

    def _Arith(self, node: Arith, env: Mapping[str, Record]) -> _Result:
        left, left_unknowns = self.eval(node.left, env)
        right, right_unknowns = self.eval(node.right, env)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN, left_unknowns | right_unknowns
        if not (_is_number(left) and _is_number(right)):
            if node.op == "+" and isinstance(left, str) and isinstance(right, str):
                return left + right, _NONE
            raise ConditionError(f"'{self.condition.excerpt(node)}': arithmetic needs numbers, got {left!r} and {right!r}")
        if node.op in ("/", "%") and right == 0:
            return UNKNOWN, frozenset({self.condition.excerpt(node.right) + " (zero)"})
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left / right if node.op == "/" else 0, "%": left % right if node.op == "%" else 0}[node.op], _NONE

    def _Neg(self, node: Neg, env: Mapping[str, Record]) -> _Result:
        value, unknowns = self.eval(node.operand, env)
        if value is UNKNOWN:
            return UNKNOWN, unknowns
        if not _is_number(value):
            raise ConditionError(f"'{self.condition.excerpt(node)}': cannot negate {value!r}")
        return -value, _NONE

    def _Exists(self, node: Exists, env: Mapping[str, Record]) -> _Result:
        value, _ = self.eval(node.ref, env)
        known = value is not UNKNOWN and value is not None
        result = (not known) if node.negate else known
        return result, _NONE

    def _items(self, ref: FactRef) -> tuple[Any, frozenset[str]]:
        fact = self.facts.get(ref.name)
        if fact is None or not fact.known:
            return UNKNOWN, frozenset({ref.name})
        self.used[ref.name] = fact
        return list(fact.value), _NONE

    def _Quantifier(self, node: Quantifier, env: Mapping[str, Record]) -> _Result:
        items, unknowns = self._items(node.collection)
        if items is UNKNOWN:
            return UNKNOWN, unknowns
        decisive = node.kind == "any"  # one true item decides `any`, one false item decides `all`
        deciders: list[Record] = []
        collected: set[str] = set()
        with self.untraced():
            for record in items:
                value, item_unknowns = self.boolean(node.body, {**env, node.var: record})
                if value is UNKNOWN:
                    collected |= item_unknowns
                elif value is decisive:
                    deciders.append(record)
                    break
        result: Any = decisive if deciders else (UNKNOWN if collected else not decisive)
        if result is True:
            self.witness(node.collection.name, deciders if decisive else items)
        return result, frozenset(collected) if result is UNKNOWN else _NONE

    def _Aggregate(self, node: Aggregate, env: Mapping[str, Record]) -> _Result:
        items, unknowns = self._items(node.collection)
        if items is UNKNOWN:
            return UNKNOWN, unknowns
        if node.kind == "count":
            if node.body is None:
                return len(items), _NONE
            hits: list[Record] = []
            collected: set[str] = set()
            with self.untraced():
                for record in items:
                    value, item_unknowns = self.boolean(node.body, {**env, node.var: record})
                    if value is UNKNOWN:
                        collected |= item_unknowns
                    elif value:
                        hits.append(record)
            if collected:
                return UNKNOWN, frozenset(collected)
            self.witness(node.collection.name, hits)
            return len(hits), _NONE
        if node.body is None:
            raise ConditionError(f"'{self.condition.excerpt(node)}': {node.kind}() needs ': <value>' after the collection")
        values = []
        for record in items:
            value, item_unknowns = self.eval(node.body, {**env, node.var: record})
            if value is UNKNOWN:
                return UNKNOWN, item_unknowns
            values.append(value)
        return _aggregate(node.kind, values, partial(self.condition.excerpt, node))

    def _Call(self, node: Call, env: Mapping[str, Record]) -> _Result:
        if node.name == "default":  # default(x, fallback): the one function an unknown argument does not make unknown
            value, _ = self.eval(node.args[0], env)
            return self.eval(node.args[1], env) if value is UNKNOWN or value is None else (value, _NONE)
        args, unknowns = self.values(node.args, env)
        if unknowns:
            return UNKNOWN, unknowns
        return _call(node.name, args, partial(self.condition.excerpt, node)), _NONE


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if isinstance(value, Record):
        return str(value.fields.get("text") or value.fields.get("message") or "")
    return str(value)


def _compare(op: str, left: Any, right: Any, where: Callable[[], str]) -> bool:
    if op in ("in", "not in", "contains"):
        container, item = (right, left) if op != "contains" else (left, right)
        if isinstance(container, str):
            if not isinstance(item, str):
                raise ConditionError(f"'{where()}': cannot look for {item!r} in a string")
            found = item in container
        elif isinstance(container, (list, tuple)):
            found = any(_equal(item, element) for element in container)
        else:
            raise ConditionError(f"'{where()}': {container!r} is not a list or string")
        return (not found) if op == "not in" else found
    if isinstance(left, Version) or isinstance(right, Version):
        try:
            left, right = Version(str(left)), Version(str(right))
        except VersionError as exc:
            raise ConditionError(f"'{where()}': {exc}") from None
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    comparable = (_is_number(left) and _is_number(right)) or (type(left) is type(right) and isinstance(left, (str, Version)))
    if not comparable:
        raise ConditionError(f"'{where()}': cannot order {left!r} and {right!r}")
    return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _aggregate(kind: str, values: list[Any], where: Callable[[], str]) -> _Result:
    numbers = [value for value in values if value is not None]
    if not all(_is_number(value) for value in numbers):
        raise ConditionError(f"'{where()}': {kind}() needs numbers")
    if kind == "sum":
        return sum(numbers), _NONE
    if not numbers:
        return UNKNOWN, frozenset({f"{where()} (empty)"})
    if kind == "min":
        return min(numbers), _NONE
    if kind == "max":
        return max(numbers), _NONE
    return sum(numbers) / len(numbers), _NONE


def _call(name: str, args: list[Any], where: Callable[[], str]) -> Any:
    try:
        if name in ("len", "count"):
            return len(args[0])
        if name == "lower":
            return str(args[0]).lower()
        if name == "upper":
            return str(args[0]).upper()
        if name == "abs":
            return abs(args[0])
        if name == "round":
            return round(args[0], int(args[1]) if len(args) > 1 else 0)
        if name == "int":
            return int(float(args[0]))
        if name == "float":
            return float(args[0])
        if name == "str":
            return str(args[0])
        if name == "basename":
            return os.path.basename(str(args[0]).replace("\\", "/").rstrip("/"))
        if name == "version":
            return Version(str(args[0]))
        if name in ("min", "max", "sum", "avg"):
            values = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
            return _aggregate(name, list(values), where)[0]
        if name == "similarity":
            return float(fuzz.partial_ratio(str(args[1]), str(args[0])))
        if name == "startswith":
            return str(args[0]).startswith(str(args[1]))
        if name == "endswith":
            return str(args[0]).endswith(str(args[1]))
    except (TypeError, ValueError, VersionError) as exc:
        raise ConditionError(f"'{where()}': {exc}") from None
    raise ConditionError(f"'{where()}': unknown function {name}")  # pragma: no cover - rejected at load time


def evaluate(condition: Condition, facts: FactBase, bindings: Mapping[str, Record] | None = None,
             trace: bool = True, as_truth: bool = True) -> Evaluation:
    """Evaluate ``condition``; raises :class:`ConditionError` for a condition that is wrong for its facts.

    With ``as_truth`` (conditions) the value is True/False/UNKNOWN; without it (derived facts) it is the
    expression's value.
    """
    evaluator = _Evaluator(condition, facts, trace)
    env = dict(bindings or {})
    value, unknowns = evaluator.boolean(condition.root, env) if as_truth else evaluator.eval(condition.root, env)
    return Evaluation(value, unknowns if value is UNKNOWN else frozenset(), evaluator.used, evaluator.witnesses,
                      evaluator.trace)
