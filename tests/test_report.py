"""The report in every format, for real nnU-Net logs and datasets with injected faults.

Each input is diagnosed once; every format is rendered from that diagnosis and checked for what a reader
loses: text dropped by a GitHub-flavoured Markdown renderer, lines wider than the terminal, Python reprs, the
wrong file cited for a dataset fault.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from nnunet_doctor.cli import main
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.probes.log.training import training_runs
from nnunet_doctor.report import build_report, render, wrap_line

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "fixtures" / "logs" / "real"
HEALTHY = REPO / "rules" / "corpus" / "healthy"
CURVES = (REPO / "tests" / "fixtures" / "logs" / "curves" / "Dataset001_Tiny"
          / "nnUNetTrainer_40epochs_tiny__nnUNetPlans__3d_fullres")
SCHEMA = json.loads((REPO / "doctor" / "report.schema.json").read_text(encoding="utf-8"))
LOGS = {
    "healthy fold folder": [HEALTHY / "fold_0"],
    "two folds of 40 epochs": [CURVES / "fold_0", CURVES / "fold_1"],
    "worker killed": [REAL / "train_worker_killed.log"],
    "labels 255 in training": [REAL / "train_labels_255.log"],
    "paths unset": [REAL / "plan_paths_unset.log"],
    "trainer not found": [REAL / "train_trainer_not_found.log"],
}
WIDTH = 80
#: what a Python repr looks like: numpy wrappers, quoted items in brackets, dict braces
PYTHON_REPR = re.compile(r"np\.(?:str_|bool_|u?int\d+|float\d+)\(|\[['\"]|\{['\"]|\bdtype=")


def _report(request: DiagnosisRequest) -> dict[str, Any]:
    return build_report(run_diagnosis(request))


@pytest.fixture(scope="module")
def log_reports() -> dict[str, dict[str, Any]]:
    return {name: _report(DiagnosisRequest(logs=[str(p) for p in paths], offline=True)) for name, paths in LOGS.items()}


# -- datasets with one fault each (tests/probes/dataset/dataset_faults.py) ------------------------------------------
sys.path.insert(0, str(REPO / "tests" / "probes" / "dataset"))
from dataset_faults import FAULTS  # noqa: E402
from dataset_synthetic import write_dataset  # noqa: E402

#: fault -> the file the top cause's evidence must name
DATASET_FAULTS = {"label value 255": "labelsTr/case_0003.nii.gz", "interpolated label": "labelsTr/case_0002.nii.gz",
                  "NaN voxels in .nii.gz": "imagesTr/case_0002_0000.nii.gz"}


@pytest.fixture(scope="module")
def dataset_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    reports = {}
    for fault in FAULTS:
        if fault.name not in DATASET_FAULTS:
            continue
        base = tmp_path_factory.mktemp(fault.name.replace(" ", "_").replace(".", ""))
        raw = base / "raw"
        folder = write_dataset(raw, fault.spec)
        query = fault.inject(folder, raw) or "1"
        environ = {"nnUNet_raw": str(raw), "NNUNET_DOCTOR_CACHE": str(base / "cache"), "HOME": str(base)}
        reports[fault.name] = _report(DiagnosisRequest(dataset=query, offline=True, environ=environ,
                                                       probes={"log", "dataset", "preprocessed", "results"},
                                                       options={"jobs": 1}))
    return reports


def _all_reports(log_reports: dict[str, Any], dataset_reports: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**log_reports, **dataset_reports}


# -- what each format must keep ---------------------------------------------------------------------------------------
def _words(text: str) -> str:
    return " ".join(text.split())


def _prose(report: dict[str, Any]) -> list[str]:
    """The text a reader must find in every format (besides code blocks)."""
    out = [cause["title"] for cause in report["causes"]] + [cause["finding"] for cause in report["causes"]]
    if report["training"]:
        out.append(report["training"]["headline"]["text"])
    out += [entry["name"] for entry in report["to_settle"]] + [ask for entry in report["to_settle"] for ask in entry["asks"]]
    out += [row["value"] for row in report["versions"] if row["value"]]
    out += [item["text"] for item in report["checklist"]]
    return out


def _gfm_text(markdown: str) -> str:
    """What a reader sees of ``markdown`` on GitHub: rendered (CommonMark + tables), tags dropped, entities decoded."""
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    return _words(html.unescape(re.sub(r"<[^>]+>", " ", rendered)))


def test_markdown_loses_no_text_through_a_gfm_renderer(log_reports: dict[str, Any],
                                                      dataset_reports: dict[str, Any]) -> None:
    for name, report in _all_reports(log_reports, dataset_reports).items():
        markdown = render(report, "markdown")
        seen = _gfm_text(markdown)
        for text in _prose(report):
            assert _words(text) in seen, f"{name}: lost through the Markdown renderer: {text!r}"
        for cause in report["causes"]:
            for line in cause["fix"].splitlines():
                assert _words(line) in seen, f"{name}: fix line lost: {line!r}"
            for item in cause["evidence"]:
                assert _words(item["text"]) in seen, f"{name}: evidence lost: {item['text']!r}"
        # prose is never hard-wrapped: every line outside code blocks is a whole paragraph, item or table row
        outside = re.sub(r"(?ms)^(`{3,}).*?^\1$", "", markdown)
        assert not re.search(r"(?m)^[a-z]", outside), f"{name}: a hard-wrapped line"


def test_the_placeholder_names_survive_markdown(log_reports: dict[str, Any]) -> None:
    seen = _gfm_text(render(log_reports["paths unset"], "markdown"))
    assert "<Trainer>__<Plans>__<Configuration>" in seen


def test_the_unknowns_and_the_evidence_are_folded(log_reports: dict[str, Any]) -> None:
    markdown = render(log_reports["worker killed"], "markdown")
    assert "<details><summary>Checks that could not run" in markdown
    assert re.search(r"<details open><summary>Evidence \(\d+\)</summary>", markdown)  # the top cause's, open
    assert "#### Checklist" in markdown and "#### Versions" in markdown


def test_terminal_lines_fit_the_width(log_reports: dict[str, Any], dataset_reports: dict[str, Any]) -> None:
    for name, report in _all_reports(log_reports, dataset_reports).items():
        for verbose in (False, True):
            text = render(report, "terminal", verbose=verbose, width=WIDTH)
            in_fix = False
            for line in text.splitlines():
                indent = len(line) - len(line.lstrip(" "))
                if line.strip() and indent < 4:
                    in_fix = line.strip() == "fix:"
                if in_fix and indent >= 6:
                    continue  # a fix's command stays whole (folded, it would paste as two commands)
                # only a single word or path longer than the width may stick out, on a line of its own
                assert len(line) <= WIDTH or " " not in line.strip(), f"{name}: {line!r}"


def test_a_line_is_never_broken_inside_a_word_or_path() -> None:
    line = "    fix: run nnUNetv2_train 3 3d_fullres 0 with /data/nnUNet_results/Dataset003_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres"
    pieces = wrap_line(line, 40)
    assert [piece.split() for piece in pieces] and sum((p.split() for p in pieces), []) == line.split()
    assert pieces[-1] == "      /data/nnUNet_results/Dataset003_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres"


def test_no_python_repr_in_what_the_report_says(log_reports: dict[str, Any],
                                               dataset_reports: dict[str, Any]) -> None:
    for name, report in _all_reports(log_reports, dataset_reports).items():
        said = [cause["fix"] for cause in report["causes"]] + _prose(report)
        said += [item["text"] for cause in report["causes"] for item in cause["evidence"] if item["kind"] == "fact"]
        for text in said:
            assert not PYTHON_REPR.search(text), f"{name}: {text!r}"


def test_every_format_renders_and_json_follows_the_schema(log_reports: dict[str, Any]) -> None:
    for name, report in log_reports.items():
        document = json.loads(render(report, "json"))
        jsonschema.validate(document, SCHEMA)
        assert [c["cause"] for c in document["causes"]] == [c["cause"] for c in report["causes"]]
        page = render(report, "html")
        assert page.startswith("<!DOCTYPE html>")
        assert not re.search(r"\bsrc=|<link|@import|url\((?!#)", page), name  # nothing to fetch: self-contained


def test_the_evidence_names_the_file_that_holds_the_fault(dataset_reports: dict[str, Any]) -> None:
    for fault, file in DATASET_FAULTS.items():
        top = dataset_reports[fault]["causes"][0]
        assert any(item["where"] == f"dataset {file}" for item in top["evidence"]), (fault, top["evidence"])
    label = dataset_reports["label value 255"]["causes"][0]
    assert any(item["text"] == "case_0003: unexpected 255" for item in label["evidence"])


def test_one_title_per_cause_the_catalogs(log_reports: dict[str, Any]) -> None:
    titles: dict[str, set[str]] = {}
    for report in log_reports.values():
        for cause in report["causes"]:
            titles.setdefault(cause["cause"], set()).add(cause["title"])
    assert all(len(found) == 1 for found in titles.values()), titles
    paths = next(c for c in log_reports["paths unset"]["causes"] if c["cause"] == "env.paths_unset")
    assert paths["title"].startswith("nnUNet_raw / nnUNet_preprocessed / nnUNet_results not set")


# -- the training at a glance ----------------------------------------------------------------------------------------
def test_a_healthy_training_log_says_so_first(log_reports: dict[str, Any]) -> None:
    report = log_reports["healthy fold folder"]
    first = render(report, "terminal", width=100).splitlines()[0]
    assert first.startswith("✓ Training looks healthy: 4 of 4 epochs, finished; EMA pseudo Dice 0.1887")
    run = report["training"]["runs"][0]
    assert run["classes"] == [{"class": 1, "name": "class 1", "best": 0.5138, "best_epoch": 3, "last": 0.5138}]
    assert run["series"]["train_loss"] == [0.8166, 0.4569, 0.1398, 0.0967]
    # nnU-Net's own EMA, as it printed it ("Yayy! New best EMA pseudo Dice: 0.18870000541210175")
    assert run["ema"]["last"] == 0.1887 and run["spark"]["val_loss"] == "█▄▂▁"


def test_several_folds_are_one_run_each(log_reports: dict[str, Any]) -> None:
    training = log_reports["two folds of 40 epochs"]["training"]
    assert [(run["fold"], run["epochs"], run["first_epoch"], run["last_epoch"]) for run in training["runs"]] == [
        ("0", 40, 0, 39), ("1", 40, 0, 39)]
    markdown = render(log_reports["two folds of 40 epochs"], "markdown")
    assert re.search(r"(?m)^\| 0 \| 0–39 \(40 of 40\) \| ", markdown) and re.search(r"(?m)^\| 1 \| 0–39 \(40 of 40\) \| ", markdown)


LOG = """2025-03-05 09:07:05.010100: Epoch {epoch}
2025-03-05 09:07:05.010200: Current learning rate: 0.01
2025-03-05 09:09:40.100000: train_loss {loss}
2025-03-05 09:09:40.100100: val_loss -0.3111
2025-03-05 09:09:40.100200: Pseudo dice [np.float32({dice}), np.float32({dice})]
2025-03-05 09:09:40.100300: Epoch time: 155.09 s
"""


def test_nan_collapse_and_resume_are_events_on_the_timeline(tmp_path: Path) -> None:
    fold = tmp_path / "fold_0"
    fold.mkdir()
    first = "".join(LOG.format(epoch=e, loss=-0.5, dice=0.8) for e in range(6))
    second = "".join(LOG.format(epoch=e, loss="nan" if e == 7 else -0.5, dice=0.05 if e >= 7 else 0.8)
                     for e in range(5, 9))
    (fold / "training_log_2025_3_5_09_07_01.txt").write_text(first, encoding="utf-8")
    (fold / "training_log_2025_3_6_10_00_00.txt").write_text(second, encoding="utf-8")
    report = _report(DiagnosisRequest(logs=[str(fold)], offline=True))
    events = [(e["epoch"], e["kind"]) for e in report["training"]["runs"][0]["events"]]
    assert (5, "resumed") in events and (7, "nan") in events and (7, "collapse") in events
    assert not report["training"]["ok"]
    assert report["training"]["headline"]["text"].startswith("Training has problems")


def test_runs_group_by_fold_folder() -> None:
    records = [{"epoch": 0, "dice": [0.5], "file": "a/fold_0/training_log_1.txt", "line": 1},
               {"epoch": 0, "dice": [0.6], "file": "a/fold_1/training_log_1.txt", "line": 1}]
    assert [run["fold"] for run in training_runs(records)] == ["0", "1"]


# -- versions, -v, the command line ----------------------------------------------------------------------------------
def test_versions_come_from_this_machine_with_their_source() -> None:
    report = _report(DiagnosisRequest(log_texts={"x.log": "Epoch 0\n"}, probes={"log", "installation"}))
    rows = {row["name"]: row for row in report["versions"]}
    assert rows["nnunetv2"]["value"] and rows["nnunetv2"]["source"] == "this machine"
    assert rows["numpy"]["value"] and rows["Python"]["value"] and rows["SimpleITK"]["value"]
    assert rows["GPU"]["value"] is None  # the GPU probe did not run: unknown, never "none"
    text = render(report, "terminal", verbose=True, width=100)
    assert re.search(r"(?m)^  nnunetv2 +\d+\.\d+", text)


def test_versions_from_a_log_name_the_line(log_reports: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in log_reports["healthy fold folder"]["versions"]}
    assert rows["torch"] == {"name": "torch", "value": "2.13.0 (build cpu)",
                             "source": f"log {HEALTHY / 'fold_0' / 'debug.json'}"}


def test_verbose_speaks_of_inputs_not_facts_and_never_asks_for_a_given_one(log_reports: dict[str, Any]) -> None:
    text = render(log_reports["healthy fold folder"], "terminal", verbose=True, width=120)
    settle = text[text.index("What would settle more"):]
    assert "training." not in settle and "dataset_json." not in settle and "facts:" not in settle
    assert "  ? the dataset (--dataset): " in settle
    assert "--log with" not in settle  # a log was given: the report says what it lacks instead
    assert "a log (--log) (given)" in settle


def test_output_extension_picks_the_format_and_the_report_says_where(tmp_path: Path) -> None:
    log = str(HEALTHY / "fold_0")
    for name, start in (("report.html", "<!DOCTYPE html>"), ("report.md", "### nnunet-doctor report"),
                        ("report.json", "{")):
        out = tmp_path / name
        result = CliRunner().invoke(main, ["--log", log, "--offline", "-o", str(out)])
        assert out.read_text(encoding="utf-8").startswith(start)
        assert result.stderr.strip().endswith(f"report to {out}")
    result = CliRunner().invoke(main, ["--log", log, "--offline", "--format", "md"])
    assert result.stdout.startswith("### nnunet-doctor report")


def test_a_terminal_report_of_a_training_log_never_imports_matplotlib() -> None:
    script = ("import sys\nfrom click.testing import CliRunner\nfrom nnunet_doctor.cli import main\n"
              f"CliRunner().invoke(main, ['--log', {str(HEALTHY / 'fold_0')!r}, '--offline'])\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'numpy')))\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_versions_of_a_gpu_machine_in_every_format() -> None:
    facts = {"torch.version": "2.3.1", "torch.cuda_built": True, "torch.cuda_build": "12.1", "torch.cudnn_version": "8902",
             "nvidia_smi.present": True, "nvidia_smi.driver_version": "550.54.14", "nvidia_smi.cuda_version": "12.4",
             "nvidia_smi.gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3090", "total_mib": 24576.0}]}
    report = _report(DiagnosisRequest(log_texts={"x.log": "Epoch 0\n"}, offline=True, facts=facts))
    rows = {row["name"]: row["value"] for row in report["versions"]}
    assert rows["torch"] == "2.3.1 (CUDA 12.1)" and rows["cuDNN"] == "8902"
    assert rows["GPU"] == "NVIDIA GeForce RTX 3090 (24 GiB)" and rows["NVIDIA driver"] == "550.54.14 (supports CUDA 12.4)"
    assert "| NVIDIA driver | 550.54.14 (supports CUDA 12.4) |" in render(report, "markdown")
    assert "<td>NVIDIA GeForce RTX 3090 (24 GiB)</td>" in render(report, "html")
    assert re.search(r"(?m)^  NVIDIA driver +550\.54\.14 \(supports CUDA 12\.4\)", render(report, "terminal", verbose=True))


@pytest.mark.parametrize("name", ["train_healthy.log", "train_2d_healthy.log", "fold_0"])
def test_every_healthy_training_of_the_corpus_is_called_healthy(name: str) -> None:
    training = _report(DiagnosisRequest(logs=[str(HEALTHY / name)], offline=True))["training"]
    assert training["ok"] and training["headline"]["text"].startswith("Training looks healthy: "), training["headline"]


def test_a_training_the_oom_killer_stopped_is_not_called_healthy(log_reports: dict[str, Any]) -> None:
    headline = log_reports["worker killed"]["training"]["headline"]
    assert headline["mark"] == "✗" and headline["text"].startswith("Training has problems: 1 epoch, stopped")
    assert "sys.ram_exhausted" in headline["text"]


@pytest.mark.parametrize("module", ["nnunet_doctor.engine.wording", "nnunet_doctor.report",
                                    "nnunet_doctor.probes.log.training"])
def test_the_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0


def test_fixes_show_values_captured_from_a_log_in_words() -> None:
    from nnunet_doctor.engine.facts import FactBase
    from nnunet_doctor.engine.fix_templates import render_fix

    fix = render_fix("No label file for: {{ missing }}; plans have {{ configs }}; found {{ found }}", FactBase(),
                     {"missing": "[np.str_('case_002')]", "configs": ["2d", "3d_fullres"], "found": "[0, 1, 3]"})
    assert fix == "No label file for: case_002; plans have 2d, 3d_fullres; found [0, 1, 3]"


def test_a_crashed_probe_is_reported_first_and_its_area_unknown() -> None:
    """A probe that could not finish used to leave '✓ no problem found' on the first line and exit 0."""
    from nnunet_doctor.probes.runner import ProbeReport

    result = run_diagnosis(DiagnosisRequest(log_texts={"train.log": "Epoch 1\n"}, dataset="/nowhere", offline=True,
                                            probes={"log"}))
    result.probe_reports.append(ProbeReport("dataset", "failed", 0.1, "RecursionError: maximum recursion depth"))
    report = build_report(result)
    jsonschema.validate(report, SCHEMA)
    assert report["summary"]["incomplete"] and report["incomplete"][0]["areas"] == ["Dataset"]
    assert dict((item["area"], item["mark"]) for item in report["checklist"])["Dataset"] == "?"
    for fmt in ("terminal", "markdown", "html"):
        text = render(report, fmt, verbose=True)
        assert "no problem found." not in text.replace("No known problem found in what", "")
        assert "✓ No known problem found" not in text and "✓ nnunet-doctor" not in text
        assert "not checked to the end: the dataset probe crashed (RecursionError" in text.replace("</strong>", "")
    assert render(report, "terminal").startswith("? nnunet-doctor: Dataset not checked to the end")


def test_a_fix_command_pasted_from_a_narrow_terminal_runs_nothing_else(tmp_path: Path) -> None:
    """The terminal report used to fold a fix's command at a space: the rest of the line, made of a file name
    (``x;touch PWNED;x``), became a command of its own when the block was pasted."""
    import shutil

    from dataset_synthetic import Spec

    folder = write_dataset(tmp_path / "raw", Spec(cases=2, shape=(8, 8, 6)))
    image = next((folder / "imagesTr").iterdir())
    image.rename(image.with_name("a x;touch PWNED;x b x;touch PWNED;x c x;touch PWNED;x d.nii.gz"))  # no _0000
    report = build_report(run_diagnosis(DiagnosisRequest(dataset=str(folder), offline=True,
                                                         environ={"NNUNET_DOCTOR_CACHE": "off"})))
    assert report["causes"][0]["cause"] == "data.file_naming"
    for width in range(40, 120, 7):
        lines = render(report, "terminal", width=width).splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("      mv "))
        end = next(i for i in range(start, len(lines)) if not lines[i].startswith("      "))
        block = lines[start:end]  # the commands, as a user selects them to paste
        sandbox = tmp_path / f"paste{width}"
        (sandbox / "bin").mkdir(parents=True)
        (sandbox / "bin" / "mv").write_text("#!/bin/sh\nexit 0\n")
        (sandbox / "bin" / "mv").chmod(0o755)
        (sandbox / "bin" / "touch").symlink_to("/usr/bin/touch" if Path("/usr/bin/touch").exists() else "/bin/touch")
        subprocess.run([shutil.which("bash") or "bash"], input="\n".join(block) + "\n", text=True, capture_output=True, cwd=sandbox,
                       env={"PATH": str(sandbox / "bin")}, timeout=30)
        assert not (sandbox / "PWNED").exists(), "\n".join(block)


def test_evidence_shows_each_value_with_the_unit_its_fact_declares() -> None:
    report = _report(DiagnosisRequest(facts={"system.ram_available_mib": 1800.0, "system.swap_total_mib": 0.0},
                                      offline=True, environ={}, probes=set()))
    texts = [item["text"] for cause in report["causes"] for item in cause["evidence"]]
    assert any(text.endswith(": 1800 MiB") for text in texts), texts


def test_a_probes_notes_show_with_verbose_only(tmp_path: Path) -> None:
    """A probe's info note (here: the log was UTF-16) is shown by -v; the terminal report tests the finding's source
    through the one definition of a source (``is from_probe``), not its wording."""
    log = tmp_path / "train.log"
    log.write_text((REAL / "plan_paths_unset.log").read_text(encoding="utf-8"), encoding="utf-16")
    quiet = CliRunner().invoke(main, ["--offline", "--log", str(log)])
    verbose = CliRunner().invoke(main, ["--offline", "--log", str(log), "-v"])
    assert quiet.exit_code == verbose.exit_code == 1, quiet.output
    assert "UTF-16" not in quiet.output, quiet.output
    # the terminal wraps at its width wherever the temporary path puts the break: compare with the words joined
    assert re.search(r"! probe log: \S*train\.log: read as UTF-16 text", " ".join(verbose.output.split())), verbose.output
