"""Facts: named, typed values with the provenance that established them.

A fact no probe could establish is *unknown*: it is simply absent from the :class:`FactBase`
(or present as an explicit :class:`Unknown` carrying the reason, e.g. a probe that timed out).
Unknown is never the same as false; conditions evaluate it in three-valued logic.

>>> base = FactBase()
>>> base.add(Fact("env.nnUNet_raw", "/data/raw", Provenance(Source.probe("environment"))))
>>> base.get("env.nnUNet_raw").value
'/data/raw'
>>> base.is_known("env.nnUNet_results")
False
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from msgspec import Struct, field

from .sources import Source


class Provenance(Struct, frozen=True):
    """Where a fact came from: a probe, a file and its line numbers, or a rule that derived it."""

    source: Source
    file: str | None = None
    lines: tuple[int, int] | None = None
    detail: str | None = None

    def describe(self) -> str:
        where = self.source.label
        if self.file:
            where += f" {self.file}"
            if self.lines:
                first, last = self.lines
                where += f":{first}" if first == last else f":{first}-{last}"
        elif self.lines:
            first, last = self.lines
            where += f" line {first}" if first == last else f" lines {first}-{last}"
        if self.detail:
            where += f" ({self.detail})"
        return where

    @property
    def is_log_line(self) -> bool:
        """Whether it points at lines of an input log (the log probe's records)."""
        return self.source.is_log and self.lines is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source.label}
        if self.file is not None:
            out["file"] = self.file
        if self.lines is not None:
            out["lines"] = list(self.lines)
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Provenance":
        lines = data.get("lines")
        return cls(
            source=Source.parse(str(data["source"])),
            file=data.get("file"),
            lines=(int(lines[0]), int(lines[1])) if lines else None,
            detail=data.get("detail"),
        )


class Record(Struct, frozen=True):
    """One item of a collection fact (a GPU, a dataset case, an exception, a signature match)."""

    fields: Mapping[str, Any]
    provenance: Provenance | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fields": dict(self.fields)}
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_json()
        return out


class Unknown(Struct, frozen=True):
    """An explicit unknown: the probe that should establish the fact ran but could not."""

    reason: str


class Fact(Struct, frozen=True):
    name: str
    value: Any
    provenance: Provenance

    @property
    def known(self) -> bool:
        return not isinstance(self.value, Unknown)


class FactBase(Struct):
    """The working memory of the engine: at most one fact per name (later values replace earlier)."""

    _facts: dict[str, Fact] = field(default_factory=dict)

    def add(self, fact: Fact) -> None:
        self._facts[fact.name] = fact

    def get(self, name: str) -> Fact | None:
        return self._facts.get(name)

    def is_known(self, name: str) -> bool:
        fact = self._facts.get(name)
        return fact is not None and fact.known

    def unknown_reason(self, name: str) -> str | None:
        fact = self._facts.get(name)
        if fact is not None and isinstance(fact.value, Unknown):
            return fact.value.reason
        return None

    def names(self) -> list[str]:
        return sorted(self._facts)

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._facts[name] for name in sorted(self._facts))

    def __len__(self) -> int:
        return len(self._facts)

    def copy(self) -> "FactBase":
        return FactBase(dict(self._facts))
