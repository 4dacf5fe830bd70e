"""The ``diagnose`` command line, driven in-process with click's CliRunner and as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from nnunet_doctor.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "paths_unset.log"
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity; 10.92 GiB already allocated)\n"
SCHEMA = json.loads((REPO / "doctor" / "report.schema.json").read_text(encoding="utf-8"))


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def test_the_bundled_example_ranks_the_real_cause_first() -> None:
    result = invoke("--log", str(EXAMPLE), "--offline", "--width", "200")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "nnunet-doctor: 2 possible causes, most likely first"
    # the catalog's title for the cause; the rule's finding below it
    assert lines[1] == ("✗ 0.90 env.paths_unset  nnUNet_raw / nnUNet_preprocessed / nnUNet_results not set in the shell "
                        "that runs nnU-Net (or set only in one terminal, not persisted)")
    assert lines[2] == "  found: nnU-Net path variables are not set (nnU-Net printed them as None)"
    assert f"log {EXAMPLE}:16 (signature defined_folder)  nnUNet_preprocessed=None" in result.output
    assert "! 0.50 env.dataset_not_found" in result.output
    assert "\x1b[" not in result.output  # not a terminal: no colour


def test_json_report_keeps_the_benchmark_contract_and_the_schema() -> None:
    result = invoke("--log", str(EXAMPLE), "--offline", "--format", "json")
    report = json.loads(result.output)
    jsonschema.validate(report, SCHEMA)
    assert [(c["cause"], c["certainty"]) for c in report["causes"]] == [("env.paths_unset", 0.9), ("env.dataset_not_found", 0.5)]
    top = report["causes"][0]
    assert top["rule"] == "env.paths_unset.dataset_lookup"
    assert top["evidence"][0] == {"kind": "log", "text": "nnUNet_preprocessed=None", "where": f"log {EXAMPLE}:16 (signature defined_folder)",
                                  "file": str(EXAMPLE), "line": 16, "name": "match.defined_folder",
                                  "source": {"source": "log", "file": str(EXAMPLE), "lines": [16, 16], "detail": "signature defined_folder"}}
    assert report["causes"][1]["rules"] == [
        {"rule": "env.dataset_not_found.log_message", "certainty": 0.8, "effect": "supports"},
        {"rule": "env.dataset_not_found.paths_none", "certainty": -0.6, "effect": "weakens"}]
    assert report["inputs"]["offline"] is True
    assert {p["name"]: p["status"] for p in report["probes"]} == {"log": "ran", "environment": "skipped",
                                                                  "installation": "skipped", "system": "skipped",
                                                                  "gpu": "skipped", "functional": "skipped",
                                                                      "dataset": "skipped",
                                                                  "preprocessed": "skipped", "results": "skipped"}


def test_explanation_shows_each_sub_condition() -> None:
    report = json.loads(invoke("--log", str(EXAMPLE), "--offline", "--format", "json").output)
    weakening = report["causes"][1]["explanation"][1]
    assert weakening["trace"] == [
        {"condition": "match.dataset_id_not_found", "value": True},
        {"condition": 'any f in match.defined_folder: f.value == "None"', "value": True},
        {"condition": 'match.dataset_id_not_found and any f in match.defined_folder: f.value == "None"', "value": True}]
    text = invoke("--log", str(EXAMPLE), "--offline", "--explain").output
    assert "rule env.dataset_not_found.paths_none (-0.60):" in text
    assert '      true    any f in match.defined_folder: f.value == "None"' in text


def test_standard_input_is_read_with_dash() -> None:
    result = invoke("--log", "-", "--offline", "--format", "json", input=OOM)
    report = json.loads(result.output)
    assert report["causes"][0]["cause"] == "train.gpu_oom"
    assert report["causes"][0]["evidence"][0]["file"] == "<stdin>"


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_markdown_and_html(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    result = invoke("--log", "-", "--offline", "--format", fmt, "--output", str(out), input=OOM + "<script>x</script>\n")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"wrote the {fmt} report to {out}\n"
    text = out.read_text(encoding="utf-8")
    if fmt == "markdown":
        assert ("| 1 | 0.85 (high) | `train.gpu_oom` | The configuration (patch/batch size, network) needs more GPU "
                "memory than the GPU has |") in text
        assert "nnUNetv2_plan_and_preprocess -d DATASET_ID -gpu_memory_target 6" in text
    else:
        assert text.startswith("<!DOCTYPE html>") and "<script>x</script>" not in text  # escaped, self-contained
        assert text.count("<script>") == 1  # only the copy buttons
        assert "<link" not in text and "src=" not in text


def test_top_limits_the_causes() -> None:
    report = json.loads(invoke("--log", str(EXAMPLE), "--offline", "--format", "json", "--top", "1").output)
    assert [c["cause"] for c in report["causes"]] == ["env.paths_unset"]
    assert report["summary"] == {"found": True, "causes": 2, "shown": 1, "top": "env.paths_unset", "unexplained": False,
                                 "incomplete": False}


def test_verbose_shows_every_fix() -> None:
    quiet = invoke("--log", str(EXAMPLE), "--offline").output
    verbose = invoke("--log", str(EXAMPLE), "--offline", "-v").output
    assert quiet.count("  fix:") == 1 and verbose.count("  fix:") == 2


def test_nothing_found_exits_zero() -> None:
    result = invoke("--log", "-", "--offline", input="2025-03-05 09:07:01.123456: Epoch 0\n")
    assert result.exit_code == 0
    assert result.output.startswith("· Training: no epoch completed in the log (it stops inside epoch 0).\n"
                                    "✓ nnunet-doctor: no problem found in <stdin>.\n")
    # what else to ask the user for: one line per missing input, not one per fact
    lines = result.output.splitlines()
    assert lines[3] == "What would settle more"
    assert any(line.startswith("  ? the dataset (--dataset): ") for line in lines)
    assert "dataset_json." not in result.output  # the user's words, not fact names
    assert len(lines) < 30


def test_a_missing_log_is_one_clear_line_and_exit_2() -> None:
    result = CliRunner().invoke(main, ["--log", "/no/such/train.log", "--offline"])
    assert result.exit_code == 2
    assert result.output == "diagnose: /no/such/train.log: no such file or folder\n"


def test_invalid_site_rules_exit_2_with_positions(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: site.x\n    titel: oops\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path}/bad.yaml:3:5: unknown key 'titel' in rule (did you mean 'title'?)" in result.output


def test_site_rules_from_the_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("disable: [train.gpu_oom.cuda_message]\n", encoding="utf-8")
    result = invoke("--log", "-", "--offline", input=OOM, env={"NNUNET_DOCTOR_RULES": str(tmp_path)})
    assert result.exit_code == 4  # the OOM error is still there, but no rule explains it now


def test_rules_list_check_test_and_schema() -> None:
    listing = invoke("rules", "list").output
    assert "train.gpu_oom.cuda_message" in listing and "rules/training/gpu_memory.yaml" in listing
    assert invoke("rules", "check").output.startswith("ok: ")
    tested = invoke("rules", "test", "-v")
    assert tested.exit_code == 0, tested.output
    assert "train.gpu_oom.cuda_message                         2   0   0   1" in tested.output
    assert json.loads(invoke("rules", "schema").output)["title"] == "nnunet-doctor rule file"


def test_rules_test_reports_a_failing_test(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "rules:\n  - id: site.never\n    title: t\n    cause: train.gpu_oom\n    phase: training\n    severity: error\n"
        "    certainty: 0.5\n    status: stable\n    when: 'false'\n    fix: f\n    tests:\n      - log: anything\n"
        "        expect: fire\n", encoding="utf-8")
    result = invoke("rules", "test", "--rules", str(tmp_path), "site.never")
    assert result.exit_code == 1
    assert f"{tmp_path}/site.yaml:12:9: site.never: test 'test 1' should fire but did not" in result.output


def test_the_console_script_runs_as_a_subprocess() -> None:
    completed = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", str(EXAMPLE), "--offline",
                                "--format", "json"], capture_output=True, text=True, timeout=120, cwd="/")
    assert completed.returncode == 1, completed.stderr
    assert json.loads(completed.stdout)["summary"]["top"] == "env.paths_unset"


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    script = ("import pty, os, sys\n"
              "pid, fd = pty.fork()\n"
              "if pid == 0:\n"
              f"    os.execv(sys.executable, [sys.executable, '-m', 'nnunet_doctor', '--log', {str(EXAMPLE)!r}, '--offline'])\n"
              "out = b''\n"
              "while True:\n"
              "    try: chunk = os.read(fd, 4096)\n"
              "    except OSError: break\n"
              "    if not chunk: break\n"
              "    out += chunk\n"
              "os.waitpid(pid, 0)\n"
              "sys.stdout.write(repr(out))\n")
    coloured = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin"}).stdout
    plain = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                           env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}).stdout
    assert "\\x1b[31m" in coloured
    assert "\\x1b[" not in plain and "env.paths_unset" in plain


def test_rules_test_runs_the_healthy_corpus_of_site_folders(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus" / "healthy"
    corpus.mkdir(parents=True)
    (corpus / "looks_fine.log").write_text(OOM, encoding="utf-8")  # not healthy at all: the check must object
    result = invoke("rules", "test", "--rules", str(tmp_path))
    assert result.exit_code == 1
    assert (f"{corpus / 'looks_fine.log'}: false alarm on a successful run: train.gpu_oom 0.85 "
            "(rule train.gpu_oom.cuda_message)") in result.output
    assert "healthy corpus: 8/9 successful runs" in result.output
