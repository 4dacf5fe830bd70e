"""The signature model: regex and fuzzy confirmation of a candidate text, typed captures.

Finding the candidate lines of a whole log (anchors, windows, line numbers) is the log probe's job:
tests/probes/log/test_matches.py.
"""
from __future__ import annotations

from nnunet_doctor.engine.patterns import compile_guarded
from nnunet_doctor.engine.signatures import FuzzySpec, Signature, SignatureSet


def test_regex_confirms_and_captures_typed_fields() -> None:
    oom = Signature("oom", ("CUDA out of memory",), compile_guarded(r"Tried to allocate (?P<tried>[\d.]+) GiB"),
                    field_types={"tried": "float"})
    assert oom.confirm("RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB") == ({"tried": 1.17}, 100.0)
    assert oom.confirm("RuntimeError: CUDA out of memory.") is None


def test_a_group_that_did_not_take_part_is_unknown() -> None:
    oom = Signature("oom", ("CUDA out of memory",), compile_guarded(r"out of memory(?:\. Tried to allocate (?P<tried>\S+))?"))
    assert oom.confirm("CUDA out of memory") == ({"tried": None}, 100.0)


def test_fuzzy_template_catches_rewording_but_not_other_messages() -> None:
    workers = Signature("workers", ("background worker",), fuzzy=FuzzySpec(
        "One or more background workers are no longer alive. Exiting.", 90))
    assert workers.confirm("RuntimeError: One or more background workers are no longer alive, exiting.") is not None
    assert workers.confirm("Exception in background worker 3:") is None


def test_the_set_knows_its_widest_window() -> None:
    signatures = SignatureSet([Signature("a", ("x",)), Signature("b", ("y",), window=3)])
    assert signatures.max_window == 3 and len(signatures) == 2 and [s.id for s in signatures] == ["a", "b"]
