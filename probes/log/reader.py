"""Reading logs as blocks of whole lines, whatever was pasted: streaming, with bounded memory.

A log named on the command line may be a file, a ``.gz``/``.bz2``/``.xz`` file, standard input, or a folder
such as ``nnUNet_results/Dataset003_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0`` (its
``training_log_*.txt`` files are read, and ``debug.json`` is noted). Each input is read in blocks of about
8 MiB that end at a line break, so a multi-GB log never sits in memory whole; line numbers are those of
the input. UTF-16 and UTF-32 logs (PowerShell's ``>``) are transcoded to UTF-8; a UTF-8 byte-order mark is
dropped; invalid UTF-8 is replaced when a line is decoded. A line longer than 8 MiB is cut (a tqdm bar redrawn
with ``\\r`` keeps its last state). A paste hard-wrapped by a terminal copy (lines cut at
80 columns, or at another width that several lines reach and none passes) is read as the lines it was cut from
(:func:`unwrap`), each line keeping its number.

Bounds (docs/limits.md): at most :data:`MAX_LOG_BYTES` of text per input; a compressed input stops once it has
decompressed to more than :data:`MAX_EXPANSION` times the compressed bytes read (plus :data:`EXPANSION_FLOOR`),
and compression is undone at most :data:`MAX_NESTING` levels deep; devices and sockets are refused; a named pipe
(``--log <(zcat x.gz)``) is read once, into a temporary file, so nothing of it is lost.

:func:`clean_line` turns one raw line into the text a person saw on the terminal:

>>> clean_line(b"\\x1b[31mRuntimeError: x\\x1b[0m\\r\\n")
'RuntimeError: x'
>>> clean_line(b"Preprocessing:  10%|#   | 1/10\\rPreprocessing: 100%|####| 10/10\\n")
'Preprocessing: 100%|####| 10/10'
>>> clean_line(b"RuntimeError: CUDA error\\r 50%|##  | 5/10\\r100%|####| 10/10\\n")  # an error a redraw hid
'RuntimeError: CUDA error  100%|####| 10/10'
>>> [clean_line(line) for line in b"caf\\xe9 \\xff\\n".splitlines()]
['caf\\ufffd \\ufffd']
"""
from __future__ import annotations

import codecs
import importlib
import io
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, NamedTuple, Protocol

from nnunet_doctor.engine.errors import InputError

from ..base import LogSource

BLOCK_BYTES = 8 << 20
_FIRST_READ = 256 << 10
#: a line longer than this is cut while it is read (its beginning is kept; a progress bar keeps its last state)
MAX_LINE_BYTES = BLOCK_BYTES
TRAINING_LOG_GLOB = "training_log_*.txt"
_FOLDER_DEPTH = 3
#: text read from one input at the most (after decompression); the rest is left out with a note
MAX_LOG_BYTES = 16 << 30
#: a compressed input may expand to this many times the compressed bytes read, plus EXPANSION_FLOOR
MAX_EXPANSION = 200
EXPANSION_FLOOR = 64 << 20
#: a paste cut into lines of this many characters (a terminal's default width) is read as the lines it was cut from
TERMINAL_WIDTH = 80
#: wider lines are not taken for a terminal's wrap
MAX_WRAP_WIDTH = 512
_DIGITS = re.compile(rb"\d+")
#: characters (digits aside) that two lines start with alike when they are lines of one log, not a wrapped line
SAME_HEAD = 6
#: what the other pieces of a joined line become: a terminal code (an operating-system command no terminal
#: knows) that a log does not hold, read as an empty line
JOINED_PIECE = b"\x1b]nnunet-doctor;joined\x07"
#: another width is taken for a hard wrap when at least two lines reach it and none passes it
MIN_WRAP_WIDTH = 60
#: compression inside compression is undone this many levels deep (a .gz of a .gz), no deeper
MAX_NESTING = 2
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: magic bytes -> module and class that decompress (imported only when such a file is read)
_COMPRESSED: dict[bytes, tuple[str, str]] = {b"\x1f\x8b": ("gzip", "GzipFile"), b"BZh": ("bz2", "BZ2File"),
                                            b"\xfd7zXZ": ("lzma", "LZMAFile")}
