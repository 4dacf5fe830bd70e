"""Probes are isolated: one that crashes becomes a finding and the others still run."""
from __future__ import annotations

from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.probes.base import LogSource, ProbeContext
from nnunet_doctor.probes.runner import ProbeEntry, run_probes


def context(**kwargs) -> ProbeContext:
    pack = load_rule_pack()
    return ProbeContext(vocabulary=pack.vocabulary, signatures=pack.signatures, **kwargs)


def test_a_crashing_probe_is_a_finding_and_the_next_probe_runs() -> None:
    entries = (ProbeEntry("broken", "no_such_module:Probe", "log"), ProbeEntry("log", "log:LogProbe", "log"))
    facts, findings, reports = run_probes(context(logs=[LogSource("x.log", text="RuntimeError: boom\n")]), entries)
    assert [r.status for r in reports] == ["failed", "ran"]
    [finding] = findings
    assert str(finding.source) == "probe broken" and finding.severity == "error"
    assert finding.message.startswith("the broken probe crashed: ModuleNotFoundError")
    assert any(f.name == "log.root_exception" and f.value["message"] == "boom" for f in facts)


def test_offline_skips_probes_of_this_machine() -> None:
    facts, findings, reports = run_probes(context(offline=True))
    assert {r.name: (r.status, r.detail) for r in reports}["environment"] == (
        "skipped", "--offline: this machine is not the user's")
    assert facts == [] and findings == []


def test_probes_without_their_input_are_skipped() -> None:
    _, _, reports = run_probes(context(environ={}))
    assert {r.name: r.status for r in reports} == {"log": "skipped", "environment": "ran", "installation": "ran",
                                                   "system": "ran", "gpu": "ran", "functional": "ran",
                                                   "dataset": "skipped",
                                                   "preprocessed": "skipped", "results": "skipped"}
