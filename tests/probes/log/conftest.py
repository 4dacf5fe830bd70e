"""Helpers for the log probe's tests: write the exact input that matters, run the real probe on it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nnunet_doctor.engine.diagnosis import Finding
from nnunet_doctor.engine.facts import Fact, Record, Unknown
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.probes.base import LogSource, ProbeContext
from nnunet_doctor.probes.runner import PROBES, run_probes

REAL_LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "real"
#: the successful real runs live in the rule pack's healthy corpus
HEALTHY_LOGS = Path(__file__).resolve().parents[3] / "rules" / "corpus" / "healthy"


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return load_rule_pack()


def _plain(value: Any) -> Any:
    return [dict(item.fields) if isinstance(item, Record) else item for item in value] if isinstance(value, list) else value


class LogFacts(dict):  # type: ignore[type-arg]
    """What the log probe established, as plain values by fact name (records become dicts), and its findings."""

    def __init__(self, facts: list[Fact], findings: list[Finding], detail: str):
        unknown = [fact.name for fact in facts if isinstance(fact.value, Unknown)]
        assert unknown == [], f"the log probe left facts unknown: {unknown}"
        super().__init__((fact.name, _plain(fact.value)) for fact in facts)
        self.findings = [finding.message for finding in findings]
        self.detail = detail

    def lines(self, name: str) -> list[int]:
        """Line numbers of a collection's records."""
        return [record["line"] for record in self[name]]


def read_logs(pack: RulePack, *sources: LogSource | Path) -> LogFacts:
    """Run the real log probe on files, folders or streams; a probe crash fails the test."""
    logs = [source if isinstance(source, LogSource) else LogSource(str(source), source) for source in sources]
    context = ProbeContext(vocabulary=pack.vocabulary, signatures=pack.signatures, logs=logs, offline=True)
    facts, findings, reports = run_probes(context, PROBES, {"log"})
    [report] = reports
    assert report.status == "ran", report.detail
    assert not [f for f in findings if "invalid fact" in f.message], findings
    return LogFacts(facts, findings, report.detail)


@pytest.fixture
def read_text(pack: RulePack, tmp_path: Path) -> Any:
    """``read_text("line 1\\nline 2\\n")``: the probe's facts for a log file holding exactly that text."""

    def read(text: str | bytes, name: str = "pasted.log") -> LogFacts:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return read_logs(pack, path)

    return read