#: what reading a broken archive raises, besides OSError and EOFError (lzma.LZMAError, zlib.error)
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, ValueError)


def clean_line(raw: bytes | bytearray) -> str:
    """Decode one line (invalid UTF-8 replaced), drop ANSI codes and keep the last state of ``\\r`` redraws."""
    text = raw.decode("utf-8", errors="replace")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = text.rstrip("\r\n")
    if "\r" in text:
        segments = [segment.rstrip() for segment in text.split("\r") if segment.strip()]
        last = segments[-1] if segments else ""
        overwritten = [segment for segment in segments[:-1] if not _redraw_of(segment, last)]
        text = "  ".join(dict.fromkeys(overwritten + [last]))
    return text.rstrip()


def _redraw_of(segment: str, last: str) -> bool:
    """Whether ``segment`` is an earlier state of what ``last`` shows (a progress bar, a counter), not other text.

    >>> _redraw_of(" 10%|#   | 1/10", "100%|####| 10/10"), _redraw_of("RuntimeError: x", "100%|####| 10/10")
    (True, False)
    """
    if "%|" in segment or "it/s]" in segment or "s/it]" in segment:
        return True
    head = _before_digits(segment)
    return bool(head) and head == _before_digits(last)


def _before_digits(text: str) -> str:
    """The words in front of the first digit, spaces folded: what stays the same while a counter redraws."""
    cut = next((index for index, char in enumerate(text) if char.isdigit()), len(text))
    return " ".join(text[:cut].split())


class Block(NamedTuple):
    """A stretch of one input: the lines before ``cutoff`` are new; up to ``end`` lie complete lines that are
    only context here (they start the next block); after ``end``, a partial line. ``last``: the final block.
    ``data`` is only valid until the next block is read (the buffer is reused)."""

    data: bytes | bytearray
    cutoff: int
    end: int
    last: bool


class ReadNote(NamedTuple):
    """Something about an input that the report should say (a cut line, binary data, a broken archive)."""

    file: str
    message: str
    severity: str = "warning"


