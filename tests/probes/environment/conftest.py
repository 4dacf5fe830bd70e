"""Helpers for the probes of this machine: run one real probe with a real environment (read_only: tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from nnunet_doctor.engine.facts import Fact, Record, Unknown
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.probes.base import FactSink, ProbeContext

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "environment"


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return load_rule_pack()


class ProbeRun:
    """What one probe established: facts by name (plain values), unknowns with their reasons, and its notes."""

    def __init__(self, sink: FactSink):
        self.sink = sink
        self.facts: dict[str, Fact] = {fact.name: fact for fact in sink.facts}

    def __getitem__(self, name: str) -> Any:
        value = self.facts[name].value
        assert not isinstance(value, Unknown), f"{name} is unknown: {value.reason}"
        if isinstance(value, list):
            return [dict(item.fields) if isinstance(item, Record) else item for item in value]
        return value

    def __contains__(self, name: str) -> bool:
        return name in self.facts

    def unknown(self, name: str) -> str:
        value = self.facts[name].value
        assert isinstance(value, Unknown), f"{name} is known: {value!r}"
        return value.reason

    @property
    def notes(self) -> list[tuple[str, str]]:
        return self.sink.notes


@pytest.fixture
def run_probe(pack: RulePack) -> Callable[..., ProbeRun]:
    def run(probe_class: type, environ: dict[str, str], dataset: str | None = None) -> ProbeRun:
        sink = FactSink(pack.vocabulary, probe_class.name)
        probe_class().collect(ProbeContext(vocabulary=pack.vocabulary, environ=environ, dataset=dataset), sink)
        assert sink.problems == [], sink.problems
        return ProbeRun(sink)
    return run
