"""The rule pack's log signatures, confirmed on candidate lines: one ``match.<id>`` collection per signature.

A candidate line contains one of a signature's anchors; it is confirmed against the signature's regex and
fuzzy template (over the line and its ``window`` following lines) and becomes a record with ``line``,
``file``, ``text``, ``score`` and the regex's named captures, provenance pointing at the lines it spans.
A source line that a traceback quotes (the indented line after ``File "...", line N``) is code, not a
message: a ``raise RuntimeError("Some background worker is 6 feet under")`` there never matches.

>>> from nnunet_doctor.engine.signatures import Signature, SignatureSet
>>> from nnunet_doctor.engine.patterns import compile_guarded
>>> oom = Signature("cuda_oom", ("CUDA out of memory",), compile_guarded(r"Tried to allocate (?P<tried>\\S+ [GM]iB)"))
>>> reader = SignatureReader(SignatureSet([oom]))
>>> from .scanner import Line
>>> reader.on_line(Line(7, "CUDA out of memory. Tried to allocate 2.00 GiB", "a.log", frozenset({"CUDA out of memory"})))
>>> [record.fields["tried"] for record in reader.matches["match.cuda_oom"]]
['2.00 GiB']
"""
from __future__ import annotations

import re
from typing import Iterable

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import LOG
from nnunet_doctor.engine.signatures import Signature, SignatureSet

from .scanner import Line

MAX_TEXT = 2000
#: records kept per signature (the first ones); bounds memory on endless logs
MAX_MATCHES = 1000
_FRAME = re.compile(r'\s*File "[^"]+", line \d+')


class SignatureReader:
    def __init__(self, signatures: SignatureSet):
        self.signatures = signatures
        self.matches: dict[str, list[Record]] = {signature.fact_name: [] for signature in signatures}
        self._by_anchor: dict[str, list[Signature]] = {}
        for signature in signatures:
            for anchor in signature.anchors:
                self._by_anchor.setdefault(anchor, []).append(signature)

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [(anchor, signature.ignore_case) for signature in self.signatures for anchor in signature.anchors]

    def on_line(self, line: Line) -> None:
        if line.text[:1].isspace() and _FRAME.match(line.previous()):
            return  # the source line a traceback quotes under a frame
        seen: set[str] = set()
        for anchor in sorted(line.hits):
            for signature in self._by_anchor.get(anchor, ()):
                if signature.id in seen or len(self.matches[signature.fact_name]) >= MAX_MATCHES:
                    continue
                seen.add(signature.id)
                following = line.following(signature.window)
                text = "\n".join([line.text, *following]) if signature.window else line.text
                confirmed = signature.confirm(text)
                if confirmed is None:
                    continue
                captures, score = confirmed
                fields = {"line": line.number, "file": line.file, "text": line.text[:MAX_TEXT], "score": score,
                          **captures}
                provenance = Provenance(LOG, line.file, (line.number, line.number + len(following)),
                                        f"signature {signature.id}")
                self.matches[signature.fact_name].append(Record(fields, provenance))

    def spent(self) -> list[str]:
        """Anchors whose signatures all hold :data:`MAX_MATCHES` records: the scanner may stop looking for them."""
        return [anchor for anchor, signatures in self._by_anchor.items()
                if all(len(self.matches[signature.fact_name]) >= MAX_MATCHES for signature in signatures)]

    def end_input(self, name: str, lines: int) -> None:
        pass