class LogInput:
    """One readable log: a display name and a way to open it as a binary stream."""

    def __init__(self, name: str, open: Callable[[], BinaryIO], path: Path | None = None, closes: bool = True):
        self.name = name
        self.open = open
        self.path = path
        self.closes = closes  # False for a stream this tool did not open (standard input)
        self.notes: list[ReadNote] = []

    def blocks(self, keep_lines: int = 0, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
        """The input in blocks; the last ``keep_lines`` complete lines of a block are handled with the next one."""
        stream = self.open()
        try:
            yield from self._blocks(_Unwrapped(_decoded(stream, self)), keep_lines, block_bytes)
        except _ARCHIVE_ERRORS + _decompression_errors() as exc:
            self.notes.append(ReadNote(self.name, f"{self.name}: reading stopped early: {exc}"))
        finally:
            if self.closes:
                stream.close()

    def _blocks(self, stream: "_ByteSource", keep_lines: int, block_bytes: int) -> Iterator[Block]:
        """Blocks read into one reused buffer: the only copies are the kernel's and the few kept-back lines."""
        buffer = bytearray()
        kept = 0  # bytes at the front of ``buffer`` carried over from the last block (context lines, partial line)
        skipping = False  # the rest of a line that was cut is being discarded
        size = min(block_bytes, _FIRST_READ)  # grows to block_bytes while reads fill it: small logs stay cheap
        while True:
            if len(buffer) > kept + size:
                del buffer[kept + size:]
            else:
                buffer.extend(bytes(kept + size - len(buffer)))
            count = _read_into(stream, memoryview(buffer)[kept:])
            if not count:
                del buffer[kept:]
                break
            if count == size:
                size = min(2 * size, block_bytes)
            del buffer[kept + count:]
            if skipping:
                stop = buffer.find(b"\n", kept)
                if stop < 0:
                    del buffer[kept:]
                    continue
                del buffer[kept:stop]
                skipping = False
            end = buffer.rfind(b"\n") + 1
            cutoff = _keep_back(buffer, end, keep_lines)
            if cutoff:
                yield Block(buffer, cutoff, end, False)
            tail = bytes(buffer[cutoff:end])
            partial = bytes(buffer[end:])
            if len(partial) > MAX_LINE_BYTES:
                partial, skipping = self._shorten(partial)
            buffer[:len(tail) + len(partial)] = tail + partial
            kept = len(tail) + len(partial)
        rest = bytes(buffer[:kept])
        if rest and not rest.endswith(b"\n"):
            rest += b"\n"
        yield Block(rest, len(rest), len(rest), True)

    def _shorten(self, line: bytes) -> tuple[bytes, bool]:
        """A line without a break beyond the limit: keep its last ``\\r`` state, else its beginning."""
        redraw = line.rfind(b"\r")
        if 0 <= redraw and len(line) - redraw <= MAX_LINE_BYTES:
            return line[redraw:], False
        self.notes.append(ReadNote(self.name, f"{self.name}: a line longer than {MAX_LINE_BYTES >> 20} MiB was cut; "
                                              "only its beginning was read", "info"))
        return line[:MAX_LINE_BYTES], True


def wrap_width(data: bytes | bytearray) -> int:
    """The width at which a paste was hard-wrapped (a terminal copy cuts lines at its width), or 0. No line is
    longer; lines of that width go on in the next line (:func:`_continues`); the width is
    :data:`TERMINAL_WIDTH`, or at least two lines reach it that are mostly different (a log's longest lines may
    be lines of one template, all as wide: a wrap cuts different text, but for a traceback's repeated folders).

    >>> wrap_width(b"RuntimeError: " + b"x" * 66 + b"\\nthe rest of the message\\n")
    80
    >>> wrap_width(b"a" * 100 + b"\\n" + b"b" * 100 + b"\\nc\\n"), wrap_width(b"a" * 100 + b"\\nb\\n")
    (100, 0)
    """
    if b"\x00" in data:
        return 0  # binary data, not a paste
    lines = bytes(data).split(b"\n")
    widths = [_width(line) for line in lines]
    width = max(widths, default=0)
    if not MIN_WRAP_WIDTH <= width <= MAX_WRAP_WIDTH:
        return 0
    cut = [_DIGITS.sub(b"", lines[i].strip()) for i, w in enumerate(widths[:-1])
           if w == width and _continues(lines[i], lines[i + 1])]
    if cut and width == TERMINAL_WIDTH or len(cut) >= 2 and len(set(cut)) > len(cut) / 2:
        return width
    return 0


def unwrap(data: bytes, width: int) -> bytes:
    """Lines of ``data`` cut at ``width`` joined with the lines that continue them. The joined line takes the
    place of its last piece, and its other pieces become :data:`JOINED_PIECE` lines, read as empty lines and
    skipped by a line's neighbours (:meth:`.scanner.Line.following`): every line keeps its number, and the lines
    that follow a message (a signature's window) or precede a quoted code line (its frame) stay next to it.

    >>> unwrap(b"RuntimeError: " + b"x" * 66 + b"\\nthe end\\nnext\\n", 80) == (
    ...     JOINED_PIECE + b"\\nRuntimeError: " + b"x" * 66 + b"the end\\nnext\\n")
    True
    """
    lines = data.split(b"\n")
    out: list[bytes] = []
    index = 0
    while index < len(lines):
        last = index
        while last + 1 < len(lines) and _width(lines[last]) == width and _continues(lines[last], lines[last + 1]):
            last += 1
        out += [JOINED_PIECE] * (last - index)
        out.append(b"".join(line.rstrip(b"\r") for line in lines[index:last]) + lines[last])
        index = last + 1
    return b"\n".join(out)


def _width(line: bytes) -> int:
    """Characters of a raw line, as a terminal counts them (its line break left out)."""
    line = line.rstrip(b"\r")
    return len(line) if line.isascii() else len(line.decode("utf-8", errors="replace"))


def _continues(piece: bytes, line: bytes) -> bool:
    """Can ``line`` be the rest of ``piece``, a line as wide as the wrap? Not when it is empty or starts a
    traceback, nor when ``piece`` is a progress bar (tqdm fills the terminal's width), nor when both start the
    same way, digits aside (a log's line header: a time stamp, a counter).

    >>> _continues(b"Extracting dataset fingerprint:  60%|######    | 3/5 [00:03<00:02,  1.01s/it]", b"next")
    False
    >>> _continues(b"2024-05-01 09:00:10.000000: Pseudo dice [0.91]", b"2024-05-01 09:00:10.000000: Epoch time")
    False
    """
    text = line.strip()
    if not text or text.startswith((b"Traceback (most recent call last)", b'File "')):
        return False
    if b"%|" in piece or piece.rstrip().endswith((b"it/s]", b"s/it]")):
        return False
    head = _DIGITS.sub(b"", piece.strip())[:SAME_HEAD]
    return len(head) < SAME_HEAD or not _DIGITS.sub(b"", text).startswith(head)


def _read_into(stream: "_ByteSource", view: memoryview) -> int:
    """Fill ``view`` from the stream as far as one read goes; 0 at the end."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = stream.read(len(view))
    view[:len(data)] = data
    return len(data)


def _keep_back(data: bytes | bytearray, end: int, lines: int) -> int:
    """Offset of the first of the last ``lines`` complete lines in ``data[:end]`` (``end`` for none)."""
    position = end - 1
    for _ in range(lines):
        position = data.rfind(b"\n", 0, position)
        if position < 0:
            return 0
    return position + 1 if lines else end


def _decoded(stream: BinaryIO | io.RawIOBase, source: LogInput, depth: int = 0) -> _ByteSource:
    """The stream as UTF-8-compatible bytes: decompressed (bounded), UTF-16/32 transcoded, BOM dropped, at most
    :data:`MAX_LOG_BYTES` long."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type,type-var]
    head = buffered.peek(8)[:8]
    for magic, (module, name) in _COMPRESSED.items():
        if head.startswith(magic):
            if depth >= MAX_NESTING:
                source.notes.append(ReadNote(source.name, f"{source.name}: compressed more than {MAX_NESTING} times "
                                             "over; not decompressed further", "error"))
                return _Bounded(io.BytesIO(b""), source)
            compressed = _Counting(buffered)
            decompressed = _decompressor(module, name, compressed)  # type: ignore[arg-type]  # a raw byte stream
            return _decoded(_Salvaging(decompressed, source, compressed), source, depth + 1)
    sample = buffered.peek(4096)[:4096]
    encoding = _wide_encoding(sample)
    if encoding:
        source.notes.append(ReadNote(source.name, f"{source.name}: read as {encoding.upper()} text", "info"))
        return _Bounded(_Transcoded(buffered, encoding), source)
    if head.startswith(codecs.BOM_UTF8):
        buffered.read(len(codecs.BOM_UTF8))
    return _Bounded(buffered, source)


def _wide_encoding(sample: bytes) -> str | None:
    """UTF-32 or UTF-16 (by byte-order mark, else by where the zero bytes of ASCII text fall), or None.

    >>> _wide_encoding("Epoch 1".encode("utf-32-le")), _wide_encoding("Epoch 1".encode("utf-16-le"))
    ('utf-32-le', 'utf-16-le')
    """
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) < 8:
        return None
    quarters = [sample[offset::4] for offset in range(4)]
    zeros = [quarter.count(0) / max(len(quarter), 1) for quarter in quarters]
    if zeros[0] < 0.05 and min(zeros[1:]) > 0.9:
        return "utf-32-le"
    if zeros[3] < 0.05 and min(zeros[:3]) > 0.9:
        return "utf-32-be"
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


