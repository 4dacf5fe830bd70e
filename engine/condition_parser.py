"""Parsing and checking rule conditions with lark (the grammar is in ``condition.lark``).

:func:`compile_condition` turns a condition string into a tree of :class:`Node` objects, each with the
span of text it came from, and checks every name against the vocabulary: facts (``env.nnUNet_raw``),
collection items and their fields (``gpu[0].free_mib``), variables bound by quantifiers
(``any case in dataset.cases: case.spacing_ratio > 1.1``), functions and regular expressions. It never
evaluates Python: there is no attribute access beyond declared fact fields.

>>> from nnunet_doctor.engine.vocabulary import Vocabulary, FactSpec
>>> vocabulary = Vocabulary()
>>> vocabulary.declare(FactSpec("env.nnUNet_raw", "path", "raw folder", "environment", "run diagnose"))
>>> node, problems = compile_condition("not exists env.nnUNet_raw", vocabulary)
>>> problems
[]
>>> compile_condition("exists env.nnUNet_rw", vocabulary)[1][0].message
"unknown fact 'env.nnUNet_rw' (did you mean 'env.nnUNet_raw'?)"
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Mapping

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .conditions import (Aggregate, Arith, BoolOp, Call, Compare, Condition, ConditionProblem, Exists, FactRef,
                         ListExpr, Literal, Matches, Neg, Node, Not, Quantifier, Resembles, VarRef)
from .patterns import PatternError, compile_guarded
from .vocabulary import FactSpec, Vocabulary

FUNCTIONS: Mapping[str, tuple[int, int]] = {
    # name: (min args, max args); -1 = any number
    "len": (1, 1), "count": (1, 1), "lower": (1, 1), "upper": (1, 1), "abs": (1, 1), "round": (1, 2),
    "int": (1, 1), "float": (1, 1), "str": (1, 1), "basename": (1, 1), "version": (1, 1),
    "min": (1, -1), "max": (1, -1), "sum": (1, 1), "avg": (1, 1), "similarity": (2, 2),
    "startswith": (2, 2), "endswith": (2, 2), "default": (2, 2),
}
DEFAULT_FUZZY_CUTOFF = 85.0
#: the longest condition accepted (after named parts are put in): about 200 terms, far below what Python's
#: recursion allows when a condition is compiled and evaluated (the longest built-in one has 711 characters)
MAX_CONDITION_CHARS = 4000


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("condition.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse_tree(text: str) -> Tree[Token]:
    return _parser().parse(text)


def _describe_unexpected(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "condition ends too early"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {text[exc.pos_in_stream or 0]!r}"
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return "condition ends too early"
        expected = sorted({_friendly(name) for name in exc.expected if not name.startswith("__")})
        hint = f" (expected {', '.join(expected)})" if expected else ""
        return f"unexpected {token.value!r}{hint}"
    return "syntax error"


def _friendly(terminal: str) -> str:
    names = {"RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "COMMA": "','", "COLON": "':'",
             "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "COMP_OP": "a comparison",
             "AND": "'and'", "OR": "'or'", "NOT": "'not'", "IN": "'in'", "BINDER": "'<name> in'", "INT": "an index",
             "AGG": "count/sum/min/max/avg", "QUANT": "any/all", "MINUS": "'-'", "ADD_OP": "'+'/'-'",
             "MUL_OP": "'*'/'/'/'%'", "CONTAINS": "'contains'", "MATCHES": "'matches'", "EXISTS": "'exists'",
             "UNKNOWN": "'unknown'", "TRUE": "'true'", "FALSE": "'false'", "NULL": "'null'", "_DOT": "'.'",
             "$END": "the end"}
    return names.get(terminal, terminal.lower())


class _Compiler:
    def __init__(self, text: str, vocabulary: Vocabulary):
        self.text = text
        self.vocabulary = vocabulary
        self.problems: list[ConditionProblem] = []
        self.facts_read: set[str] = set()

    def span(self, tree: Tree[Token] | Token) -> tuple[int, int]:
        if isinstance(tree, Token):
            return (tree.start_pos or 0, tree.end_pos or 0)
        meta = tree.meta
        if getattr(meta, "empty", True):
            return (0, len(self.text))
        return (meta.start_pos, meta.end_pos)

    def problem(self, where: Tree[Token] | Token | tuple[int, int], message: str) -> None:
        offset = where[0] if isinstance(where, tuple) else self.span(where)[0]
        self.problems.append(ConditionProblem(offset, message))

    def compile(self, tree: Tree[Token] | Token, scope: Mapping[str, FactSpec]) -> Node:
        if isinstance(tree, Token):  # pragma: no cover - the grammar wraps every token
            self.problem(tree, f"unexpected {tree.value!r}")
            return Literal(self.span(tree), None)
        kind = tree.data if isinstance(tree.data, str) else tree.data.value
        span = self.span(tree)
        children = tree.children
        if kind == "start":
            return self.compile(children[0], scope)
        if kind == "number":
            token = str(children[0])
            value = float(token) if any(c in token for c in ".eE") else int(token)
            return Literal(span, value)
        if kind == "string":
            return Literal(span, self.string(_token(children[0])))
        if kind in ("true", "false", "null"):
            return Literal(span, {"true": True, "false": False, "null": None}[kind])
        if kind == "list_":
            return ListExpr(span, tuple(self.compile(child, scope) for child in children if child is not None))
        if kind == "ref":
            return self.ref(tree, scope)
        if kind in ("and_", "or_"):
            return BoolOp(span, kind[:-1], self.compile(children[0], scope), self.compile(children[1], scope))
        if kind == "not_":
            return Not(span, self.compile(children[0], scope))
        if kind == "compare":
            return Compare(span, str(children[1]), self.compile(children[0], scope), self.compile(children[2], scope))
        if kind in ("in_", "not_in", "contains"):
            op = {"in_": "in", "not_in": "not in", "contains": "contains"}[kind]
            return Compare(span, op, self.compile(children[0], scope), self.compile(children[1], scope))
        if kind == "matches":
            source = self.string(_token(children[1]))
            try:
                pattern = compile_guarded(source)
            except PatternError as exc:
                self.problem(children[1], str(exc))
                pattern = compile_guarded("(?:)")
            return Matches(span, self.compile(children[0], scope), pattern)
        if kind == "resembles":
            return Resembles(span, self.compile(children[0], scope), self.string(_token(children[1])), DEFAULT_FUZZY_CUTOFF)
        if kind == "arith":
            return Arith(span, str(children[1]), self.compile(children[0], scope), self.compile(children[2], scope))
        if kind == "neg":
            return Neg(span, self.compile(children[0], scope))
        if kind in ("exists", "unknown"):
            return Exists(span, self.ref(_subtree(children[0]), scope), negate=kind == "unknown")
        if kind in ("quantifier", "aggregate"):
            var = str(children[1]).split()[0]
            collection = self.collection(_subtree(children[2]), scope)
            inner = dict(scope)
            if collection is not None:
                inner[var] = collection.spec
            body = self.compile(children[3], inner) if children[3] is not None else None
            if collection is None:
                return Literal(span, None)
            if kind == "quantifier":
                assert body is not None
                return Quantifier(span, str(children[0]), var, collection, body)
            return Aggregate(span, str(children[0]), var, collection, body)
        if kind == "call":
            name = str(children[0])
            args = tuple(self.compile(child, scope) for child in children[1:] if child is not None)
            arity = FUNCTIONS.get(name)
            if arity is None:
                hint = self.vocabulary.suggest(name, FUNCTIONS)
                self.problem(children[0], f"unknown function '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""))
            elif len(args) < arity[0] or (arity[1] >= 0 and len(args) > arity[1]):
                expected = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]}+" if arity[1] < 0 else f"{arity[0]}-{arity[1]}"
                self.problem(children[0], f"function '{name}' takes {expected} argument(s), got {len(args)}")
            return Call(span, name, args)
        self.problem(tree, f"unsupported expression '{kind}'")  # pragma: no cover
        return Literal(span, None)

    @staticmethod
    def string(token: Token) -> str:
        """Strings are raw, so regular expressions read as written: only \\' (or \\") escapes the quote."""
        text = str(token)
        quote = text[0]
        return text[1:-1].replace("\\" + quote, quote)

    def collection(self, tree: Tree[Token], scope: Mapping[str, FactSpec]) -> FactRef | None:
        node = self.ref(tree, scope)
        if isinstance(node, FactRef) and node.spec.is_collection and node.index is None and node.field is None:
            return node
        if isinstance(node, (FactRef, VarRef)):
            self.problem(tree, f"'{self.text[node.span[0]:node.span[1]]}' is not a collection")
        return None

    def ref(self, tree: Tree[Token], scope: Mapping[str, FactSpec]) -> Node:
        span = self.span(tree)
        tokens = [child for child in tree.children if isinstance(child, Token)]
        parts: list[str | int] = [int(c) if c.type == "INT" else str(c) for c in tokens]
        head = parts[0]
        assert isinstance(head, str)
        if head in scope:  # a variable bound by a quantifier or aggregate
            spec = scope[head]
            rest = parts[1:]
            if not rest:
                return VarRef(span, head, None, spec.name)
            if len(rest) == 1 and isinstance(rest[0], str):
                if rest[0] not in spec.fields:
                    hint = self.vocabulary.suggest(rest[0], spec.fields)
                    self.problem(tree, f"'{spec.name}' items have no field '{rest[0]}'" + (f" (did you mean '{hint}'?)" if hint else ""))
                field_spec = spec.fields.get(rest[0])
                return VarRef(span, head, rest[0], spec.name, field_spec.type if field_spec else "any")
            self.problem(tree, f"'{head}' is an item of '{spec.name}': only one field can follow it")
            return Literal(span, None)
        names: list[str] = []
        for part in parts:
            if not isinstance(part, str):
                break
            names.append(part)
        resolved = self.vocabulary.resolve_prefix(names)
        if resolved is None and head in _binders(self.text):
            self.problem(tree, f"'{head}' is bound only inside its quantifier's body, which ends at the first 'and' or "
                               f"'or' outside parentheses: write any {head} in C: (... and ...)")
            return Literal(span, None)
        if resolved is None:
            dotted = ".".join(names)
            hint = self.vocabulary.suggest(dotted)
            self.problem(tree, f"unknown fact '{dotted}'" + (f" (did you mean '{hint}'?)" if hint else ""))
            return Literal(span, None)
        spec, used = resolved
        self.facts_read.add(spec.name)
        rest = parts[used:]
        index: int | None = None
        field_name: str | None = None
        if rest and isinstance(rest[0], int):
            if not spec.is_collection:
                self.problem(tree, f"'{spec.name}' is not a collection and cannot be indexed")
                return Literal(span, None)
            index = rest[0]
            rest = rest[1:]
        if rest:
            candidate = rest[0]
            if len(rest) > 1 or not isinstance(candidate, str) or spec.type not in ("record", "collection"):
                dotted = ".".join(str(p) for p in parts)
                hint = self.vocabulary.suggest(dotted)
                self.problem(tree, f"unknown fact '{dotted}'" + (f" (did you mean '{hint}'?)" if hint else ""))
                return Literal(span, None)
            if spec.is_collection and index is None:
                self.problem(tree, f"'{spec.name}' is a collection: use {spec.name}[0].{candidate} or a quantifier")
                return Literal(span, None)
            if candidate not in spec.fields:
                hint = self.vocabulary.suggest(candidate, spec.fields)
                self.problem(tree, f"'{spec.name}' has no field '{candidate}'" + (f" (did you mean '{hint}'?)" if hint else ""))
                return Literal(span, None)
            field_name = candidate
        return FactRef(span, spec.name, spec, index, field_name)


