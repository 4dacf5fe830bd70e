"""Rendering a rule's ``fix`` (a Jinja2 template) with the facts that matched.

Templates run in Jinja's sandbox. Facts are reached by their dotted names (``{{ env.nnUNet_raw }}``,
``{{ match.cuda_oom[0].tried }}``), the variable of a ``for:`` rule by its name (``{{ case.id }}``). A fact
that is unknown renders as ``<unknown>`` and is false in ``{% if %}``.

Macros say what many fixes say, in the words of the user's shell (the best fact: ``run.shell``, which a log from
Windows settles, else ``env.shell``; bash when neither is known):

- ``{{ set_var('nnUNet_raw') }}``, ``{{ set_var('nnUNet_n_proc_DA', 4) }}``: set a variable in this terminal
  (a ``/path/to/NAME`` placeholder when no value is given);
- ``{{ persist_var('nnUNet_raw', env.nnUNet_raw) }}``: keep it for every new terminal; ``{{ after_persist() }}``:
  what makes the kept variable visible;
- ``{{ dataset_id() }}``: the dataset id of the run, or ``DATASET_ID`` when it is unknown;
- ``{{ set_var('nnUNet_raw', home('nnUNet_raw')) }}``: a folder under the user's home, which the user's shell
  expands (``"$HOME/nnUNet_raw"``, ``%USERPROFILE%\\nnUNet_raw``).

>>> from nnunet_doctor.engine.facts import Fact, FactBase, Provenance
>>> from nnunet_doctor.engine.sources import Source
>>> base = FactBase()
>>> base.add(Fact("env.nnUNet_raw", "/data/raw", Provenance(Source.probe("environment"))))
>>> render_fix("export nnUNet_raw={{ env.nnUNet_raw }} ({{ env.nnUNet_results }})", base)
'export nnUNet_raw=/data/raw (<unknown>)'
"""
from __future__ import annotations

import re
import shlex
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateSyntaxError, Undefined, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from .facts import FactBase, Record, Unknown
from .shell_syntax import HomePath, after_persist, persist_var, quote, set_var
from .wording import fix_value, repr_text


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
        return {key: LogText(field) if key == "text" and isinstance(field, str) else _plain(field)
                for key, field in value.fields.items()}
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


class Quoted(str):
    """Text a macro or the ``q`` filter made safe to paste into the user's shell (finalize leaves it alone)."""

    __slots__ = ()


class LogText(str):
    """A line quoted from a log (a match's ``text``): shown in prose, never pasted as a command."""

    __slots__ = ()


#: what a value must not hold to be shown as it is in a fix: command substitution (``$(``, ``${``, backticks), a
#: double quote that would end a quoted word, or a line break that would start a new command
_PASTE_HAZARD = re.compile(r"\$[({]|`|\"|[\r\n]")
_LOG_HAZARD = re.compile(r"\$[({]|`|[\r\n]")
WITHHELD = "<withheld: it holds shell characters; see the evidence>"


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of a fix passes here: text that could run a command when the fix is pasted into a
    shell is withheld (a file named ``case$(touch x).nii.gz``); quote it with ``| q`` to show it safely."""
    if isinstance(value, Quoted) or not isinstance(value, str):
        return value
    hazard = _LOG_HAZARD if isinstance(value, LogText) else _PASTE_HAZARD
    return WITHHELD if hazard.search(value) else value


def _in_words(value: Any) -> Any:
    """Collections, numpy values and Python reprs captured from a log in words (see :mod:`.wording`); quoted
    values untouched."""
    if isinstance(value, Quoted):
        return value
    if isinstance(value, str):
        words = repr_text(value) if value[:1] in "[{(" else value
        return value if words == value else (LogText(words) if isinstance(value, LogText) else words)
    return fix_value(value)


def _finalize_in_words(value: Any) -> Any:
    return _finalize(_in_words(value))


def _shell_quote(value: Any) -> str:
    return Quoted(shlex.quote(str(value)))


@pass_context
def _quote_filter(context: Context, value: Any) -> Any:
    """``{{ path | q }}``: the value as one word of the user's shell (see :func:`shell_syntax.quote`)."""
    if isinstance(value, Undefined):
        return value
    quoted = quote(value, best_shell(context))
    return Quoted(quoted) if quoted is not None else WITHHELD


#: the placeholder a fix shows for a dataset id no input settled
DATASET_ID_PLACEHOLDER = "DATASET_ID"
#: macro -> the fact namespaces it reads (a fix that calls it must render after the rules that derive them)
MACRO_READS: Mapping[str, tuple[str, ...]] = {"set_var": ("run", "env"), "persist_var": ("run", "env"),
                                              "after_persist": ("run", "env"), "dataset_id": ("run",)}


def _fact(context: Context, name: str) -> Any:
    head, _, rest = name.partition(".")
    namespace = context.get(head)
    return namespace._lookup(rest) if isinstance(namespace, FactNamespace) else None


def best_shell(context: Context) -> str | None:
    """The shell a fix should speak: ``run.shell`` (settled by a log too), else ``env.shell``, else None (bash)."""
    for name in ("run.shell", "env.shell"):
        value = _fact(context, name)
        if isinstance(value, str):
            return value
    return None


def _known(value: Any) -> Any:
    return None if isinstance(value, Undefined) else value


@pass_context
def _set_var_macro(context: Context, name: str, value: Any = None) -> str:
    return Quoted(set_var(name, _known(value), best_shell(context)))


@pass_context
def _persist_var_macro(context: Context, name: str, value: Any = None) -> str:
    return Quoted(persist_var(name, _known(value), best_shell(context)))


@pass_context
def _after_persist_macro(context: Context) -> str:
    return Quoted(after_persist(best_shell(context)))


@pass_context
def _dataset_id_macro(context: Context, placeholder: str = DATASET_ID_PLACEHOLDER) -> Any:
    value = _fact(context, "run.dataset_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else placeholder


def _home_macro(relative: Any) -> HomePath:
    """``home('nnUNet_raw')``: a value for set_var/persist_var that the user's shell expands to a home folder."""
    return HomePath(relative)


def _install_macros(env: SandboxedEnvironment) -> None:
    """The macros that speak the user's shell (see the module docstring); kept apart from the quoting filters."""
    env.globals.update(set_var=_set_var_macro, persist_var=_persist_var_macro, after_persist=_after_persist_macro,
                       dataset_id=_dataset_id_macro, home=_home_macro)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=UnknownFact, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=False, finalize=_finalize_in_words)
    env.filters["shell_quote"] = _shell_quote
    env.filters["q"] = _quote_filter
    # {{ 'nnUNet_raw' | set_var(value, env.shell) }}: see shell_syntax
    env.filters["set_var"] = lambda *args: Quoted(set_var(*(_known(a) for a in args)))
    env.filters["persist_var"] = lambda *args: Quoted(persist_var(*(_known(a) for a in args)))
    env.filters["after_persist"] = lambda *args: Quoted(after_persist(*(_known(a) for a in args)))  # {{ env.shell | after_persist }}
    _install_macros(env)
    return env


def template_names(source: str) -> frozenset[str]:
    """The top-level names a template reads (``env`` for ``{{ env.nnUNet_raw }}``, ``run`` for
    ``{{ dataset_id() }}``); empty if it does not parse."""
    try:
        parsed = environment().parse(source)
    except TemplateSyntaxError:
        return frozenset()
    names = set(meta.find_undeclared_variables(parsed))  # macros are globals: not among these
    for call in parsed.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in MACRO_READS:
            names |= {call.node.name, *MACRO_READS[call.node.name]}
    return frozenset(names)


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
