"""The message catalog of every release: generated from sources, matched on log lines, bound to the rules."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import nnunetv2
import pytest
from click.testing import CliRunner

from nnunet_doctor.cli import main
from nnunet_doctor.pipeline import DiagnosisRequest, load_pack, run_diagnosis
from nnunet_doctor.rules.catalog import MessageCatalog, bound_signatures
from nnunet_doctor.rules.catalog_build import HOLE, build, build_package, extract_tree

HEALTHY = Path(__file__).resolve().parents[2] / "rules" / "corpus" / "healthy"


@pytest.fixture(scope="module")
def catalog() -> MessageCatalog:
    return MessageCatalog.load()


def _facts(text: str) -> dict[str, object]:
    result = run_diagnosis(DiagnosisRequest(log_texts={"pasted.log": text}, offline=True, probes={"log"}))
    return {fact.name: fact.value for fact in result.diagnosis.facts if fact.known}


def test_regenerating_the_installed_release_gives_the_committed_entries(catalog: MessageCatalog) -> None:
    """nnunetv2 2.8.1 in this environment is a source that needs no download: its messages, extracted again, are
    exactly the catalog's entries that 2.8.1 holds (file and function included; a message a function raises twice
    is one entry, at one of its lines)."""
    root = Path(nnunetv2.__path__[0]).parent
    lines: dict[tuple[str, ...], set[int]] = {}
    for kind, type_name, template, file, line, function in extract_tree(root, "nnunetv2"):
        lines.setdefault((kind, type_name, template, file, function), set()).add(line)
    committed = {(e.kind, e.type, e.template, e.file, e.function): e.line for e in catalog
                 if e.package == "nnunetv2" and "2.8.1" in e.releases}
    assert set(lines) == set(committed)
    assert all(line in lines[key] for key, line in committed.items())


def _sdist(folder: Path, version: str, source: str, requires: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / f"acvl_utils-{version}.tar.gz", "w:gz") as archive:
        for name, text in ((f"acvl_utils-{version}/PKG-INFO", f"Version: {version}\nRequires-Python: {requires}\n"),
                           (f"acvl_utils-{version}/acvl_utils/io.py", source)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_templates_and_release_ranges_from_sdists(tmp_path: Path) -> None:
    old = '''
def load(path, n):
    msg = "Cannot open file %s (tried %d times)" % (path, n)
    if n > 3:
        raise RuntimeError(msg)
    assert path.endswith(".nii.gz"), f"unsupported ending: {path}. Use .nii.gz"
    print("loading", path, "with", n, "workers")
'''
    new = '''
import warnings
def load(path, n):
    if n > 3:
        raise OSError("Could not open {} after {} tries".format(path, n))
    assert path.endswith(".nii.gz"), "unsupported ending: " + str(path) + ". Use .nii.gz"
    warnings.warn("loading is slow with this many workers", RuntimeWarning)
'''
    _sdist(tmp_path / "acvl_utils", "0.1", old, ">=3.8")
    _sdist(tmp_path / "acvl_utils", "0.2", new, ">=3.10")
    part = build(tmp_path, ["acvl_utils"])["packages"]["acvl_utils"]
    assert part["releases"] == ["0.1", "0.2"] and part["requires_python"] == [">=3.8", ">=3.10"]
    rows = {(kind, type_name, template, ranges) for kind, type_name, template, _file, _line, _function, ranges
            in part["messages"]}
    assert rows == {
        ("raise", "RuntimeError", f"Cannot open file {HOLE} (tried {HOLE} times)", "0"),
        ("assert", "AssertionError", f"unsupported ending: {HOLE}. Use .nii.gz", "0-1"),
        ("print", "", f"loading {HOLE} with {HOLE} workers", "0"),
        ("raise", "OSError", f"Could not open {HOLE} after {HOLE} tries", "1"),
        ("warn", "RuntimeWarning", "loading is slow with this many workers", "1"),
    }


def test_release_lists_become_ranges() -> None:
    message = ("raise", "ValueError", "a message long enough", "m.py", 3, "f")
    part = build_package([(v, [message] if v in ("1.0", "1.1", "1.3") else [], None)
                          for v in ("1.0", "1.1", "1.2", "1.3")])
    assert part["messages"][0][-1] == "0-1,3"


def test_a_truncated_or_wrapped_line_finds_its_message(catalog: MessageCatalog) -> None:
    whole = ("RuntimeError: Unable to locate trainer class nnUNetTrainerX in nnunetv2.training.nnUNetTrainer. "
             "Please place it there (in any .py file)!")
    for text in (whole, whole[:70], "nnunetv2.training.nnUNetTrainer. Please place it there (in any .py file)!"):
        found = catalog.find(text)
        assert found and found[0].entry.file == "nnunetv2/inference/predict_from_raw_data.py", text
    assert catalog.find(whole)[0].score == 100 and catalog.find(whole[:70])[0].score < 100


def test_no_error_message_matches_a_line_of_a_successful_run(catalog: MessageCatalog) -> None:
    """The fuzzy cutoff, measured on the healthy corpus: no problem message reaches it on a healthy line."""
    for path in sorted(p for p in HEALTHY.rglob("*") if p.is_file() and p.suffix != ".json"):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            wrong = [m for m in catalog.find(line) if m.entry.problem and m.score < 100]
            assert not wrong, f"{path.name}:{number}: {line!r} ~ {wrong[0].entry.text!r} ({wrong[0].score})"


def test_an_older_release_wording_is_bound_through_its_sibling(catalog: MessageCatalog) -> None:
    pack = load_pack([])
    typo = next(e for e in catalog if e.template.startswith("Some expeted files were missing"))
    signatures, sibling = bound_signatures(catalog, typo, pack.signatures)
    assert signatures == ["expected_files_missing"] and sibling is not None and "2.8.1" in sibling.releases


def test_a_specific_message_narrows_the_release_and_python_is_checked() -> None:
    facts = _facts("RuntimeError: Unable to locate trainer class X in nnunetv2.training.nnUNetTrainer. "
                   "Please place it there (in any .py file)!\n")
    assert facts["catalog.nnunet_release_range"] == "2.5.1–2.7.0"
    facts = _facts('  File "/opt/conda/lib/python3.9/site-packages/nnunetv2/run/run_training.py", line 3, in x\n'
                   "Name: nnunetv2\nVersion: 2.6.0\n")
    assert facts["catalog.python_unsupported"] == {"python": "3.9", "package": "nnunetv2", "releases": "2.6.0",
                                                   "requires": [">=3.10"]}


def _json(args: list[str], text: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, [*args, "--log", "-", "--offline", "--format", "json"], input=text)
    return result.exit_code, json.loads(result.output)


def test_an_error_no_rule_explains_is_reported_first_with_exit_code_4() -> None:
    code, report = _json([], "Traceback (most recent call last):\n"
                             '  File "/x/site-packages/nnunetv2/utilities/overlay_plots.py", line 140, in f\n'
                             "AssertionError: image and seg do not have the same shape: (1, 2), (3, 4)\n")
    assert code == 4 and report["summary"]["unexplained"] is True
    error = report["unexplained"]
    assert (error["package"], error["source"]) == ("nnunetv2", "nnunetv2/utilities/overlay_plots.py:140")
    assert error["nearest"][0]["score"] == 100 and error["send_next"]
    assert all(cause["certainty"] < 0.4 and cause["rule"] == "catalog.nearest_message" for cause in report["causes"])
    terminal = CliRunner().invoke(main, ["--log", "-", "--offline"], input="AssertionError: image and seg do not "
                                                                          "have the same shape: (1, 2), (3, 4)\n")
    assert terminal.exit_code == 4 and terminal.output.startswith("✗ nnunet-doctor: an error that no rule explains")


def test_a_clean_log_still_exits_0() -> None:
    code, report = _json([], "Epoch 3\nCurrent learning rate: 0.0098\n")
    assert code == 0 and report["unexplained"] is None


def test_rules_coverage_counts_per_release() -> None:
    result = CliRunner().invoke(main, ["rules", "coverage", "--package", "nnunetv2"])
    rows = {line.split()[1]: line.split()[2:] for line in result.output.splitlines()[1:]}
    assert result.exit_code == 0 and len(rows) == 18
    bound, informational, unbound = map(int, rows["2.8.1"])
    assert bound >= 150 and informational > 0 and unbound > 0


def test_a_cut_traceback_uses_the_frames_it_has() -> None:
    """The paste stops inside the innermost frame's code: the messages of the function it calls are the candidates,
    below the rule that fired on the banner above (which does not explain the error)."""
    code, report = _json([], "INFO: You are using the old nnU-Net default plans. We have updated our "
                             "recommendations. Please consider using those instead!\n"
                             "Traceback (most recent call last):\n"
                             '  File "/e/lib/python3.10/site-packages/nnunetv2/run/run_training.py", line 196, in '
                             "run_training\n"
                             "    nnunet_trainer = get_trainer_from_a")
    assert code == 4 and report["unexplained"]["complete"] is False
    assert report["unexplained"]["nearest"][0]["message"].startswith("Could not find requested nnunet trainer")
    causes = [c["cause"] for c in report["causes"]]
    assert causes[0] == "train.expected_behaviour" and causes[1] == "install.trainer_not_found"


def test_successful_runs_hold_no_unexplained_error() -> None:
    for path in sorted(p for p in HEALTHY.rglob("*") if p.is_file() and p.suffix != ".json"):
        result = run_diagnosis(DiagnosisRequest(logs=[str(path)], offline=True, probes={"log"}))
        assert result.unexplained is None, f"{path.name}: {result.unexplained}"


def test_the_install_kind_and_python_come_from_traceback_paths() -> None:
    facts = _facts('  File "/home/u/.conda/envs/seg/lib/python3.10/site-packages/nnunetv2/run/run_training.py", '
                   "line 196, in run_training\n")
    assert facts["log.nnunet_install"] == {"package": "nnunetv2", "kind": "conda", "python": "3.10",
                                           "root": "/home/u/.conda/envs/seg/lib/python3.10/site-packages"}


def test_module_examples() -> None:
    import doctest

    import nnunet_doctor.probes.log.catalog as reader
    import nnunet_doctor.rules.catalog as model

    for module in (reader, model):
        assert doctest.testmod(module).failed == 0