def _subtree(child: Tree[Token] | Token) -> Tree[Token]:
    assert isinstance(child, Tree), child  # the grammar puts a rule here, never a token
    return child


def _token(child: Tree[Token] | Token) -> Token:
    assert isinstance(child, Token)
    return child


def _binders(text: str) -> set[str]:
    """The variables quantifiers and aggregates of a condition bind (``g`` in ``any g in gpu: ...``)."""
    return set(re.findall(r"\b(?:any|all|count|sum|min|max|avg)\s*\(?\s*([A-Za-z_]\w*)\s+in\b", text))


def compile_condition(text: str, vocabulary: Vocabulary,
                      scope: Mapping[str, FactSpec] | None = None) -> tuple[Condition | None, list[ConditionProblem]]:
    """Parse and check a condition; returns the condition (None on syntax errors) and every problem found.

    ``scope`` pre-binds variables, e.g. the variable of a rule's ``for:`` clause.
    """
    if len(text) > MAX_CONDITION_CHARS:
        return None, [ConditionProblem(MAX_CONDITION_CHARS, f"longer than {MAX_CONDITION_CHARS} characters: split it "
                                                            "into named parts (where:) or several rules")]
    try:
        tree = parse_tree(text)
    except RecursionError:
        return None, [ConditionProblem(0, "nested too deeply: split it into named parts (where:)")]
    except UnexpectedInput as exc:
        offset = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
            offset = len(text.rstrip())
        return None, [ConditionProblem(offset, "syntax error: " + _describe_unexpected(exc, text))]
    compiler = _Compiler(text, vocabulary)
    try:
        root = compiler.compile(tree, dict(scope or {}))
    except RecursionError:
        return None, [ConditionProblem(0, "nested too deeply: split it into named parts (where:)")]
    if compiler.problems:
        return None, compiler.problems
    return Condition(text, root, frozenset(compiler.facts_read)), []
