"""Who said it: the typed source of a fact (its provenance) and of a finding -- a probe, a rule, the input, a bundle.

A source is a value, not a sentence: code asks ``source.kind is SourceKind.RULE`` or ``provenance.is_log_line``
instead of comparing or parsing text. The words (``probe log``, ``rule env.paths_unset.log``) are made only where
they are shown or written to JSON, and :meth:`Source.parse` reads them back (a bundle, a report).

>>> Source.rule("train.gpu_oom.cuda_message")
Source(kind=<SourceKind.RULE: 'rule'>, name='train.gpu_oom.cuda_message')
>>> str(Source.probe("log")), Source.parse("probe log") == LOG, Source.parse("log") == LOG
('probe log', True, True)
>>> Source.parse("rule t.x").kind, Source.parse("given") == INPUT
(<SourceKind.RULE: 'rule'>, True)
"""
from __future__ import annotations

from enum import Enum

from msgspec import Struct


class SourceKind(Enum):
    PROBE = "probe"  #: a probe established it (``name``: the probe)
    RULE = "rule"  #: a rule derived it, or failed (``name``: the rule id)
    INPUT = "input"  #: the input itself: facts given as values (``--fact``, a rule test), an input problem
    BUNDLE = "bundle"  #: a bundle collected elsewhere
    UNKNOWN = "unknown"  #: nothing says where it came from


#: the name of the probe that reads logs: its facts carry the log's file and lines
LOG_PROBE = "log"


class Source(Struct, frozen=True):
    kind: SourceKind
    name: str = ""

    @classmethod
    def probe(cls, name: str) -> "Source":
        return cls(SourceKind.PROBE, name)

    @classmethod
    def rule(cls, rule_id: str) -> "Source":
        return cls(SourceKind.RULE, rule_id)

    @property
    def is_log(self) -> bool:
        """Whether the log probe said it (its facts point at lines of an input log)."""
        return self.kind is SourceKind.PROBE and self.name == LOG_PROBE

    @property
    def label(self) -> str:
        """The short form a provenance shows: the probe's name (``log``, ``dataset``), else the words of
        :meth:`__str__` (``given`` for the input)."""
        if self.kind is SourceKind.PROBE:
            return self.name
        return "given" if self.kind is SourceKind.INPUT else str(self)

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}" if self.name else self.kind.value

    @classmethod
    def parse(cls, text: str) -> "Source":
        """The source that :meth:`__str__` or :attr:`label` wrote (a bundle, a report, an older bundle)."""
        head, _, rest = text.strip().partition(" ")
        if head in ("probe", "rule") and rest:
            return cls(SourceKind(head), rest)
        if text in ("input", "given"):
            return INPUT
        if text in ("bundle", "unknown"):
            return cls(SourceKind(text))
        return cls.probe(text)


LOG = Source.probe(LOG_PROBE)
INPUT = Source(SourceKind.INPUT)
BUNDLE = Source(SourceKind.BUNDLE)
UNKNOWN = Source(SourceKind.UNKNOWN)
