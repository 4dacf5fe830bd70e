"""Log signatures: anchors select candidate lines, regex and fuzzy confirm them, captures become fields."""
from __future__ import annotations

from nnunet_doctor.engine.patterns import compile_guarded
from nnunet_doctor.engine.signatures import FuzzySpec, Signature, SignatureSet

LINES = [
    "2025-03-05 09:07:01.123456: Epoch 0",
    "RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity)",
    "Error: Unexpected labels found in file /data/labelsTr/case_007.nii.gz.",
    "Expected: [0, 1]",
    "Found: [  0.   1. 255.]",
    "RuntimeError: One or more background workers are no longer alive. Exiting. Please check the print statements above for the actual error message",
]


def test_anchor_regex_and_typed_captures() -> None:
    oom = Signature("oom", ("CUDA out of memory",), compile_guarded(r"Tried to allocate (?P<tried>[\d.]+) GiB"),
                    field_types={"tried": "float"})
    [record] = SignatureSet([oom]).scan(LINES, first_line=10, file="train.log")["match.oom"]
    assert record.fields["tried"] == 1.17 and record.fields["line"] == 11
    assert record.provenance is not None and record.provenance.lines == (11, 11)


def test_window_lets_a_regex_read_following_lines() -> None:
    labels = Signature("labels", ("Unexpected labels found",), compile_guarded(
        r"in file (?P<file_name>\S+?)\.?\nExpected: (?P<expected>.*)\nFound: (?P<found>.*)"), window=2,
        field_types={"expected": "list[int]", "found": "list[int]"})
    [record] = SignatureSet([labels]).scan(LINES)["match.labels"]
    assert record.fields["file_name"] == "/data/labelsTr/case_007.nii.gz"
    assert record.fields["found"] == [0, 1, 255] and record.fields["expected"] == [0, 1]
    assert record.provenance is not None and record.provenance.lines == (3, 5)


def test_fuzzy_matching_catches_reworded_messages_but_not_different_ones() -> None:
    workers = Signature("workers", ("background worker",), fuzzy=FuzzySpec(
        "One or more background workers are no longer alive. Exiting.", 90))
    reworded = "RuntimeError: One or more background workers are no longer alive, exiting."
    other = "Exception in background worker 3:"
    matches = SignatureSet([workers]).scan([LINES[5], reworded, other])["match.workers"]
    assert [r.fields["line"] for r in matches] == [1, 2]


def test_a_line_without_the_anchor_is_never_a_candidate() -> None:
    exact = Signature("exact", ("no longer alive",), compile_guarded("alive"))
    assert [r.fields["line"] for r in SignatureSet([exact]).scan(LINES)["match.exact"]] == [6]


def test_every_signature_has_an_entry_even_without_matches() -> None:
    result = SignatureSet([Signature("a", ("zzz",)), Signature("b", ("Epoch",))]).scan(LINES)
    assert len(result["match.a"]) == 0 and len(result["match.b"]) == 1


def test_ignore_case() -> None:
    killed = Signature("killed", ("killed",), ignore_case=True)
    assert len(SignatureSet([killed]).scan(["Killed", "process was KILLED", "alive"])["match.killed"]) == 2
