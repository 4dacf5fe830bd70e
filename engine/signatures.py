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

Every confirmed line becomes one record of the collection fact ``match.<id>``, with the fields
``line``, ``file``, ``text``, ``score`` and the named captures.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

from rapidfuzz import fuzz

from .errors import Location
from .facts import Provenance, Record
from .patterns import GuardedPattern
from .values import coerce

BUILTIN_MATCH_FIELDS = {"line": "int", "file": "str", "text": "str", "score": "float"}


@dataclass(frozen=True)
class FuzzySpec:
    text: str
    cutoff: float


@dataclass(frozen=True)
class Signature:
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

    def confirm(self, lines: Sequence[str], index: int) -> tuple[dict[str, object], float] | None:
        """Check a candidate line (it contains an anchor) against the regex and the fuzzy template."""
        text = lines[index] if not self.window else "\n".join(lines[index:index + 1 + self.window])
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


@dataclass
class SignatureSet:
    """All signatures of a rule pack, scanned together in one pass over a block of log lines."""

    signatures: list[Signature] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_anchor: dict[tuple[str, bool], list[Signature]] = {}
        for signature in self.signatures:
            for anchor in signature.anchors:
                key = (anchor.lower() if signature.ignore_case else anchor, signature.ignore_case)
                self._by_anchor.setdefault(key, []).append(signature)

    def __iter__(self) -> Iterator[Signature]:
        return iter(self.signatures)

    def __len__(self) -> int:
        return len(self.signatures)

    def candidates(self, lines: Sequence[str]) -> dict[int, list[Signature]]:
        """Line index -> signatures whose anchors occur on that line (one find per anchor over the block)."""
        text = "\n".join(lines)
        lowered: str | None = None
        starts: list[int] = []
        offset = 0
        for line in lines:
            starts.append(offset)
            offset += len(line) + 1
        found: dict[int, list[Signature]] = {}
        for (anchor, ignore_case), signatures in self._by_anchor.items():
            if ignore_case and lowered is None:
                lowered = text.lower()
            haystack = lowered if ignore_case else text
            assert haystack is not None
            position = haystack.find(anchor)
            while position >= 0:
                index = bisect.bisect_right(starts, position) - 1
                bucket = found.setdefault(index, [])
                for signature in signatures:
                    if signature not in bucket:
                        bucket.append(signature)
                next_line = starts[index + 1] if index + 1 < len(starts) else len(haystack)
                position = haystack.find(anchor, max(next_line, position + 1))
        return found

    def scan(self, lines: Sequence[str], first_line: int = 1, file: str | None = None) -> dict[str, list[Record]]:
        """Scan a block of lines; returns ``match.<id>`` -> records, with an entry for every signature."""
        matches: dict[str, list[Record]] = {signature.fact_name: [] for signature in self.signatures}
        for index, signatures in sorted(self.candidates(lines).items()):
            for signature in signatures:
                confirmed = signature.confirm(lines, index)
                if confirmed is None:
                    continue
                captures, score = confirmed
                number = first_line + index
                last = number + min(signature.window, len(lines) - index - 1)
                fields = {"line": number, "file": file or "", "text": lines[index][:2000], "score": score, **captures}
                matches[signature.fact_name].append(
                    Record(fields, Provenance("log", file, (number, last), f"signature {signature.id}")))
        return matches
