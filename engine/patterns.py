"""Regular expressions that cannot hang the tool.

Rules, including a site's own, declare regular expressions (log signatures, the ``matches`` operator).
They are compiled with :func:`compile_guarded`, which uses RE2 (``google-re2``): linear-time matching,
immune to catastrophic backtracking. RE2 has no backreferences or look-around, so such patterns are
rejected at load time with the reason.

Where RE2 cannot be installed the tool falls back to Python's ``re`` and refuses, at load time, every
pattern with a quantifier nested in a repeated group (``(a+)+``, ``(a|aa)*``): the shapes that backtrack
exponentially. ``ENGINE`` says which engine is in use.

>>> p = compile_guarded(r"Tried to allocate (?P<tried>[\\d.]+) (?P<unit>[KMGT]iB)")
>>> p.search("CUDA out of memory. Tried to allocate 1.17 GiB").groupdict()
{'tried': '1.17', 'unit': 'GiB'}
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

from msgspec import Struct

try:  # pragma: no branch - which branch runs depends on the platform
    import re2 as _re2  # type: ignore[import-untyped]

    ENGINE = "re2"
except ImportError:  # pragma: no cover - exercised by tests through _compile_python
    _re2 = None
    ENGINE = "re"

try:
    import re._parser as _sre_parse  # type: ignore[import-not-found]  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]


@lru_cache(maxsize=None)
def regex(source: str, flags: int = 0) -> re.Pattern[str]:
    r"""One of the tool's own Python regular expressions, compiled the first time it is needed.

    A reader's table of patterns keyed by their anchors compiles only the patterns whose anchor a log holds: each
    costs 0.05-0.3 ms to compile, and a process compiles them again (a log-only run is a few hundred ms).

    >>> regex(r"Epoch (\d+)") is regex(r"Epoch (\d+)")
    True
    """
    return re.compile(source, flags)


class PatternError(ValueError):
    """A pattern that does not compile or could backtrack catastrophically."""


class MatchLike(Protocol):
    def groupdict(self) -> dict[str, Any]: ...
    def start(self) -> int: ...
    def end(self) -> int: ...


class GuardedPattern(Struct, frozen=True):
    """A pattern :func:`compile_guarded` accepted. It is saved (in the rule-pack cache) as its source alone and
    compiled the first time a line needs it (one compile per source and engine in a process): a log touches a
    few of the pack's 150 signatures."""

    source: str
    engine: str
    ignore_case: bool = False

    @property
    def compiled(self) -> Any:
        return _compile(self.source, self.engine, self.ignore_case)

    def search(self, text: str) -> MatchLike | None:
        return self.compiled.search(text)  # type: ignore[no-any-return]

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.compiled.groupindex))


def compile_guarded(pattern: str, ignore_case: bool = False, engine: str | None = None) -> GuardedPattern:
    """Compile ``pattern`` with a linear-time engine, or refuse it; raises :class:`PatternError`."""
    chosen = engine or ENGINE
    if chosen == "re2":
        if _re2 is None:
            raise PatternError("RE2 is not installed")
        try:
            _compile(pattern, "re2", ignore_case)
        except Exception as exc:  # re2 raises its own error type
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise PatternError(f"invalid regular expression for RE2: {reason}") from None
        return GuardedPattern(pattern, "re2", ignore_case)
    return _compile_python(pattern, ignore_case)


@lru_cache(maxsize=4096)
def _compile(pattern: str, engine: str, ignore_case: bool) -> Any:
    """The engine's compiled pattern (of a pattern :func:`compile_guarded` checked)."""
    if engine == "re2":
        options = _re2.Options()
        options.log_errors = False
        options.case_sensitive = not ignore_case
        return _re2.compile(pattern, options)
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def _compile_python(pattern: str, ignore_case: bool) -> GuardedPattern:
    try:
        parsed = _sre_parse.parse(pattern)
        _compile(pattern, "re", ignore_case)
    except re.error as exc:
        raise PatternError(f"invalid regular expression: {exc}") from None
    risky = _risky_repeat(list(parsed), inside_repeat=False)
    if risky:
        raise PatternError(f"pattern could backtrack catastrophically ({risky}); RE2 is not installed to run it safely")
    return GuardedPattern(pattern, "re", ignore_case)


_MAXREPEAT = _sre_parse.MAXREPEAT


def _risky_repeat(items: list[Any], inside_repeat: bool) -> str | None:
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = arg
            unbounded = high == _MAXREPEAT or high > 1
            if inside_repeat and unbounded:
                return "a repeated group contains another repetition"
            found = _risky_repeat(list(body), inside_repeat or unbounded)
            if found:
                return found
            if unbounded and _has_branch(list(body)):
                return "a repeated group contains an alternation"
        elif name == "SUBPATTERN":
            found = _risky_repeat(list(arg[-1]), inside_repeat)
            if found:
                return found
        elif name == "BRANCH":
            for branch in arg[1]:
                found = _risky_repeat(list(branch), inside_repeat)
                if found:
                    return found
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "backreferences are not allowed"
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _risky_repeat(list(arg[1]), inside_repeat)
            if found:
                return found
    return None


def _has_branch(items: list[Any]) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "BRANCH":
            return True
        if name == "SUBPATTERN" and _has_branch(list(arg[-1])):
            return True
    return False
