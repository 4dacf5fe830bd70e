"""FactSink gives the records of a collection the fact's provenance (evidence then says which probe found them)."""
from __future__ import annotations

from nnunet_doctor.pipeline import load_pack
from nnunet_doctor.probes.base import FactSink


def test_collection_records_carry_the_probes_provenance() -> None:
    sink = FactSink(load_pack([]).vocabulary, "dataset")
    sink.add("dataset.classes", [{"value": 1, "name": "liver", "cases": 6, "fraction": 0.08}], detail="voxel check")
    [fact] = sink.facts
    assert fact.value[0].provenance == fact.provenance
    assert fact.provenance.describe() == "dataset (voxel check)"
