"""Log signatures: literal anchors, an optional guarded regex with named captures, an optional fuzzy match.

A signature is declared in a rule file::

    signatures:
      cuda_oom:
        anchors: ["CUDA out of memory", "OutOfMemoryError"]
        regex: 'Tried to allocate (?P<tried>[\\d.]+) (?P<tried_unit>[KMGT]?iB)'
        fields: {tried: float}

A line is a *candidate* when it contains one of the anchors (exact, case-sensitive unless
``ignore_case``). Only candidate lines are checked against the regex (and/or the fuzzy template, scored
with rapidfuzz ``partial_ratio`` against ``cutoff``). ``window: N`` lets the regex and the fuzzy template
see the candidate line joined with the N following lines, for messages nnU-Net prints over several lines.
Finding the candidates of all signatures in one pass over a log is the log probe's job
(``probes/log/scanner.py``); this module is the model.

Every confirmed line becomes one record of the collection fact ``match.<id>``, with the fields
``line``, ``file``, ``text``, ``score`` and the named captures.
"""
from __future__ import annotations

from typing import Iterator, Mapping

from msgspec import Struct, field
from rapidfuzz import fuzz

from .errors import Location
from .patterns import GuardedPattern
from .values import coerce

BUILTIN_MATCH_FIELDS = {"line": "int", "file": "str", "text": "str", "score": "float"}


class FuzzySpec(Struct, frozen=True):
    text: str
    cutoff: float


class Signature(Struct, frozen=True):
    id: str
    anchors: tuple[str, ...]
    regex: GuardedPattern | None = None
    fuzzy: FuzzySpec | None = None
    window: int = 0
    ignore_case: bool = False
    field_types: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    location: Location | None = None

    @property
    def fact_name(self) -> str:
        return f"match.{self.id}"

    @property
    def fields(self) -> dict[str, str]:
        captures = {name: self.field_types.get(name, "str") for name in (self.regex.group_names if self.regex else ())}
        return {**BUILTIN_MATCH_FIELDS, **captures}

    def confirm(self, text: str) -> tuple[dict[str, object], float] | None:
        """Check a candidate (its line, joined with the ``window`` following lines) against regex and fuzzy template.

        Returns the typed captures and the fuzzy score (100 without a template), or None.
        """
        captures: dict[str, object] = {}
        score = 100.0
        if self.regex is not None:
            found = self.regex.search(text)
            if found is None:
                return None
            for name, raw in found.groupdict().items():
                captures[name] = coerce(self.field_types.get(name, "str"), raw)
        if self.fuzzy is not None:
            subject = text.lower() if self.ignore_case else text
            template = self.fuzzy.text.lower() if self.ignore_case else self.fuzzy.text
            score = fuzz.partial_ratio(template, subject, score_cutoff=self.fuzzy.cutoff)
            if not score:
                return None
        return captures, float(score)


class SignatureSet(Struct):
    """All signatures of a rule pack; the log probe scans a log for all of them in one pass."""

    signatures: list[Signature] = field(default_factory=list)

    def __iter__(self) -> Iterator[Signature]:
        return iter(self.signatures)

    def __len__(self) -> int:
        return len(self.signatures)

    @property
    def max_window(self) -> int:
        return max((signature.window for signature in self.signatures), default=0)
