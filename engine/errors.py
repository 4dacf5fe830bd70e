"""Errors of the public API, each with the place in a rule file it refers to.

Every problem found while loading rules is a :class:`RuleProblem` printed as
``file:line:col: message`` followed by the offending line; loading collects all of them and raises one
:class:`RuleLoadError`.
"""
from __future__ import annotations

from msgspec import Struct


class Location(Struct, frozen=True, order=True):
    """A position in a text file; line and column are 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class RuleProblem(Struct, frozen=True):
    location: Location
    message: str
    text: str = ""

    def format(self) -> str:
        out = f"{self.location}: {self.message}"
        if self.text:
            out += f"\n    {self.text.rstrip()}\n    {' ' * (self.location.column - 1)}^"
        return out


class DoctorError(Exception):
    """Base class of the errors nnunet-doctor raises on purpose; each maps to an exit code."""

    exit_code = 3


class InputError(DoctorError):
    """An input named on the command line cannot be read or is not what it should be."""

    exit_code = 2


class RuleLoadError(DoctorError):
    """One or more rule or vocabulary files are invalid; ``problems`` lists all of them."""

    exit_code = 2

    def __init__(self, problems: list[RuleProblem]):
        self.problems = sorted(problems, key=lambda p: (p.location, p.message))
        super().__init__(self.format())

    def format(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in rule files"
        return head + ":\n" + "\n".join(p.format() for p in self.problems)
