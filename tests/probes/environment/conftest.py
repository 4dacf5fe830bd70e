"""Helpers for the probes of this machine: run one real probe with a real environment, make a real read-only folder."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

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


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """Make a real folder this user cannot write into: mode 0555, or, for root (who ignores modes), immutable."""
    made: list[Path] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
        elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
            pass
        else:
            pytest.skip("running as root without chattr: no way to make a folder read-only")
        made.append(folder)
        assert not os.access(folder, os.W_OK)
        return folder

    yield make
    for folder in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)
