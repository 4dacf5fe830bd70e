"""GPU rules against fact snapshots kept as data files (tests/fixtures/snapshots), each saying where it came from."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from nnunet_doctor.testing import diagnose_text, fired_rules

SNAPSHOTS = Path(__file__).resolve().parents[2] / "fixtures" / "snapshots"
FILES = sorted(SNAPSHOTS.glob("*.json"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_snapshot_says_where_it_came_from(path: Path) -> None:
    snapshot = _load(path)
    assert isinstance(snapshot["recorded"], bool) and snapshot["source"] and snapshot["description"]
    if not snapshot["recorded"]:
        assert snapshot["source"].startswith("constructed from ") and "not recorded" in snapshot["source"]
        assert "https://" in snapshot["source"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_gpu_rules_on_the_snapshot(pack, path: Path) -> None:
    snapshot = _load(path)
    diagnosis = diagnose_text(facts=snapshot["facts"], pack=pack)
    assert [f.message for f in diagnosis.findings] == []  # every fact fits the vocabulary
    fired = fired_rules(diagnosis)
    assert set(snapshot["expect"]["fire"]) <= fired
    assert not set(snapshot["expect"]["quiet"]) & fired


def _recorder():
    spec = importlib.util.spec_from_file_location("record_snapshot", SNAPSHOTS / "record_snapshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_this_machine_still_matches_its_recorded_snapshot() -> None:
    stored = _load(SNAPSHOTS / "dev_machine_cpu_only.json")
    live = _recorder().snapshot_of_this_machine("live")
    if live["facts"].get("torch.version") != stored["facts"]["torch.version"] or live["facts"].get("gpu"):
        pytest.skip("not the machine the snapshot was recorded on")
    for name in ("torch.cuda_built", "torch.cuda_available", "gpu", "gpu.count", "nvidia_smi.present"):
        assert live["facts"][name] == stored["facts"][name], name
    assert live["expect"] == stored["expect"]
