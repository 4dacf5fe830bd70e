"""Rendering a rule's ``fix`` (a Jinja2 template) with the facts that matched.

Templates run in Jinja's sandbox. Facts are reached by their dotted names (``{{ env.nnUNet_raw }}``,
``{{ match.cuda_oom[0].tried }}``), the variable of a ``for:`` rule by its name (``{{ case.id }}``). A fact
that is unknown renders as ``<unknown>`` and is false in ``{% if %}``.

>>> from nnunet_doctor.engine.facts import Fact, FactBase, Provenance
>>> base = FactBase()
>>> base.add(Fact("env.nnUNet_raw", "/data/raw", Provenance("environment")))
>>> render_fix("export nnUNet_raw={{ env.nnUNet_raw }} ({{ env.nnUNet_results }})", base)
'export nnUNet_raw=/data/raw (<unknown>)'
"""
from __future__ import annotations

import shlex
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateSyntaxError, Undefined, meta
from jinja2.sandbox import SandboxedEnvironment

from .facts import FactBase, Record, Unknown
from .shell_syntax import after_persist, persist_var, set_var
from .wording import fix_value


class UnknownFact(Undefined):
    """What a template sees for a fact no probe established."""

    __slots__ = ()

    def __str__(self) -> str:
        return "<unknown>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> "UnknownFact":  # type: ignore[override]
        return self


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return {key: _plain(field) for key, field in value.fields.items()}
    if value is None:
        return UnknownFact(name="field")
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Unknown):
        return UnknownFact(name="fact")
    return value


class FactNamespace:
    """``env`` in ``{{ env.nnUNet_raw }}``: resolves dotted fact names one segment at a time."""

    __slots__ = ("_facts", "_prefix")

    def __init__(self, facts: FactBase, prefix: str):
        self._facts = facts
        self._prefix = prefix

    def _lookup(self, part: str) -> Any:
        name = f"{self._prefix}.{part}" if self._prefix else part
        fact = self._facts.get(name)
        if fact is not None:
            return _plain(fact.value) if fact.known else UnknownFact(name=name)
        if any(known.startswith(name + ".") for known in self._facts.names()):
            return FactNamespace(self._facts, name)
        return UnknownFact(name=name)

    def __getattr__(self, part: str) -> Any:
        if part.startswith("_"):
            raise AttributeError(part)
        return self._lookup(part)

    def __getitem__(self, part: str) -> Any:
        return self._lookup(str(part))

    def __str__(self) -> str:
        return "<unknown>"


def _shell_quote(value: Any) -> str:
    return shlex.quote(str(value))


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=UnknownFact, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=False, finalize=fix_value)  # lists and dicts in words
    env.filters["shell_quote"] = _shell_quote
    env.filters["set_var"] = set_var  # {{ 'nnUNet_raw' | set_var(value, env.shell) }}: see shell_syntax
    env.filters["persist_var"] = persist_var
    env.filters["after_persist"] = after_persist  # {{ env.shell | after_persist }}
    return env


def template_names(source: str) -> frozenset[str]:
    """The top-level names a template reads (``env`` for ``{{ env.nnUNet_raw }}``); empty if it does not parse."""
    try:
        return frozenset(meta.find_undeclared_variables(environment().parse(source)))
    except TemplateSyntaxError:
        return frozenset()


def check_syntax(source: str) -> tuple[int, str] | None:
    """(line within the template, message) for a template that does not parse; None when it parses."""
    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return exc.lineno or 1, exc.message or "template syntax error"
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return environment().from_string(source)


def render_fix(source: str, facts: FactBase, bindings: Mapping[str, Any] | None = None) -> str:
    """Render a fix template. Raises jinja2 errors for a template that fails (the engine reports them)."""
    context: dict[str, Any] = {}
    for name in facts.names():
        head = name.split(".", 1)[0]
        if head not in context:
            context[head] = FactNamespace(facts, "")._lookup(head)
    for key, value in (bindings or {}).items():
        context[key] = _plain(value)
    return str(_compiled(source).render(context)).strip()
