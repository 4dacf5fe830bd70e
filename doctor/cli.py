"""The ``diagnose`` command line.

Exit codes: 0 nothing found (no cause reaches medium certainty), 1 causes found, 2 usage or input error
(including invalid rule files), 3 internal error.
"""
from __future__ import annotations

import io
import os
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO

import click

from nnunet_doctor import __version__
from nnunet_doctor.engine.errors import DoctorError, InputError, RuleLoadError

EXIT_NOTHING_FOUND, EXIT_FOUND, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FORMATS = ("terminal", "markdown", "html", "json")


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        click.echo(f"diagnose: {self.format_message()}", err=True)


def _fail(exc: DoctorError) -> _Failure:
    return _Failure(str(exc), exc.exit_code)


def _use_color(fmt: str, output: Path | None) -> bool:
    if fmt != "terminal" or output is not None or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _stdin() -> BinaryIO:
    """Standard input as a byte stream, read while it is scanned (never whole)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stdin (embedded interpreters)
        return io.BytesIO(sys.stdin.read().encode("utf-8", errors="replace"))
    return stream  # type: ignore[no-any-return]


def _check_log_paths(logs: tuple[str, ...]) -> None:
    """Every --log must be readable before anything runs: one line naming the first one that is not."""
    from nnunet_doctor.probes.log.reader import check_readable

    if logs.count("-") > 1:
        raise InputError("-: standard input can be read only once")
    for log in logs:
        if log != "-":
            check_readable(Path(log), log)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output}: cannot write report: {exc.strerror or exc}") from None


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log", "logs", multiple=True, metavar="FILE",
              help="A log to read (repeatable): console output, a training_log_*.txt; '-' reads standard input.")
@click.option("--dataset", metavar="ID|NAME|PATH", help="The nnU-Net dataset to check (e.g. 3, Dataset003_Liver, or a path).")
@click.option("--results", type=click.Path(path_type=Path), help="A trained-model folder to check (nnUNet_results/...).")
@click.option("--quick", is_flag=True, help="Dataset: check names, dataset.json and image headers only (no voxel reads).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True,
              help="Dataset: processes reading images (0: one per CPU core).")
@click.option("--no-cache", is_flag=True, help="Dataset: measure every file again instead of reusing unchanged ones.")
@click.option("--offline", is_flag=True,
              help="Do not probe this machine (environment, packages, GPU): for support staff reading a user's log.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE.")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
              help="A folder of site rules (repeatable); also $NNUNET_DOCTOR_RULES.")
@click.option("--top", type=click.IntRange(min=1), help="Show at most N causes.")
@click.option("--explain", is_flag=True, help="Show why each rule fired: sub-conditions, facts and their sources.")
@click.option("-v", "--verbose", is_flag=True, help="Evidence and fix for every cause.")
@click.option("--bundle", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Diagnose from a bundle written by `diagnose collect` on the user's machine (implies --offline).")
@click.option("--redact", is_flag=True, help="Replace user and host names, home folders, IP addresses, secrets, "
                                             "dataset names and case identifiers in the report.")
@click.version_option(__version__, prog_name="nnunet-doctor")
@click.pass_context
def main(ctx: click.Context, logs: tuple[str, ...], dataset: str | None, results: Path | None, quick: bool,
         jobs: int, no_cache: bool, offline: bool,
         fmt: str, output: Path | None, rule_dirs: tuple[Path, ...], top: int | None, explain: bool,
         verbose: bool, bundle: Path | None, redact: bool) -> None:
    """Diagnose a failed nnU-Net v2 run: ranked root causes, their evidence, and the fix.

    Without arguments: check this machine and shell for nnU-Net (paths, installation, GPU, system).

    \b
    Examples:
      diagnose
      diagnose --log train.log --dataset Dataset003
      pbpaste | diagnose --log - --offline --format markdown
      diagnose collect -o bundle.json --log train.log      (on the user's machine)
      diagnose --bundle bundle.json                        (on the support machine)
      diagnose rules test
    """
    if ctx.invoked_subcommand is not None:
        return
    from .pipeline import DiagnosisRequest, run_diagnosis
    from .report import FOUND_THRESHOLD, build_report, render

    checkup = not (logs or dataset or results or offline or bundle) and fmt == "terminal"
    try:
        _check_log_paths(logs)
        from .inputs import check_folders, check_logs_read

        check_folders(dataset, results, bundle)
        request = DiagnosisRequest(logs=list(logs), stdin=_stdin() if "-" in logs else None, dataset=dataset,
                                   results=results, offline=offline or bundle is not None, rule_dirs=list(rule_dirs),
                                   bundle=bundle, options={"quick": quick, "jobs": jobs, "cache": not no_cache})
        result = run_diagnosis(request)
        check_logs_read(result)
        report = build_report(result, top)
        document, template = report, None
        from .checkup import build_checkup, machine_was_checked

        if checkup:
            document, template = build_checkup(result), "checkup.j2"
        elif machine_was_checked(result):
            report["checklist"] = build_checkup(result)
        redactor = None
        if redact:
            from .redaction import redact_document, this_machine

            redactor = this_machine()
            document = redact_document(document, redactor)
        text = render(document, fmt, color=_use_color(fmt, output), verbose=verbose, explain=explain,
                      template_name=template)
        if redactor is not None:
            from .redaction import check_text

            check_text(text, redactor)
        _write(text, output)
    except DoctorError as exc:
        raise _fail(exc) from None
    except Exception:  # the last line of defence: an internal error, never a bare traceback
        click.echo("diagnose: internal error (please report it):", err=True)
        click.echo(traceback.format_exc() if verbose else f"  {sys.exc_info()[1]!r} (use -v for the traceback)", err=True)
        ctx.exit(EXIT_INTERNAL)
    found = any(cause["certainty"] >= FOUND_THRESHOLD for cause in report["causes"])
    ctx.exit(EXIT_FOUND if found else EXIT_NOTHING_FOUND)


_rules_option = click.option("--rules", "rule_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
                             help="A folder of site rules (repeatable); also $NNUNET_DOCTOR_RULES.")


def _pack(rule_dirs: tuple[Path, ...]) -> Any:
    from .pipeline import load_pack

    try:
        return load_pack(list(rule_dirs))
    except RuleLoadError as exc:
        click.echo(exc.format(), err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from None


@main.group()
def rules() -> None:
    """List, check and test the rules."""


@rules.command("list")
@_rules_option
def rules_list(rule_dirs: tuple[Path, ...]) -> None:
    """Show every loaded rule, its cause and where it comes from."""
    pack = _pack(rule_dirs)
    for rule in sorted(pack.rules + pack.deprecated, key=lambda r: r.id):
        where = f"{rule.location.path}:{rule.location.line}" if rule.location else rule.origin
        cause = rule.cause or "(derives facts)"
        click.echo(f"{rule.id:<48} {cause:<32} {rule.status:<12} {where}")
    for rule_id, source in sorted(pack.disabled.items()):
        click.echo(f"{rule_id:<48} {'(disabled)':<32} {'':<12} {source}")


@rules.command("check")
@_rules_option
def rules_check(rule_dirs: tuple[Path, ...]) -> None:
    """Validate every rule file; print every problem as file:line:col."""
    pack = _pack(rule_dirs)
    click.echo(f"ok: {len(pack.rules)} rules, {len(pack.signatures)} signatures, {len(pack.vocabulary.specs)} facts, "
               f"{len(pack.catalog.causes)} causes (rule pack {pack.version})")


@rules.command("test")
@_rules_option
@click.argument("rule_ids", nargs=-1)
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
def rules_test(rule_dirs: tuple[Path, ...], rule_ids: tuple[str, ...], verbose: bool) -> None:
    """Run the tests every rule carries, and the healthy corpus (successful runs where no cause may reach
    medium certainty); print true/false positives/negatives per rule."""
    from .testing import check_healthy_corpus, run_rule_tests

    pack = _pack(rule_dirs)
    outcomes = run_rule_tests(pack, rule_ids or None)
    per_rule: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        counts = per_rule.setdefault(outcome.rule.id, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
        counts[outcome.kind] += 1
    failures = [o for o in outcomes if not o.passed]
    click.echo(f"{'rule':<48} {'TP':>3} {'FP':>3} {'FN':>3} {'TN':>3}")
    for rule_id, counts in sorted(per_rule.items()):
        bad = counts["fp"] or counts["fn"]
        if verbose or bad:
            click.echo(f"{rule_id:<48} {counts['tp']:>3} {counts['fp']:>3} {counts['fn']:>3} {counts['tn']:>3}"
                       + ("  FAILED" if bad else ""))
    for outcome in failures:
        where = f"{outcome.test.location}" if outcome.test.location else outcome.rule.id
        what = {"fn": "should fire but did not", "fp": "fired but should stay quiet"}.get(outcome.kind, "")
        click.echo(f"{where}: {outcome.rule.id}: test '{outcome.test.name}' {what}".rstrip())
        for finding in outcome.findings:
            click.echo(f"    {finding}")
    untested = [rule.id for rule in pack.rules if not rule.tests and (not rule_ids or rule.id in rule_ids)]
    total = len(outcomes)
    click.echo(f"{total - len(failures)}/{total} rule tests passed over {len(per_rule)} rules"
               + (f"; {len(untested)} rules without tests: {', '.join(untested)}" if untested else ""))
    alarms = []
    if not rule_ids:
        healthy = check_healthy_corpus(pack)
        alarms = [result for result in healthy if result.alarms]
        for alarm in alarms:
            found = ", ".join(f"{cause} {certainty:.2f} (rule {rule})" for cause, certainty, rule in alarm.alarms)
            click.echo(f"{alarm.path}: false alarm on a successful run: {found}")
        click.echo(f"healthy corpus: {len(healthy) - len(alarms)}/{len(healthy)} successful runs without a cause "
                   "at or above medium certainty")
    if failures or untested or alarms:
        raise click.exceptions.Exit(EXIT_FOUND)


@rules.command("docs")
@_rules_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (docs/rules.md).")
def rules_docs(rule_dirs: tuple[Path, ...], output: Path | None) -> None:
    """Generate the rule documentation (Markdown): every rule with its cause, signatures, fix and tests."""
    from .rule_docs import render_rule_docs

    try:
        _write(render_rule_docs(_pack(rule_dirs)), output)
    except DoctorError as exc:
        raise _fail(exc) from None


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default="nnunet-doctor-bundle.json",
              show_default=True, help="Where to write the bundle.")
@click.option("--log", "logs", multiple=True, metavar="FILE", help="A log to include (repeatable; '-' reads standard input).")
@click.option("--dataset", metavar="ID|NAME|PATH", help="The nnU-Net dataset to check.")
@click.option("--results", type=click.Path(path_type=Path), help="A trained-model folder to check.")
@_rules_option
@click.option("--redact-term", "terms", multiple=True, metavar="TEXT",
              help="Also replace TEXT (repeatable), e.g. a hospital or project name.")
@click.option("--no-redact", is_flag=True, help="Keep names, paths and identifiers as they are (for your own use only).")
def collect(output: Path, logs: tuple[str, ...], dataset: str | None, results: Path | None,
            rule_dirs: tuple[Path, ...], terms: tuple[str, ...], no_redact: bool) -> None:
    """Write a support bundle: this machine's facts, the log lines they point at, and the diagnosis made here.

    The bundle holds no image data and is redacted by default; a support person reads it with
    `diagnose --bundle FILE`, which gives the same diagnosis without looking at their own machine.
    """
    from nnunet_doctor.engine.diagnosis import diagnose

    from .bundle import build_bundle, write_bundle
    from .pipeline import DiagnosisRequest, gather_facts, load_pack, log_sources
    from .redaction import this_machine

    try:
        _check_log_paths(logs)
        from .inputs import check_folders

        check_folders(dataset, results, None)
        # the bundle quotes log lines after the probes read them: standard input is kept whole here
        texts = {"<stdin>": _stdin().read().decode("utf-8", errors="replace")} if "-" in logs else {}
        request = DiagnosisRequest(logs=[log for log in logs if log != "-"], log_texts=texts, dataset=dataset,
                                   results=results, rule_dirs=list(rule_dirs))
        pack = load_pack(list(rule_dirs))
        gathered = gather_facts(request, pack)
        probe_facts = list(gathered.facts)
        diagnosis = diagnose(pack, gathered.facts, list(gathered.findings))
        inputs = {"logs": list(request.logs) + list(texts), "dataset": dataset,
                  "results": str(results) if results else None}
        redactor = None if no_redact else this_machine(terms=terms)
        document = build_bundle(probe_facts, gathered.findings, gathered.reports, diagnosis, pack, inputs,
                                log_sources(request), redactor)
        write_bundle(document, output)
    except DoctorError as exc:
        raise _fail(exc) from None
    lines = sum(len(excerpt["lines"]) for excerpt in document["log_excerpts"])
    replaced = document["redaction"].get("replaced", {})
    click.echo(f"wrote {output}: {len(document['facts'])} facts, {lines} log lines, "
               f"{len(document['diagnosis'])} causes found here; "
               + (f"replaced: {', '.join(f'{n} {kind}' for kind, n in replaced.items()) or 'nothing personal found'}"
                  if redactor is not None else "NOT redacted"))
    click.echo(f"Send it to your support contact; they run: diagnose --bundle {output.name}")


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of the rule file format (for editors)."""
    from importlib import resources

    click.echo(resources.files("nnunet_doctor.engine").joinpath("rules.schema.json").read_text(encoding="utf-8"))
