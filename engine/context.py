"""How much context a diagnosis stood on, and what that does to its certainties.

A rule's certainty is written for a message seen in its log: the command that ran, the traceback above it, the
versions printed before it. A user who pastes one line gives none of that, and the same message may then come
from another step, another release or a wrapper tool. The rule still fires on its line alone, but no cause found
in such a paste reaches the high band: every certainty above :data:`SQUEEZE_FLOOR` is squeezed, keeping the
order, onto ``(SQUEEZE_FLOOR, SQUEEZE_CEILING]`` (found, medium: the report says why it is not high).

>>> paste = PasteContext(lines=1, frames=0, commands=0, versions=0)
>>> paste.short, round(paste.lower(0.85), 4), paste.lower(0.3)
(True, 0.6175, 0.3)
>>> PasteContext(lines=40, frames=6, commands=1, versions=2).lower(0.85)
0.85
"""
from __future__ import annotations

from msgspec import Struct

from .certainty import HIGH, MEDIUM

#: a paste of at most this many lines, without a traceback frame, a command line or a printed version, is short
SHORT_PASTE_LINES = 5
#: certainties above the floor are squeezed onto (floor, ceiling]: still found (medium), never high
SQUEEZE_FLOOR = MEDIUM
SQUEEZE_CEILING = round(HIGH - 0.01, 2)
REASON = ("certainty lowered: the paste is short ({lines} line{s}, no traceback, command line or version); the "
          "complete console output of the failing command would confirm the cause")


class PasteContext(Struct, frozen=True):
    """What the logs showed around their messages: lines read, traceback frames, command lines, versions."""

    lines: int
    frames: int
    commands: int
    versions: int

    @property
    def short(self) -> bool:
        return 0 < self.lines <= SHORT_PASTE_LINES and not (self.frames or self.commands or self.versions)

    @property
    def reason(self) -> str | None:
        """The report's words for a lowered certainty (None: nothing is lowered)."""
        return REASON.format(lines=self.lines, s="" if self.lines == 1 else "s") if self.short else None

    def lower(self, certainty: float) -> float:
        """The certainty this context allows: unchanged up to the floor (and for a long paste), else squeezed
        linearly, so that two causes keep their order."""
        if not self.short or certainty <= SQUEEZE_FLOOR:
            return certainty
        share = (min(certainty, 1.0) - SQUEEZE_FLOOR) / (1.0 - SQUEEZE_FLOOR)
        return SQUEEZE_FLOOR + share * (SQUEEZE_CEILING - SQUEEZE_FLOOR)
