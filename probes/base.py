"""What a probe is: a small module that establishes facts from one source and never decides anything.

A probe gets a :class:`ProbeContext` (the inputs named on the command line, whether the machine itself
may be looked at, the rule pack's signatures) and writes facts into a :class:`FactSink`, which checks each
name and value against the vocabulary. A probe that cannot establish a fact leaves it out, or records an
explicit unknown with the reason; it never writes ``False`` for "could not tell".
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Callable, ClassVar, Mapping, Protocol, TypeVar, cast

from msgspec import Struct, field

from nnunet_doctor.engine.facts import Fact, Provenance, Record, Unknown
from nnunet_doctor.engine.signatures import SignatureSet
from nnunet_doctor.engine.sources import Source
from nnunet_doctor.engine.vocabulary import Vocabulary


class LogSource(Struct, frozen=True):
    """A log named on the command line: a path (file, .gz, folder), a binary stream (``-``) or text."""

    name: str
    path: Path | None = None
    text: str | None = None
    stream: BinaryIO | None = None


_T = TypeVar("_T")


class ProbeContext(Struct):
    """What a probe may read: the inputs, the facts of the probes that ran before it, and readings of the inputs
    that several probes share (:meth:`shared`). ``options`` holds only what the user asked for (``quick``,
    ``jobs``, ``cache``)."""

    vocabulary: Vocabulary
    signatures: SignatureSet = field(default_factory=SignatureSet)
    logs: list[LogSource] = field(default_factory=list)
    dataset: str | None = None
    results: Path | None = None
    offline: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    #: the facts established by the probes that ran before this one (in the order of the registry)
    established: list[Fact] = field(default_factory=list)
    _readings: dict[Callable[..., Any], Any] = field(default_factory=dict)

    def shared(self, reader: "Callable[[ProbeContext], _T]") -> _T:
        """``reader(self)``, computed once per diagnosis and shared by every probe that asks for it (the dataset's
        folders, its dataset.json and listing): a probe names what it depends on instead of leaving it in a dict.

        >>> context = ProbeContext(Vocabulary())
        >>> calls = []
        >>> def folders(context): calls.append(1); return ["raw"]
        >>> context.shared(folders), context.shared(folders), len(calls)
        (['raw'], ['raw'], 1)
        """
        if reader not in self._readings:
            self._readings[reader] = reader(self)
        return cast(_T, self._readings[reader])


class FactSink:
    """Collects the facts of one probe, checking names and types against the vocabulary."""

    def __init__(self, vocabulary: Vocabulary, probe: str):
        self.vocabulary = vocabulary
        self.probe = probe
        self.facts: list[Fact] = []
        self.problems: list[str] = []
        self.notes: list[tuple[str, str]] = []  # (severity, message): what the probe has to say about itself
        self.detail = ""  # one line on how the probe ran (shown with the probe in the report)

    def _not_mine(self, name: str) -> str | None:
        """Why this probe may not write ``name``: the vocabulary gives it to another probe (``probe``/``also_from``)."""
        spec = self.vocabulary.get(name)
        if spec is None or self.probe in spec.written_by:
            return None
        return (f"fact '{name}' belongs to the {' or '.join(repr(p) for p in spec.written_by)} probe, not to "
                f"'{self.probe}' (the vocabulary's 'probe'/'also_from')")

    def add(self, name: str, value: Any, provenance: Provenance | None = None, **where: Any) -> None:
        """Record a fact. ``where`` may give ``file``, ``lines`` and ``detail`` for the provenance."""
        error = self.vocabulary.check_value(name, value) or self._not_mine(name)
        if error:
            self.problems.append(error)
            return
        provenance = provenance or Provenance(Source.probe(self.probe), **where)
        if isinstance(value, list) and self.vocabulary.get(name) and self.vocabulary.specs[name].is_collection:
            value = [item if isinstance(item, Record) else Record(item, provenance) for item in value]
        self.facts.append(Fact(name, value, provenance))

    def unknown(self, name: str, reason: str) -> None:
        """Record that ``name`` could not be established, and why."""
        if name not in self.vocabulary:
            self.problems.append(f"fact '{name}' is not in the vocabulary")
            return
        error = self._not_mine(name)
        if error:
            self.problems.append(error)
            return
        self.facts.append(Fact(name, Unknown(reason), Provenance(Source.probe(self.probe), detail=reason)))

    def note(self, message: str, severity: str = "info") -> None:
        """Say something about the probe itself: not applicable here, timed out, its subprocess died.

        A note becomes a finding of the report; the probe goes on and records what it could establish.
        """
        self.notes.append((severity, message))


class Probe(Protocol):
    name: ClassVar[str]
    #: which inputs make the probe run: "log", "dataset", "results", "machine" (this machine, not --offline)
    needs: ClassVar[str]
    description: ClassVar[str]

    def collect(self, context: ProbeContext, sink: FactSink) -> None: ...
