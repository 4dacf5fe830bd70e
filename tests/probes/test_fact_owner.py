"""A probe writes only the facts the vocabulary gives it (its ``probe:``), so each fact has one source."""
from __future__ import annotations

from nnunet_doctor.engine.vocabulary import FactSpec, Vocabulary
from nnunet_doctor.probes.base import FactSink


def test_a_probe_writing_another_probes_fact_is_a_problem() -> None:
    vocabulary = Vocabulary()
    vocabulary.declare(FactSpec("gpu.count", "int", "GPUs", "gpu", "run on the GPU machine"))
    own, other = FactSink(vocabulary, "gpu"), FactSink(vocabulary, "log")
    own.add("gpu.count", 2)
    other.add("gpu.count", 1)
    assert own.problems == []
    assert other.problems == ["fact 'gpu.count' belongs to the gpu probe (vocabulary), not to log"]
