"""Signatures scanned over a log: anchors select candidate lines, windows read following lines, every
signature gets its ``match.<id>`` collection, line numbers are those of the input."""
from __future__ import annotations

import io

from nnunet_doctor.engine.patterns import compile_guarded
from nnunet_doctor.engine.signatures import FuzzySpec, Signature, SignatureSet
from nnunet_doctor.probes.log.matches import SignatureReader
from nnunet_doctor.probes.log.reader import LogInput
from nnunet_doctor.probes.log.scanner import Scanner

LINES = [
    "2025-03-05 09:07:01.123456: Epoch 0",
    "RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity)",
    "Error: Unexpected labels found in file /data/labelsTr/case_007.nii.gz.",
    "Expected: [0, 1]",
    "Found: [  0.   1. 255.]",
    "RuntimeError: One or more background workers are no longer alive. Exiting. Please check the print statements above for the actual error message",
]


def scan(signatures: list[Signature], lines: list[str], name: str = "train.log") -> dict[str, list]:
    reader = SignatureReader(SignatureSet(signatures))
    data = ("\n".join(lines) + "\n").encode()
    Scanner([reader], context_lines=SignatureSet(signatures).max_window).scan(LogInput(name, lambda: io.BytesIO(data)))
    return reader.matches


def test_anchor_regex_typed_captures_and_line_numbers() -> None:
    oom = Signature("oom", ("CUDA out of memory",), compile_guarded(r"Tried to allocate (?P<tried>[\d.]+) GiB"),
                    field_types={"tried": "float"})
    [record] = scan([oom], [""] * 9 + LINES)["match.oom"]
    assert record.fields["tried"] == 1.17 and record.fields["line"] == 11 and record.fields["file"] == "train.log"
    assert record.provenance is not None and record.provenance.lines == (11, 11)


def test_window_lets_a_regex_read_following_lines() -> None:
    labels = Signature("labels", ("Unexpected labels found",), compile_guarded(
        r"in file (?P<file_name>\S+?)\.?\nExpected: (?P<expected>.*)\nFound: (?P<found>.*)"), window=2,
        field_types={"expected": "list[int]", "found": "list[int]"})
    [record] = scan([labels], LINES)["match.labels"]
    assert record.fields["file_name"] == "/data/labelsTr/case_007.nii.gz"
    assert record.fields["found"] == [0, 1, 255] and record.fields["expected"] == [0, 1]
    assert record.provenance is not None and record.provenance.lines == (3, 5)


def test_fuzzy_matching_catches_reworded_messages_but_not_different_ones() -> None:
    workers = Signature("workers", ("background worker",), fuzzy=FuzzySpec(
        "One or more background workers are no longer alive. Exiting.", 90))
    reworded = "RuntimeError: One or more background workers are no longer alive, exiting."
    other = "Exception in background worker 3:"
    assert [r.fields["line"] for r in scan([workers], [LINES[5], reworded, other])["match.workers"]] == [1, 2]


def test_a_line_without_the_anchor_is_never_a_candidate() -> None:
    exact = Signature("exact", ("no longer alive",), compile_guarded("alive"))
    assert [r.fields["line"] for r in scan([exact], LINES)["match.exact"]] == [6]


def test_every_signature_has_an_entry_even_without_matches() -> None:
    result = scan([Signature("a", ("zzz",)), Signature("b", ("Epoch",))], LINES)
    assert len(result["match.a"]) == 0 and len(result["match.b"]) == 1


def test_ignore_case() -> None:
    killed = Signature("killed", ("killed",), ignore_case=True)
    assert len(scan([killed], ["Killed", "process was KILLED", "alive"])["match.killed"]) == 2


def test_source_lines_quoted_by_a_traceback_are_not_messages() -> None:
    six_feet = Signature("six_feet", ("6 feet under",))
    lines = ['  File "/x/site-packages/nnunetv2/preprocessing/preprocessors/default_preprocessor.py", line 398, in run',
             "    raise RuntimeError('Some background worker is 6 feet under. Yuck.')",
             "RuntimeError: Some background worker is 6 feet under. Yuck."]
    assert [r.fields["line"] for r in scan([six_feet], lines)["match.six_feet"]] == [3]
