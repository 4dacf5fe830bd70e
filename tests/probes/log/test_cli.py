"""argparse errors explained against the CLI index, on the real output of every release's console scripts.

``tests/fixtures/cli/argparse_errors.jsonl`` holds what each release printed when run with a wrong command line
(recorded by ``tests/fixtures/cli/make_argparse_logs.py`` from the sdists of every release).
"""
from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest

from nnunet_doctor.probes.log.cli import CliReader
from nnunet_doctor.probes.log.scanner import Line
from nnunet_doctor.rules.cli_index import CliIndex
from nnunet_doctor.pipeline import DiagnosisRequest, DiagnosisResult, run_diagnosis
from nnunet_doctor.testing import diagnose_text

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cli" / "argparse_errors.jsonl"
RUNS = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines()]
#: runs where the release's entry point could be imported here, so argparse answered
ANSWERED = [run for run in RUNS if run["status"] == "exit 2"]
#: scenario -> the explanations the probe may give
EXPECTED = {
    "required": {"required"},
    "unrecognized": {"typo"},
    "newer_option": {"newer_release"},
    "invalid_int": {"expects_id"},
    "expected_argument": {"missing_value"},
    "other_generation": {"other_generation", "other_form"},
}


def read(text: str) -> list[dict[str, Any]]:
    """The cli.errors records of a log, as the log probe's reader makes them (commands from '$ ' lines)."""
    reader = CliReader()
    lines = text.splitlines()
    commands = []
    for number, line in enumerate(lines, 1):
        if line.startswith("$ "):
            program, _, args = line[2:].partition(" ")
            commands.append({"program": program, "args": args, "line": number})
        data = "\n".join(lines).encode()
        start = sum(len(x.encode()) + 1 for x in lines[:number - 1])
        reader.on_line(Line(number, line, "t.log", frozenset(), data, start, start + len(line.encode()), len(data)))
    return reader.records({}, commands)


def _log(run: dict[str, Any]) -> str:
    return f"$ {run['program']} {' '.join(run['argv'])}\n{run['stderr']}"


def test_the_index_regenerates_from_the_installed_release() -> None:
    """The committed index equals what the generator reads from the installed nnunetv2 2.8.1."""
    from nnunet_doctor.rules.cli_index_build import index_release

    distribution = importlib.metadata.distribution("nnunetv2")
    assert distribution.version == "2.8.1"
    scripts = {e.name: e.value for e in distribution.entry_points if e.group == "console_scripts"}
    root = Path(str(distribution.locate_file("nnunetv2"))).parent
    regenerated = index_release(root, scripts)
    index = CliIndex.load()
    assert set(regenerated) == set(index.programs("nnunetv2")) - {"nnUNetv2_plan_experiment"} | {"nnUNetv2_plan_experiment"}
    for program, parser in regenerated.items():
        committed = index.parser(program, "2.8.1")
        assert committed is not None, program
        assert [o["flags"] for o in parser["options"]] == [list(o.flags) for o in committed.options], program
        assert [o.get("default") for o in parser["options"]] == [o.default for o in committed.options], program


def test_every_release_of_both_generations_is_indexed() -> None:
    index = CliIndex.load()
    assert index.releases("nnunet")[0] == "1.0" and index.releases("nnunet")[-1] == "1.7.1"
    assert index.releases("nnunetv2")[0] == "2.0" and "2.8.1" in index.releases("nnunetv2")
    assert index.option_releases("nnUNetv2_train", "--val_best")[0] == "2.1.2"  # added in 2.1.2
    assert index.parser("nnUNetv2_export_model_to_zip", "2.2").missing  # 2.1.2-2.2 name a function they lack


@pytest.mark.parametrize("run", ANSWERED, ids=lambda r: f"{r['package']}-{r['version']}-{r['program']}-{r['scenario']}")
def test_real_argparse_errors_of_every_release_are_explained(run: dict[str, Any]) -> None:
    records = read(_log(run))
    assert len(records) == 1, run["stderr"]
    record = records[0]
    assert record["explanation"] in EXPECTED[run["scenario"]], (record, run["stderr"])
    if record.get("releases"):  # the usage block narrows the release: the one that printed it is among them
        first, _, last = record["releases"].partition("–")
        versions = CliIndex.load().releases(run["package"])
        assert versions.index(first) <= versions.index(run["version"]) <= versions.index(last or first), record


def test_usage_block_tells_the_release() -> None:
    run = next(r for r in ANSWERED if r["scenario"] == "newer_option" and r["program"] == "nnUNetv2_train")
    record = read(_log(run))[0]
    assert record["release_source"] == "usage block"
    assert record["since"] and record["option_releases"].endswith("2.8.1")