class _ByteSource(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


class _Counting(io.RawIOBase):
    """A stream that counts the bytes read through it (the compressed side of a decompressor)."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self.count = 0

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        memoryview(buffer).cast("B")[:len(data)] = data
        self.count += len(data)
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Salvaging(io.RawIOBase):
    """A decompressing stream that ends where a truncated or damaged archive breaks, or where it expands more than
    a log can (a decompression bomb), saying so in a note."""

    def __init__(self, raw: BinaryIO, source: LogInput, compressed: _Counting):
        super().__init__()
        self._raw = raw
        self._source = source
        self._compressed = compressed
        self._produced = 0
        self._broken = False

    def readinto(self, buffer: Any) -> int:
        view, filled = memoryview(buffer).cast("B"), 0
        name = self._source.name
        try:
            while filled < len(view) and not self._broken:
                piece = self._raw.read1(min(1 << 20, len(view) - filled))  # type: ignore[attr-defined]
                if not piece:
                    break
                view[filled:filled + len(piece)] = piece
                filled += len(piece)
                self._produced += len(piece)
                if self._produced > MAX_EXPANSION * self._compressed.count + EXPANSION_FLOOR:
                    self._broken = True
                    self._source.notes.append(ReadNote(name, f"{name}: reading stopped after {self._produced >> 20} MiB: "
                                                       f"it expands more than {MAX_EXPANSION} times its compressed size "
                                                       "(a decompression bomb, not a log)", "error"))
        except _ARCHIVE_ERRORS + _decompression_errors() as exc:
            self._broken = True
            self._source.notes.append(ReadNote(name, f"{name}: damaged archive, reading stopped early after "
                                               f"{self._produced >> 10} KiB: {exc}", "error"))
        return filled

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Bounded:
    """A byte stream that ends after :data:`MAX_LOG_BYTES`, with a note."""

    def __init__(self, raw: Any, source: LogInput):
        self._raw = raw
        self._source = source
        self._left = MAX_LOG_BYTES

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        data: bytes = self._raw.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        if self._left <= 0:
            self._source.notes.append(ReadNote(self._source.name, f"{self._source.name}: only the first "
                                               f"{MAX_LOG_BYTES >> 30} GiB were read", "warning"))
        return data

    def close(self) -> None:
        self._raw.close()


class _Unwrapped:
    """A byte stream whose hard-wrapped lines are joined (:func:`unwrap`), when its first
    :data:`_FIRST_READ` bytes show a wrap width (:func:`wrap_width`); else passed through as it is."""

    def __init__(self, raw: "_ByteSource"):
        self._raw = raw
        self._width: int | None = None
        self._held = b""  # read, not yet joined: lines that a line still to come may continue
        self._out = b""  # ready to be returned
        self._ended = False

    def read(self, size: int = -1, /) -> bytes:
        if self._width is None:
            head = b""
            while len(head) < _FIRST_READ:
                chunk = self._raw.read(_FIRST_READ - len(head))
                if not chunk:
                    break
                head += chunk
            self._width = wrap_width(head)
            self._ended = not head
            if self._width:
                self._held = head
            else:
                self._out = head
        if not self._width and not self._out:
            return self._raw.read(size)
        while self._width and not self._ended and (size < 0 or len(self._out) < size):
            chunk = self._raw.read(1 << 20)
            self._ended = not chunk
            self._held += chunk
            self._release()
        if size < 0:
            size = len(self._out)
        out, self._out = self._out[:size], self._out[size:]
        return out

    def _release(self) -> None:
        """Join what no line still to come can continue: up to the last complete line narrower than the width
        (everything once the input has ended)."""
        assert self._width
        cut = len(self._held)
        if not self._ended:
            cut = self._held.rfind(b"\n") + 1
            while cut > 0:
                start = self._held.rfind(b"\n", 0, cut - 1) + 1
                if _width(self._held[start:cut - 1]) != self._width:
                    break
                cut = start
        if cut:
            self._out += unwrap(self._held[:cut], self._width)
            self._held = self._held[cut:]

    def close(self) -> None:
        self._raw.close()


class _Transcoded:
    """A UTF-16 byte stream read as UTF-8 bytes."""

    def __init__(self, raw: BinaryIO, encoding: str):
        self._raw = raw
        self._reader = codecs.getreader(encoding)(raw, "replace")
        self._rest = b""

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._rest) < size:
            text = self._reader.read(1 << 16)
            if not text:
                break
            self._rest += text.encode("utf-8")
        if size < 0:
            size = len(self._rest)
        out, self._rest = self._rest[:size], self._rest[size:]
        return out

    def close(self) -> None:
        self._raw.close()


def open_inputs(source: LogSource) -> list[LogInput]:
    """The readable logs behind one ``--log`` argument; raises InputError naming it when there are none."""
    if source.stream is not None:
        stream = source.stream
        return [LogInput(source.name, lambda: _from_start(stream), closes=False)]
    if source.text is not None:
        data = source.text.encode("utf-8", errors="replace")
        return [LogInput(source.name, lambda: io.BytesIO(data))]
    assert source.path is not None
    path = source.path
    if path.is_dir():
        logs = _training_logs(path)
        if not logs:
            raise InputError(f"{source.name}: folder has no {TRAINING_LOG_GLOB} or *.log file to read")
        return [_file_input(log, _display(source.name, path, log)) for log in logs]
    check_readable(path, source.name)
    if _kind(path) == "pipe":
        return [_pipe_input(path, source.name)]
    return [_file_input(path, source.name)]


def _from_start(stream: BinaryIO) -> BinaryIO:
    """A stream read again from its start where it can be (a spooled copy of standard input), else as it is."""
    try:
        if stream.seekable():
            stream.seek(0)
            return _Unclosed(stream)  # type: ignore[return-value]  # a reading's buffer must not close the copy
    except (OSError, ValueError):
        pass
    return stream


def numbered_lines(source: LogSource) -> Iterator[tuple[str, int, str]]:
    """Every line behind one ``--log`` argument, cleaned, with its input's name and its number (streamed).

    For quoting whole passages (a support bundle's excerpts); the scanner itself decodes candidate lines only.
    """
    for log in open_inputs(source):
        number = 0
        for block in log.blocks():
            for raw in block.data[:block.cutoff].split(b"\n")[:-1]:
                number += 1
                yield log.name, number, clean_line(raw)


def debug_files(source: LogSource) -> list[Path]:
    """``debug.json`` files next to the training logs of a folder input (what the trainer was configured with)."""
    if source.path is None or not source.path.is_dir():
        return []
    return sorted({log.parent / "debug.json" for log in _training_logs(source.path)
                   if (log.parent / "debug.json").is_file()})


def _kind(path: Path) -> str:
    """'file', 'folder', 'pipe', 'device' (character or block device, socket), 'loop' or 'missing'."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "loop" if path.is_symlink() else "missing"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: a symbolic link that points at itself, in the end
            return "loop"
        raise
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "pipe"
    return "file" if stat.S_ISREG(mode) else "device"


def check_readable(path: Path, name: str) -> None:
    """Raise InputError (one line naming the input) if ``path`` cannot be read as a log.

    A named pipe is not read here (what is read from a pipe is gone): it is read once, by :func:`open_inputs`.
    """
    try:
        kind = _kind(path)
    except OSError as exc:
        raise InputError(f"{name}: cannot read log: {exc.strerror or exc}") from None
    if kind == "missing":
        raise InputError(f"{name}: no such file or folder")
    if kind == "loop":
        raise InputError(f"{name}: a symbolic link that leads nowhere (a loop, or a missing target)")
    if kind == "device":
        raise InputError(f"{name}: a device or socket, not a log file (give a file, a folder, a pipe or '-')")
    if kind == "pipe":
        return
    if path.is_dir():
        if not _training_logs(path):
            raise InputError(f"{name}: folder has no {TRAINING_LOG_GLOB} or *.log file to read")
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            for magic, (module, class_name) in _COMPRESSED.items():
                if head.startswith(magic):
                    handle.seek(0)
                    _decompressor(module, class_name, handle).read(1)
    except PermissionError:
        raise InputError(f"{name}: not readable (permission denied)") from None
    except _ARCHIVE_ERRORS + _decompression_errors() as exc:
        raise InputError(f"{name}: cannot read log: {getattr(exc, 'strerror', None) or exc}") from None


def _decompressor(module: str, class_name: str, raw: BinaryIO) -> BinaryIO:
    opener = getattr(importlib.import_module(module), class_name)
    return opener(fileobj=raw) if module == "gzip" else opener(raw)  # type: ignore[no-any-return]


def _decompression_errors() -> tuple[type[BaseException], ...]:
    """Errors of the decompression modules imported so far (a module not imported cannot have raised)."""
    errors: list[type[BaseException]] = []
    if "lzma" in sys.modules:
        errors.append(sys.modules["lzma"].LZMAError)
    if "zlib" in sys.modules:
        errors.append(sys.modules["zlib"].error)
    return tuple(errors)


def _file_input(path: Path, name: str) -> LogInput:
    return LogInput(name, lambda: path.open("rb"), path)


def _pipe_input(path: Path, name: str) -> LogInput:
    """A named pipe, copied once into a temporary file (deleted when closed; at most MAX_LOG_BYTES) at its
    first reading, so that it can be read again (the scan, then the excerpts of a bundle)."""
    spool: list[BinaryIO] = []

    def open_spooled() -> BinaryIO:
        if not spool:
            copy = tempfile.TemporaryFile()
            with path.open("rb") as pipe:
                left = MAX_LOG_BYTES
                while left > 0:
                    chunk = pipe.read(min(1 << 20, left))
                    if not chunk:
                        break
                    copy.write(chunk)
                    left -= len(chunk)
            spool.append(copy)  # type: ignore[arg-type]
        spool[0].seek(0)
        return _Unclosed(spool[0])  # type: ignore[return-value]  # a raw byte stream

    return LogInput(name, open_spooled, path)


class _Unclosed(io.RawIOBase):
    """A view of a spooled pipe that leaves the spool open when a reading closes it."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer)  # type: ignore[attr-defined,no-any-return]

    def readable(self) -> bool:
        return True


def _display(given: str, folder: Path, log: Path) -> str:
    return os.path.join(given, str(log.relative_to(folder)))


def _training_logs(folder: Path) -> list[Path]:
    """The training logs of a results folder (down to two levels), oldest first, then its ``*.log`` files."""
    found: list[Path] = []
    for depth in range(_FOLDER_DEPTH):
        pattern = "/".join(["*"] * depth + [TRAINING_LOG_GLOB])
        found += [p for p in folder.glob(pattern) if p.is_file()]
    found.sort(key=lambda p: (str(p.parent), _started(p.name)))
    return found + sorted(p for p in folder.glob("*.log") if p.is_file())


def _started(name: str) -> tuple[int, ...]:
    """``training_log_2024_3_5_09_07_01.txt`` -> (2024, 3, 5, 9, 7, 1): month and day are not zero-padded."""
    return tuple(int(part) for part in re.findall(r"\d+", name))
