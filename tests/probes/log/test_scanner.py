"""The one-pass scanner: whatever the engine and wherever blocks end, readers see exactly the lines a naive
line-by-line reading would give them, with the same numbers and the same following lines."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnunet_doctor.probes.log.reader import LogInput, clean_line
from nnunet_doctor.probes.log.scanner import ENGINES, Line, Scanner

ANCHORS = [("Error", False), ("out of memory", False), ("killed", True), ("Epoch ", False)]


class Recorder:
    """A reader that remembers what it was given."""

    def __init__(self, anchors: list[tuple[str, bool]] = ANCHORS, following: int = 2):
        self._anchors, self._following = anchors, following
        self.seen: list[tuple[int, str, frozenset[str], list[str]]] = []
        self.ended: list[tuple[str, int]] = []

    def anchors(self) -> list[tuple[str, bool]]:
        return self._anchors

    def on_line(self, line: Line) -> None:
        self.seen.append((line.number, line.text, line.hits, line.following(self._following)))

    def end_input(self, name: str, lines: int) -> None:
        self.ended.append((name, lines))


def naive(data: bytes, anchors: list[tuple[str, bool]] = ANCHORS, following: int = 2) -> list[tuple]:
    lines = [clean_line(raw) for raw in data.split(b"\n")]
    if data.endswith(b"\n") or not data:
        lines.pop()
    out = []
    for index, text in enumerate(lines):
        hits = frozenset(a for a, ignore in anchors if (a.lower() in text.lower() if ignore else a in text))
        if hits:
            out.append((index + 1, text, hits, lines[index + 1:index + 1 + following]))
    return out


def scan(data: bytes, engine: str, block_bytes: int = 1 << 20, reader: Recorder | None = None) -> Recorder:
    reader = reader or Recorder()
    Scanner([reader], context_lines=2, engine=engine, block_bytes=block_bytes).scan(
        LogInput("x.log", lambda: io.BytesIO(data)))
    return reader


PIECES = ["Error", "RuntimeError: x", "out of memory", "KILLED", "Killed", "Epoch ", "Epoch 3", "ok", " ", "\r",
          "\r\n", "\n", "\n", "\n", "\x1b[31m", "\x1b[0m", "é", "\u2588", "out of \x1b[1mmemory", "Err", "or"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.sampled_from(ENGINES), st.integers(1, 48))
def test_any_engine_any_block_size_equals_a_naive_reading(pieces: list[str], engine: str, block_bytes: int) -> None:
    data = "".join(pieces).encode("utf-8")
    reader = scan(data, engine, block_bytes)
    assert reader.seen == naive(data)
    assert reader.ended == [("x.log", len(naive(data, [("", False)], 0)))]


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree_on_a_real_log(engine: str) -> None:
    from .conftest import REAL_LOGS

    data = (REAL_LOGS / "train_corrupt_preprocessed.log").read_bytes()
    assert scan(data, engine).seen == naive(data)


def test_hyperscan_is_preferred_when_installed() -> None:
    assert ENGINES[-1] == "python" and Scanner([Recorder()]).engine == ENGINES[0]


def test_a_reader_sees_each_line_once_even_with_several_anchors_on_it() -> None:
    reader = scan(b"RuntimeError: CUDA out of memory (process killed)\n", ENGINES[0])
    [(number, _, hits, _)] = reader.seen
    assert number == 1 and hits == {"Error", "out of memory", "killed"}


def test_lines_with_nul_bytes_are_not_read_and_are_reported() -> None:
    data = b"ok\nError \x00\x01\x02\nbinary\x00\nError after\n"
    scanner = Scanner([reader := Recorder()], engine=ENGINES[0])
    scanner.scan(LogInput("x.log", lambda: io.BytesIO(data)))
    assert [number for number, *_ in reader.seen] == [4]
    assert [note.message for note in scanner.notes] == ["x.log:2-3: binary data (NUL bytes), not text; skipped"]
