"""One pass over a log: a multi-literal prefilter finds candidate lines, and only those are decoded and read.

Every reader of the log (the rule pack's signatures, the exception and training-log readers...) declares
literal *anchors*. All anchors of all readers are compiled into one prefilter that runs over each block of
raw bytes at C speed; a line that contains no anchor is never decoded. Each candidate line is cleaned
(:func:`~.reader.clean_line`), its anchors are checked again on the cleaned text (a ``\\r`` redraw or an ANSI
code may hide or split one), and it is handed, in line order, to the readers whose anchors it contains.
A reader may look at the lines that follow a candidate (up to ``context_lines``): each block keeps its last
lines back and handles them with the next block, so a message printed over several lines is never cut.

Prefilter engines, fastest first: ``hyperscan`` (all anchors in one automaton), ``re2`` (one alternation,
linear time; a dependency, so always there) and ``python`` (``bytes.find`` per anchor). :data:`ENGINES`
lists those importable here; :attr:`Scanner.engine` says which one ran.

>>> class Echo:
...     def __init__(self): self.seen = []
...     def anchors(self): return [("Error", False)]
...     def on_line(self, line): self.seen.append((line.number, line.text, line.following(1)))
...     def end_input(self, name, lines): pass
>>> echo = Echo()
>>> scanner = Scanner([echo], context_lines=1)
>>> from .reader import LogInput
>>> import io
>>> scanner.scan(LogInput("x.log", lambda: io.BytesIO(b"ok\\nRuntimeError: boom\\nnext line\\n")))
3
>>> echo.seen
[(2, 'RuntimeError: boom', ['next line'])]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from .reader import Block, LogInput, ReadNote, clean_line

_ESC = "\x1b"


@dataclass
class Line:
    """A candidate line: its number in the input, its cleaned text, and the lines that follow it."""

    number: int
    text: str
    file: str
    hits: frozenset[str]  # the reader's anchors found in ``text``
    _following: Callable[[int], list[str]]

    def following(self, count: int) -> list[str]:
        """The next ``count`` lines, cleaned (fewer at the end of the input)."""
        return self._following(count) if count > 0 else []


class LineReader(Protocol):
    """Something that reads candidate lines: declares its anchors, gets the lines that contain them."""

    def anchors(self) -> Iterable[tuple[str, bool]]: ...  # (literal, ignore_case)
    def on_line(self, line: Line) -> None: ...
    def end_input(self, name: str, lines: int) -> None: ...


@dataclass(frozen=True)
class _Anchor:
    text: str
    ignore_case: bool

    @property
    def needle(self) -> bytes:
        return (self.text.lower() if self.ignore_case else self.text).encode("utf-8")


class _Prefilter(Protocol):
    name: str

    def lines(self, data: bytes) -> dict[int, set[int] | None]:
        """Start offset of every line that contains an anchor -> anchor ids (None: not known, check them all)."""


def _line_start(data: bytes, offset: int) -> int:
    return data.rfind(b"\n", 0, offset) + 1


class _HyperscanPrefilter:
    name = "hyperscan"

    def __init__(self, anchors: list[_Anchor]):
        import hyperscan

        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(expressions=[anchor.text.encode("utf-8") for anchor in anchors],
                               ids=list(range(len(anchors))), elements=len(anchors),
                               flags=[hyperscan.HS_FLAG_CASELESS if a.ignore_case else 0 for a in anchors],
                               literal=True)
        self._scratch = hyperscan.Scratch(self._database)

    def lines(self, data: bytes) -> dict[int, set[int] | None]:
        ends: list[tuple[int, int]] = []

        def on_match(anchor: int, start: int, end: int, flags: int, context: Any) -> None:
            ends.append((end, anchor))

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch)
        found: dict[int, set[int] | None] = {}
        line_start, line_end = -1, -1
        for end, anchor in sorted(ends):
            if end > line_end:
                line_start = _line_start(data, end - 1)
                line_end = data.find(b"\n", end - 1)
                if line_end < 0:
                    line_end = len(data)
            bucket = found.setdefault(line_start, set())
            assert bucket is not None
            bucket.add(anchor)
        return found


class _Re2Prefilter:
    name = "re2"

    def __init__(self, anchors: list[_Anchor]):
        import re2

        options = re2.Options()
        options.max_mem = 256 << 20
        options.log_errors = False
        parts = [("(?i:%s)" if a.ignore_case else "%s") % re2.escape(a.text.encode("utf-8")).decode("latin-1")
                 for a in anchors]
        self._pattern = re2.compile("|".join(parts).encode("latin-1"), options)

    def lines(self, data: bytes) -> dict[int, set[int] | None]:
        found: dict[int, set[int] | None] = {}
        position = 0
        search = self._pattern.search
        while True:
            match = search(data, position)
            if match is None:
                return found
            start = _line_start(data, match.start())
            found[start] = None
            end = data.find(b"\n", match.end())
            if end < 0:
                return found
            position = end + 1


class _PythonPrefilter:
    name = "python"

    def __init__(self, anchors: list[_Anchor]):
        self._needles = [(anchor.needle, anchor.ignore_case) for anchor in anchors]

    def lines(self, data: bytes) -> dict[int, set[int] | None]:
        found: dict[int, set[int] | None] = {}
        lowered: bytes | None = None
        for needle, ignore_case in self._needles:
            if ignore_case and lowered is None:
                lowered = data.lower()
            haystack = lowered if ignore_case else data
            assert haystack is not None
            position = haystack.find(needle)
            while position >= 0:
                found[_line_start(data, position)] = None
                end = data.find(b"\n", position)
                position = haystack.find(needle, end) if end >= 0 else -1
        return found


_PREFILTERS: dict[str, type] = {"hyperscan": _HyperscanPrefilter, "re2": _Re2Prefilter, "python": _PythonPrefilter}


def _available() -> list[str]:
    engines = []
    for name, module in (("hyperscan", "hyperscan"), ("re2", "re2")):
        try:
            __import__(module)
        except ImportError:
            continue
        engines.append(name)
    return engines + ["python"]


#: prefilter engines importable here, fastest first
ENGINES: tuple[str, ...] = tuple(_available())


@dataclass
class _Subscription:
    reader: LineReader
    anchors: list[int] = field(default_factory=list)


class Scanner:
    """Runs every reader over a log in one pass; see the module docstring."""

    def __init__(self, readers: Iterable[LineReader], context_lines: int = 0, engine: str | None = None):
        self.readers = list(readers)
        self.context_lines = context_lines
        self.notes: list[ReadNote] = []
        anchors: dict[_Anchor, int] = {}
        self._owners: list[list[int]] = []  # anchor id -> reader indexes
        for index, reader in enumerate(self.readers):
            for text, ignore_case in reader.anchors():
                anchor = _Anchor(text, ignore_case)
                if anchor not in anchors:
                    anchors[anchor] = len(anchors)
                    self._owners.append([])
                if index not in self._owners[anchors[anchor]]:
                    self._owners[anchors[anchor]].append(index)
        anchors.setdefault(_Anchor(_ESC, False), len(anchors))
        self._anchors = list(anchors)
        self._esc = anchors[_Anchor(_ESC, False)]
        names = [engine] if engine else list(ENGINES)
        self.engine = names[0]
        self._prefilter: _Prefilter = _PREFILTERS[self.engine](self._anchors)

    def scan(self, log: LogInput) -> int:
        """Feed one input to every reader; returns its number of lines."""
        carry, carry_first, lines = b"", 1, 0
        self._binary_runs: list[list[int]] = []
        for block in log.blocks():
            data = carry + block.data
            first = carry_first if carry else block.first_line
            cutoff = len(data) if block.last else self._keep_back(data)
            self._handle(data, first, cutoff, log.name)
            carry, carry_first = data[cutoff:], first + data.count(b"\n", 0, cutoff)
            lines = first + data.count(b"\n") - 1
        for low, high in self._binary_runs:
            where = f"{log.name}:{low}" + (f"-{high}" if high != low else "")
            self.notes.append(ReadNote(log.name, f"{where}: binary data (NUL bytes), not text; skipped"))
        self.notes += log.notes
        for reader in self.readers:
            reader.end_input(log.name, lines)
        return lines

    def _keep_back(self, data: bytes) -> int:
        """Offset of the first of the last ``context_lines`` lines: they are handled with the next block."""
        position = len(data) - 1
        for _ in range(self.context_lines):
            position = data.rfind(b"\n", 0, position)
            if position < 0:
                return 0
        return position + 1 if self.context_lines else len(data)

    def _handle(self, data: bytes, first: int, cutoff: int, name: str) -> None:
        candidates = self._prefilter.lines(data)
        binary = self._binary_lines(data, first, cutoff) if b"\x00" in data else set()
        number, counted = first, 0
        for start in sorted(candidates):
            if start >= cutoff:
                break
            number += data.count(b"\n", counted, start)
            counted = start
            if start in binary:
                continue
            end = data.find(b"\n", start)
            text = clean_line(data[start:end if end >= 0 else len(data)])
            anchor_ids = candidates[start]
            if anchor_ids is None or self._esc in anchor_ids:
                anchor_ids = set(range(len(self._anchors)))
            self._dispatch(text, anchor_ids, number, name, data, end)

    def _dispatch(self, text: str, anchor_ids: set[int], number: int, name: str, data: bytes, end: int) -> None:
        lowered: str | None = None
        hits: dict[int, set[str]] = {}
        for anchor_id in anchor_ids:
            if anchor_id == self._esc:
                continue
            anchor = self._anchors[anchor_id]
            if anchor.ignore_case:
                lowered = text.lower() if lowered is None else lowered
                present = anchor.text.lower() in lowered
            else:
                present = anchor.text in text
            if present:
                for reader in self._owners[anchor_id]:
                    hits.setdefault(reader, set()).add(anchor.text)
        if not hits:
            return

        def following(count: int) -> list[str]:
            out: list[str] = []
            position = end
            while position >= 0 and len(out) < min(count, self.context_lines or count):
                nxt = data.find(b"\n", position + 1)
                if nxt < 0:
                    if position + 1 < len(data):
                        out.append(clean_line(data[position + 1:]))
                    break
                out.append(clean_line(data[position + 1:nxt]))
                position = nxt
            return out

        for reader in sorted(hits):
            self.readers[reader].on_line(Line(number, text, name, frozenset(hits[reader]), following))

    def _binary_lines(self, data: bytes, first: int, cutoff: int) -> set[int]:
        """Start offsets of lines holding NUL bytes (binary data); runs of them are reported per input."""
        starts: list[int] = []
        position = data.find(b"\x00")
        while 0 <= position < cutoff:
            start = _line_start(data, position)
            starts.append(start)
            end = data.find(b"\n", position)
            position = data.find(b"\x00", end) if end >= 0 else -1
        runs = self._binary_runs
        number, counted = first, 0
        for start in starts:
            number += data.count(b"\n", counted, start)
            counted = start
            if runs and number - runs[-1][1] <= 2:
                runs[-1][1] = number
            else:
                runs.append([number, number])
        return set(starts)
