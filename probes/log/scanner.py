"""One pass over a log: a multi-literal prefilter finds candidate lines, and only those are decoded and read.

Every reader of the log (the rule pack's signatures, the exception and training-log readers...) declares
literal *anchors*. All anchors of all readers are compiled into one prefilter that runs over each block of
raw bytes at C speed; a line that contains no anchor is never decoded. Each candidate line is cleaned
(:func:`~.reader.clean_line`), its anchors are checked again on the cleaned text (a ``\\r`` redraw or an ANSI
code may hide or split one), and it is handed, in line order, to the readers whose anchors it contains.
A reader may look at the lines that follow a candidate (at least ``context_lines`` of them): each block keeps
its last lines back and handles them with the next block, so a message printed over several lines is never cut.

Prefilter engines, fastest first: ``hyperscan`` (all anchors in one automaton), ``re2`` (one alternation,
linear time; a dependency, so always there) and ``python`` (``bytes.find`` per anchor). :data:`ENGINES`
lists those importable here; :attr:`Scanner.engine` says which one ran.

Two things keep the Python work per line small on long logs:

- a *fast lane*: a reader may recognise its most frequent lines (nnU-Net's epoch lines) from their raw bytes
  (:class:`FastLane`); such a line is handed to it undecoded, and decoded only if another reader wants it too;
- *retired anchors*: a reader whose collection is full (a signature with its maximum of records) says which of
  its anchors it no longer needs (``spent()``); once no reader needs an anchor, the prefilter is rebuilt
  without it, so its lines are not even candidates any more.

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

import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import AbstractSet, Any, Callable, Iterable, NamedTuple, Protocol

from nnunet_doctor.engine.pack_cache import cache_dir, private, prune

from .reader import BLOCK_BYTES, JOINED_PIECE, Block, LogInput, ReadNote, clean_line

_ESC = "\x1b"


class Sighting(NamedTuple):
    """A value a reader saw, and where: ``Sighting("3.10", 12, "train.log")``."""

    value: Any
    line: int
    file: str


class Line(NamedTuple):
    """A candidate line: its number in the input, its cleaned text, and its neighbours in the block it came from."""

    number: int
    text: str
    file: str
    hits: AbstractSet[str]  # the reader's anchors found in ``text``
    block: bytes | bytearray = b""
    start: int = 0  # offset of the line in ``block``
    end: int = 0  # offset of its line break
    limit: int = 0  # the block's complete lines end here

    def following(self, count: int) -> list[str]:
        """The next ``count`` lines, cleaned (at least the scanner's ``context_lines``, unless the input ends);
        the places of a joined line's other pieces (:data:`~.reader.JOINED_PIECE`) are passed over."""
        out: list[str] = []
        position = self.end
        while position + 1 < self.limit and len(out) < count:
            stop = self.block.find(b"\n", position + 1, self.limit)
            stop = stop if stop >= 0 else self.limit
            raw = self.block[position + 1:stop]
            if raw != JOINED_PIECE:
                out.append(clean_line(raw))
            position = stop
        return out

    def previous(self) -> str:
        """The line before, cleaned ('' at the start of a block), past the places of a joined line's pieces."""
        end = self.start - 1
        while end >= 0:
            start = _line_start(self.block, end)
            if self.block[start:end] != JOINED_PIECE:
                return clean_line(self.block[start:end])
            end = start - 1
        return ""


class LineReader(Protocol):
    """Something that reads candidate lines: declares its anchors, gets the lines that contain them.

    It may also offer ``fast_lane() -> FastLane`` (its most frequent lines, read from raw bytes) and
    ``spent() -> Iterable[str]`` (the texts of its anchors it no longer needs; asked after each block).
    """

    def anchors(self) -> Iterable[tuple[str, bool]]: ...  # (literal, ignore_case)
    def on_line(self, line: Line) -> None: ...
    def end_input(self, name: str, lines: int) -> None: ...


class FastLane(NamedTuple):
    """Lines a reader recognises from their raw bytes: ``pattern`` must match a whole line (without its line
    break) only where the reader's ``on_line`` would read the same values from the decoded line, and ``take``
    gets the match, the line's number and the input's name instead of ``on_line``."""

    pattern: re.Pattern[bytes]
    take: Callable[[re.Match[bytes], int, str], None]


class _Anchor(NamedTuple):
    text: str
    ignore_case: bool

    @property
    def needle(self) -> bytes:
        return (self.text.lower() if self.ignore_case else self.text).encode("utf-8")


class _Prefilter(Protocol):
    name: str

    def lines(self, data: bytes | bytearray) -> dict[int, set[int] | None]:
        """Start offset of every line that contains an anchor -> anchor ids (None: not known, check them all)."""


def _store_bytes(path: Path, data: bytes) -> None:
    """Write a compiled database to the cache, beside the newest few of other anchor sets."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        prune(path.parent, "hyperscan-*.db")
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        pass


def _line_start(data: bytes | bytearray, offset: int) -> int:
    return data.rfind(b"\n", 0, offset) + 1


class _HyperscanPrefilter:
    """All anchors in one Hyperscan literal database (compiled once, then kept in the rule-pack cache folder)."""

    name = "hyperscan"

    def __init__(self, anchors: dict[int, _Anchor], cached: bool = True):
        import hyperscan

        flags = [hyperscan.HS_FLAG_CASELESS if anchor.ignore_case else 0 for anchor in anchors.values()]
        expressions = [anchor.text.encode("utf-8") for anchor in anchors.values()]
        key = hashlib.sha256(repr((getattr(hyperscan, '__version__', ''), expressions, flags)).encode()).hexdigest()[:24]
        folder = cache_dir() if cached else None
        # a database is loaded only from a folder and file no other user can write (like the rule-pack cache)
        path = folder / f"hyperscan-{key}.db" if folder and private(folder) else None
        try:
            if path is None or not private(path):
                raise OSError("no private cache")
            self._database = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        except (OSError, AttributeError, hyperscan.error):
            self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._database.compile(expressions=expressions, ids=list(anchors), elements=len(anchors),
                                   flags=flags, literal=True)
            if path is not None:
                _store_bytes(path, hyperscan.dumpb(self._database))
        self._scratch = hyperscan.Scratch(self._database)

    def lines(self, data: bytes | bytearray) -> dict[int, set[int] | None]:
        ends: list[tuple[int, int]] = []

        def on_match(anchor: int, start: int, end: int, flags: int, context: Any) -> None:
            ends.append((end, anchor))

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch)  # type: ignore[type-var]
        found: dict[int, set[int] | None] = {}
        line_end = -1
        bucket: set[int] = set()
        for end, anchor in sorted(ends):
            if end > line_end:  # the first anchor of a line
                line_end = data.find(b"\n", end - 1)
                if line_end < 0:
                    line_end = len(data)
                bucket = found[_line_start(data, end - 1)] = set()
            bucket.add(anchor)
        return found


class _Re2Prefilter:
    name = "re2"

    def __init__(self, anchors: dict[int, _Anchor], cached: bool = True):
        import re2

        options = re2.Options()
        options.max_mem = 256 << 20
        options.log_errors = False
        parts = [("(?i:%s)" if a.ignore_case else "%s") % re2.escape(a.text.encode("utf-8")).decode("latin-1")
                 for a in anchors.values()]
        self._pattern = re2.compile("|".join(parts).encode("latin-1"), options)

    def lines(self, data: bytes | bytearray) -> dict[int, set[int] | None]:
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

    def __init__(self, anchors: dict[int, _Anchor], cached: bool = True):
        self._needles = [(anchor.needle, anchor.ignore_case) for anchor in anchors.values()]

    def lines(self, data: bytes | bytearray) -> dict[int, set[int] | None]:
        found: dict[int, set[int] | None] = {}
        lowered: bytes | bytearray | None = None
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


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


#: prefilter engines importable here, fastest first (found without importing them)
ENGINES: tuple[str, ...] = tuple(name for name in ("hyperscan", "re2") if _importable(name)) + ("python",)


class Scanner:
    """Runs every reader over a log in one pass; see the module docstring.

    ``shortcuts=False`` turns the fast lanes and the retiring of anchors off: every candidate line is decoded
    and read line by line (the reference the shortcuts are tested against).
    """

    def __init__(self, readers: Iterable[LineReader], context_lines: int = 0, engine: str | None = None,
                 block_bytes: int = BLOCK_BYTES, shortcuts: bool = True):
        self.readers = list(readers)
        self.context_lines = context_lines
        self.block_bytes = block_bytes
        self.notes: list[ReadNote] = []
        anchors: dict[_Anchor, int] = {}
        self._owners: list[set[int]] = []  # anchor id -> indexes of the readers that still need it
        self._reader_anchors: list[dict[str, list[int]]] = []  # reader index -> its anchors' ids by text
        for index, reader in enumerate(self.readers):
            own: dict[str, list[int]] = {}
            for text, ignore_case in reader.anchors():
                anchor = _Anchor(text, ignore_case)
                if anchor not in anchors:
                    anchors[anchor] = len(anchors)
                    self._owners.append(set())
                self._owners[anchors[anchor]].add(index)
                own.setdefault(text, []).append(anchors[anchor])
            self._reader_anchors.append(own)
        if _Anchor(_ESC, False) not in anchors:
            anchors[_Anchor(_ESC, False)] = len(anchors)
            self._owners.append(set())
        self._anchors = list(anchors)
        self._esc = anchors[_Anchor(_ESC, False)]
        #: what to look for in a cleaned line (lower case for case-insensitive anchors; the ESC marker never matches)
        self._needles = [a.text.lower() if a.ignore_case else a.text for a in self._anchors]
        self._needles[self._esc] = "\x00"
        #: (reader index, its lane) of the readers with a fast lane
        self._lanes: list[tuple[int, FastLane]] = []
        for index, reader in enumerate(self.readers):
            lane = _fast_lane(reader) if shortcuts else None
            if lane is not None:
                self._lanes.append((index, lane))
        #: readers that may retire anchors (``spent()``)
        self._idle = [index for index, reader in enumerate(self.readers) if shortcuts and hasattr(reader, "spent")]
        self._sole: dict[int, set[int]] = {}  # reader index -> the anchors no other reader needs
        self._find_sole()
        names = [engine] if engine else list(ENGINES)
        self.engine = names[0]
        self._prefilter: _Prefilter = _PREFILTERS[self.engine](dict(enumerate(self._anchors)))
        self._stale = False  # anchors were retired that the prefilter still looks for

    def _find_sole(self) -> None:
        self._sole = {index: {i for i, owners in enumerate(self._owners) if owners <= {index}}
                      for index, _ in self._lanes}

    def scan(self, log: LogInput) -> int:
        """Feed one input to every reader; returns its number of lines."""
        first = 1
        self._binary_runs: list[list[int]] = []
        for block in log.blocks(self.context_lines, self.block_bytes):
            first += self._handle(block, first, log.name)
            if not block.last:  # a new prefilter for no more blocks would only cost its compilation
                # (nor for the small first reads of a short log: a rebuild pays off only over full blocks)
                self._retire(rebuild=block.cutoff >= self.block_bytes // 2)
        lines = first - 1
        for low, high in self._binary_runs:
            where = f"{log.name}:{low}" + (f"-{high}" if high != low else "")
            self.notes.append(ReadNote(log.name, f"{where}: binary data (NUL bytes), not text; skipped"))
        self.notes += log.notes
        for reader in self.readers:
            reader.end_input(log.name, lines)
        return lines

    def _handle(self, block: Block, first: int, name: str) -> int:
        """Hand the new candidate lines of a block to their readers; returns the number of new lines."""
        data, cutoff = block.data, block.cutoff
        candidates = self._prefilter.lines(data)
        binary = self._binary_lines(data, first, cutoff) if b"\x00" in data else set()
        number, counted = first, 0
        everything = set(range(len(self._anchors)))
        for start in sorted(candidates):
            if start >= cutoff:
                break
            number += data.count(b"\n", counted, start)
            counted = start
            if start in binary:
                continue
            end = data.find(b"\n", start, block.end)
            end = end if end >= 0 else block.end
            anchor_ids = candidates[start]
            taken = self._fast_lane(data, start, end, number, name) if self._lanes else None
            if anchor_ids is None or self._esc in anchor_ids:
                anchor_ids = everything
            elif taken is not None and anchor_ids <= self._sole[taken]:
                continue  # no other reader wants the line: it is never decoded
            text = clean_line(data[start:end])
            self._dispatch(text, anchor_ids, number, name, block, start, end, taken)
        return number - first + data.count(b"\n", counted, cutoff)

    def _fast_lane(self, data: bytes | bytearray, start: int, end: int, number: int, name: str) -> int | None:
        """The reader whose fast lane took the line, if one did."""
        for index, lane in self._lanes:
            match = lane.pattern.fullmatch(data, start, end)
            if match is not None:
                lane.take(match, number, name)
                return index
        return None

    def _dispatch(self, text: str, anchor_ids: AbstractSet[int], number: int, name: str, block: Block, start: int,
                  end: int, taken: int | None = None) -> None:
        lowered: str | None = None
        hits: dict[int, set[str]] = {}
        for anchor_id in anchor_ids:
            owners = self._owners[anchor_id]
            if not owners:
                continue
            anchor, needle = self._anchors[anchor_id], self._needles[anchor_id]
            if anchor.ignore_case:
                lowered = text.lower() if lowered is None else lowered
                present = needle in lowered
            else:
                present = needle in text
            if present:
                for reader in owners:
                    if reader != taken:
                        hits.setdefault(reader, set()).add(anchor.text)
        for reader in sorted(hits):
            try:
                self.readers[reader].on_line(Line(number, text, name, hits[reader], block.data, start, end, block.end))
            except ValueError as error:  # int() of a number longer than Python allows (4300 digits): not a count
                if "integer string conversion" not in str(error):
                    raise
                self.notes.append(ReadNote(name, f"{name}:{number}: a number of more than 4300 digits; line skipped"))

    def _retire(self, rebuild: bool = True) -> None:
        """Drop the anchors that readers no longer need; rebuild the prefilter once no reader needs some (at the
        next full block if ``rebuild`` is false)."""
        changed = dropped = False
        for index in self._idle:
            own = self._reader_anchors[index]
            for text in self.readers[index].spent():  # type: ignore[attr-defined]  # checked in __init__
                for anchor_id in own.pop(text, ()):
                    changed = True
                    self._owners[anchor_id].discard(index)
                    dropped = dropped or not self._owners[anchor_id]
        if changed:
            self._find_sole()
        self._stale = self._stale or dropped
        if self._stale and rebuild:
            active = {i: a for i, a in enumerate(self._anchors) if self._owners[i] or i == self._esc}
            self._prefilter = _PREFILTERS[self.engine](active, cached=False)
            self._stale = False

    def _binary_lines(self, data: bytes | bytearray, first: int, cutoff: int) -> set[int]:
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


def _fast_lane(reader: LineReader) -> FastLane | None:
    lane = getattr(reader, "fast_lane", None)
    return lane() if lane is not None else None