def test_v1_option_on_v2_names_the_v2_equivalent() -> None:
    run = next(r for r in ANSWERED if r["argv"][-1:] == ["--save_npz"])
    record = read(_log(run))[0]
    assert (record["explanation"], record["other_option"]) == ("other_generation", "--save_probabilities")
    diagnosis = diagnose_text(_log(run))
    assert diagnosis.causes[0].cause == "install.v1_v2_mixup"


def test_dataset_name_for_an_id() -> None:
    log = "nnUNetv2_plan_and_preprocess: error: argument -d: invalid int value: 'Dataset701_AbdomenCT'"
    record = read(log)[0]
    assert (record["explanation"], record["dataset_number"]) == ("expects_id", 701)
    diagnosis = diagnose_text(log)
    assert diagnosis.causes[0].cause == "env.dataset_not_found"
    assert "-d 701" in diagnosis.causes[0].best.fix


def test_wrapper_option() -> None:
    log = "usage: TotalSegmentator [-h] -i filepath -o directory\nTotalSegmentator: error: unrecognized arguments: --roi_subset spleen"
    record = read(log)[1 - 1]
    assert (record["indexed"], record["explanation"], record["option"]) == (False, "wrapper", "--roi_subset")
    assert diagnose_text(log).causes[0].cause == "install.nnunet_outdated"


def test_not_argparse_is_ignored() -> None:
    assert read("gcc: error: unrecognized command-line option '-mavx512'") == []
    assert read("ERROR: pip's dependency resolver does not currently take into account") == []


def _rendered_fixes(log: str) -> list[str]:
    diagnosis = diagnose_text(log)
    return [firing.fix for cause in diagnosis.causes for firing in cause.supporting
            if firing.rule.id.split(".")[-1].startswith("cli_")]


@pytest.mark.parametrize("run", [r for r in ANSWERED if r["scenario"] in ("newer_option", "other_generation")],
                         ids=lambda r: f"{r['version']}-{r['program']}-{r['scenario']}")
def test_fixes_name_only_options_of_the_release_they_target(run: dict[str, Any]) -> None:
    """A fix that tells the user what to run instead names options that release has (the index says which)."""
    import re

    index = CliIndex.load()
    record = read(_log(run))[0]
    target = record.get("since") or record.get("release") or index.releases(record["package"])[-1]
    for fix in _rendered_fixes(_log(run)):
        for program, options in re.findall(r"\b(nnUNet(?:v2)?_\w+)((?: +-{1,2}[A-Za-z][\w-]*(?: +[A-Z_.0-9]+)?)*)", fix):
            version = target if program == run["program"] else index.releases("nnunetv2" if "v2_" in program else "nnunet")[-1]
            parser = index.parser(program, version)
            assert parser is not None, (program, version, fix)
            for option in re.findall(r"-{1,2}[A-Za-z][\w-]*", options):
                assert parser.option(option) is not None or option in ("-h",), (program, version, option, fix)


def _result(log: str) -> DiagnosisResult:
    return run_diagnosis(DiagnosisRequest(log_texts={"t.log": log}, offline=True, environ={}, probes={"log"}))


def test_an_option_every_release_accepts_is_no_sign_of_a_release() -> None:
    """-chk is in nnUNetv2_predict since 2.0: its refusal is no reason to upgrade."""
    record = read("nnUNetv2_predict: error: unrecognized arguments: -chk checkpoint_best.pth")[0]
    assert record["explanation"] == "every_release" and record["option_releases"].startswith("2.0")
    report = _result("nnUNetv2_predict: error: unrecognized arguments: -chk checkpoint_best.pth\n")
    assert "install.nnunet_outdated" not in [cause.cause for cause in report.diagnosis.causes]
    assert report.unexplained is not None
    assert "every release of nnUNetv2_predict accepts -chk" in (report.unexplained.hint or "")


def test_an_option_of_another_command_and_a_typo_say_what_was_meant() -> None:
    record = read("nnUNetv2_train: error: unrecognized arguments: -chk checkpoint_best.pth")[0]
    assert record["explanation"] == "other_command" and "nnUNetv2_predict" in record["other_program"]
    typo = _result("nnUNetv2_train: error: unrecognized arguments: --npzz\n")
    assert typo.unexplained is not None and typo.unexplained.type == "usage error"
    assert typo.unexplained.hint == "nnUNetv2_train has no option --npzz in any release: did you mean --npz?"
    choice = _result("nnUNetv2_train: error: argument -device: invalid choice: 'gpu' (choose from 'cpu', "
                           "'cuda', 'mps')\n")
    assert choice.unexplained is not None and "does not take 'gpu'" in (choice.unexplained.hint or "")
