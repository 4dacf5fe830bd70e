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


def test_a_probe_writes_only_the_facts_the_vocabulary_gives_it() -> None:
    vocabulary = load_pack([]).vocabulary
    sink = FactSink(vocabulary, "dataset")
    sink.add("system.ram_available_mib", 1800.0)
    sink.unknown("torch.cuda_available", "not mine")
    assert sink.facts == [] and [p.split(" (")[0] for p in sink.problems] == [
        "fact 'system.ram_available_mib' belongs to the 'system' probe, not to 'dataset'",
        "fact 'torch.cuda_available' belongs to the 'gpu' probe, not to 'dataset'"]
    log = FactSink(vocabulary, "log")  # python.version: the installation probe's, also_from the log probe
    log.add("python.version", "3.11.7")
    assert log.problems == [] and vocabulary.specs["python.version"].written_by == ("installation", "log")
