"""The condition model: the tree a rule condition compiles to (the language is described in docs/rule-format.md).

Each node keeps the span of text it came from, for explanations. This module has no parser in it: a compiled rule
pack (taken from the cache) needs only these classes; :mod:`.condition_parser` builds them from text with lark.
"""
from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from .patterns import GuardedPattern
from .vocabulary import FactSpec


class ConditionProblem(Struct, frozen=True):
    """A problem inside a condition; ``offset`` is a character offset into the condition text."""

    offset: int
    message: str


class Node(Struct, frozen=True):
    span: tuple[int, int]


class Literal(Node, frozen=True):
    value: Any


class ListExpr(Node, frozen=True):
    items: tuple[Node, ...]


class FactRef(Node, frozen=True):
    """A fact, optionally an item of a collection (``index``) and a field of a record or item."""

    name: str
    spec: FactSpec
    index: int | None = None
    field: str | None = None


class VarRef(Node, frozen=True):
    """A variable bound by a quantifier or aggregate, optionally one of its fields."""

    var: str
    field: str | None = None
    collection: str = ""
    field_type: str = "any"


class Not(Node, frozen=True):
    operand: Node


class BoolOp(Node, frozen=True):
    op: str  # "and" | "or"
    left: Node
    right: Node


class Compare(Node, frozen=True):
    op: str  # == != < <= > >= in "not in" contains
    left: Node
    right: Node


class Matches(Node, frozen=True):
    operand: Node
    pattern: GuardedPattern


class Resembles(Node, frozen=True):
    operand: Node
    text: str
    cutoff: float


class Arith(Node, frozen=True):
    op: str
    left: Node
    right: Node


class Neg(Node, frozen=True):
    operand: Node


class Exists(Node, frozen=True):
    ref: Node
    negate: bool  # True for `unknown x`


class Quantifier(Node, frozen=True):
    kind: str  # any | all
    var: str
    collection: FactRef
    body: Node


class Aggregate(Node, frozen=True):
    kind: str  # count | sum | min | max | avg
    var: str
    collection: FactRef
    body: Node | None


class Call(Node, frozen=True):
    name: str
    args: tuple[Node, ...]


class Condition(Struct, frozen=True):
    """A compiled condition: its text, its tree and the fact names it reads."""

    text: str
    root: Node
    facts_read: frozenset[str] = field(default_factory=frozenset)

    def excerpt(self, node: Node) -> str:
        start, end = node.span
        return " ".join(self.text[start:end].split())
