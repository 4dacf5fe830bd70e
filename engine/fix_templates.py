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

import hashlib
import re
import shlex
from functools import lru_cache
from typing import Any, Callable, Mapping

from jinja2 import FunctionLoader, TemplateSyntaxError, Undefined, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

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
_LOG_HAZARD = re.compile(r"\$[({]|[\r\n]")
WITHHELD = "<withheld: it holds shell characters; see the evidence>"


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of a fix passes here: text that could run a command when the fix is pasted into a
    shell is withheld (a file named ``case$(touch x).nii.gz``); quote it with ``| q`` to show it safely."""
    if isinstance(value, Quoted) or not isinstance(value, str):
        return value
    if isinstance(value, LogText):
        # C/C++ and CUDA messages quote code in backticks: shown as ' here (the evidence keeps them as logged)
        value = value.replace("`", "'")
        return WITHHELD if _LOG_HAZARD.search(value) else value
    return WITHHELD if _PASTE_HAZARD.search(value) else value


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


def _prose(value: Any) -> Any:
    """``{{ p.expected | prose }}``: a value shown as text in a sentence (a JSON snippet, a message), never as a
    word of a command: only command substitution and line breaks withhold it, not double quotes; a backtick shows
    as ``'``."""
    return LogText(value) if isinstance(value, str) and not isinstance(value, Quoted) else value


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


#: bounds of one fix's rendering (a site rule's template is code): loop iterations in all, the length of a string
#: or list that ``*`` or a width argument builds, the exponent of ``**``
MAX_ITERATIONS = 100_000
MAX_LENGTH = 100_000
MAX_EXPONENT = 256
_BUDGET = "_fix_iterations"  # the name a template's loops draw their iterations through (see _compiled)
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice", "format")
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d{6,}|\*)|\{[^{}]*?\d{6,}")


class _BoundedEnvironment(SandboxedEnvironment):
    """Jinja's sandbox, with bounds on what a template may build: ``*`` and ``**`` and ``%`` are checked before
    they run (``'x' * 10**9``, ``9 ** 9 ** 9``, ``'%0999999999d' % 1``), and every compiled ``for`` loop draws its
    iterations from the rendering's budget (:class:`_Iterations`)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def compile(self, source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                defer_init: bool = False) -> Any:
        tree = self._parse(source, name, filename) if isinstance(source, str) else source
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_BUDGET, "load"), [loop.iter], [], None, None)
        if raw:  # Jinja's two overloads: the generated source, or its code object
            return super().compile(tree, name, filename, True, defer_init)
        return super().compile(tree, name, filename, False, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int) \
                        and len(sequence) * times > MAX_LENGTH:
                    raise SecurityError(f"the fix would build a value longer than {MAX_LENGTH:,}")
        elif operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT and not (
                    isinstance(left, (int, float)) and abs(left) <= 1):
                raise SecurityError(f"an exponent larger than {MAX_EXPONENT}")
        elif isinstance(left, str) and _FORMAT_WIDTH.search(left):
            raise SecurityError("a format width of a million or more")
        return super().call_binop(context, operator, left, right)


def _bounded_filter(name: str, function: Any) -> Any:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_LENGTH:
                raise SecurityError(f"'{name}' with {value}: larger than {MAX_LENGTH:,}")
            if name == "format" and isinstance(value, str) and _FORMAT_WIDTH.search(value):
                raise SecurityError("a format width of a million or more")
        return function(*args, **kwargs)

    for attribute in ("jinja_pass_arg",):  # keep what tells Jinja to pass the context or environment
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    return bounded


class _Iterations:
    """What the loops of one rendering may still iterate (a template's ``for`` loops all draw from it)."""

    def __init__(self) -> None:
        self.left = MAX_ITERATIONS

    def __call__(self, iterable: Any) -> Any:
        for item in iterable:
            self.left -= 1
            if self.left < 0:
                raise SecurityError(f"the fix's loops ran more than {MAX_ITERATIONS:,} times")
            yield item


def _home_macro(relative: Any) -> HomePath:
    """``home('nnUNet_raw')``: a value for set_var/persist_var that the user's shell expands to a home folder."""
    return HomePath(relative)


def _install_macros(env: SandboxedEnvironment) -> None:
    """The macros that speak the user's shell (see the module docstring); kept apart from the quoting filters."""
    env.globals.update(set_var=_set_var_macro, persist_var=_persist_var_macro, after_persist=_after_persist_macro,
                       dataset_id=_dataset_id_macro, home=_home_macro)


#: the sources of the fix templates compiled in this process, by name (:func:`_compiled`)
_SOURCES: dict[str, str] = {}


def _source(name: str) -> tuple[str, None, Callable[[], bool]]:
    return _SOURCES[name], None, lambda: True


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    from .pack_cache import template_cache

    env = _BoundedEnvironment(undefined=UnknownFact, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=False, finalize=_finalize_in_words,
                              loader=FunctionLoader(_source), bytecode_cache=template_cache("fixes"))
    for name in _WIDTH_FILTERS:
        env.filters[name] = _bounded_filter(name, env.filters[name])
    env.filters["shell_quote"] = _shell_quote
    env.filters["q"] = _quote_filter
    env.filters["prose"] = _prose
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
    """(line within the template, message) for a template that does not compile (a syntax error, an unknown
    filter or test); None when it compiles.

    >>> check_syntax("mv {{ path | basename }} x")[1].startswith("No filter named 'basename'. (known filters: abs,")
    True
    >>> check_syntax("{% if path is frobbed %}x{% endif %}")[1].startswith("No test named 'frobbed'.")
    True
    """
    try:
        environment().compile(source)  # compiled, not kept: the cache keeps the fixes a diagnosis renders
        for test in environment().parse(source).find_all(nodes.Test):
            if test.name not in environment().tests:
                raise TemplateSyntaxError(f"No test named {test.name!r}.", test.lineno)
    except TemplateSyntaxError as exc:
        message = exc.message or "template syntax error"
        if message.startswith("No filter named"):
            message += f" (known filters: {', '.join(sorted(environment().filters))})"
        elif message.startswith("No test named"):
            message += f" (known tests: {', '.join(sorted(environment().tests))})"
        return exc.lineno or 1, message
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    """The template, compiled once: Jinja's compiled code is kept in the private cache folder (a fix compiled from
    source costs a millisecond or more, the first one the lexer's set-up too), named by the digest of its source."""
    name = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    _SOURCES[name] = source
    return environment().get_template(name)


def render_fix(source: str, facts: FactBase, bindings: Mapping[str, Any] | None = None) -> str:
    """Render a fix template. Raises jinja2 errors for a template that fails (the engine reports them)."""
    context: dict[str, Any] = {}
    for name in facts.names():
        head = name.split(".", 1)[0]
        if head not in context:
            context[head] = FactNamespace(facts, "")._lookup(head)
    for key, value in (bindings or {}).items():
        context[key] = _plain(value)
    context[_BUDGET] = _Iterations()
    return str(_compiled(source).render(context)).strip()
