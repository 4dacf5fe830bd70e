"""The condition model: the tree a rule condition compiles to (the language is described in docs/rule-format.md).

Each node keeps the span of text it came from, for explanations. This module has no parser in it: a compiled rule
pack (taken from the cache) needs only these classes; :mod:`.condition_parser` builds them from text with lark.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .patterns import GuardedPattern
from .vocabulary import FactSpec


@dataclass(frozen=True)
class ConditionProblem:
    """A problem inside a condition; ``offset`` is a character offset into the condition text."""

    offset: int
    message: str


@dataclass(frozen=True)
class Node:
    span: tuple[int, int]


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class FactRef(Node):
    """A fact, optionally an item of a collection (``index``) and a field of a record or item."""

    name: str
    spec: FactSpec
    index: int | None = None
    field: str | None = None


@dataclass(frozen=True)
class VarRef(Node):
    """A variable bound by a quantifier or aggregate, optionally one of its fields."""

    var: str
    field: str | None = None
    collection: str = ""
    field_type: str = "any"


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >= in "not in" contains
    left: Node
    right: Node


@dataclass(frozen=True)
class Matches(Node):
    operand: Node
    pattern: GuardedPattern


@dataclass(frozen=True)
class Resembles(Node):
    operand: Node
    text: str
    cutoff: float


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Exists(Node):
    ref: Node
    negate: bool  # True for `unknown x`


@dataclass(frozen=True)
class Quantifier(Node):
    kind: str  # any | all
    var: str
    collection: FactRef
    body: Node


@dataclass(frozen=True)
class Aggregate(Node):
    kind: str  # count | sum | min | max | avg
    var: str
    collection: FactRef
    body: Node | None


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Condition:
    """A compiled condition: its text, its tree and the fact names it reads."""

    text: str
    root: Node
    facts_read: frozenset[str] = field(default_factory=frozenset)

    def excerpt(self, node: Node) -> str:
        start, end = node.span
        return " ".join(self.text[start:end].split())
