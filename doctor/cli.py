"""The ``diagnose`` command line.

Exit codes: 0 nothing found (no cause reaches medium certainty), 1 causes found, 2 usage or input error
(including invalid rule files), 3 internal error, 4 the log holds an error that no rule explains (no cause reaches
medium certainty; the report names the error and what to send next).
"""
from __future__ import annotations

import atexit
import gc
import io
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from nnunet_doctor import __version__
from nnunet_doctor.engine.errors import DoctorError, InputError, RuleLoadError

if TYPE_CHECKING:
    from nnunet_doctor.engine.pack import RulePack
from .output import FORMAT_ALIASES, FORMATS, output_format

EXIT_NOTHING_FOUND, EXIT_FOUND, EXIT_USAGE, EXIT_INTERNAL, EXIT_UNEXPLAINED = 0, 1, 2, 3, 4


def _width(width: int | None) -> int:
    """--width, else the terminal's width ($COLUMNS when not a terminal), else 100 columns."""
    import shutil

    return width or shutil.get_terminal_size((100, 24)).columns


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
    return sys.stdout is not None and sys.stdout.isatty()


def _stdin() -> BinaryIO:
    """Standard input as a byte stream, read while it is scanned (never whole)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stdin (embedded interpreters)
        return io.BytesIO(sys.stdin.read().encode("utf-8", errors="replace"))
    return stream  # type: ignore[no-any-return]


def _spool(stream: BinaryIO) -> BinaryIO:
    """``stream`` copied into a temporary file (deleted when closed), read from its start."""
    import shutil
    import tempfile

    from nnunet_doctor.probes.log.reader import MAX_LOG_BYTES

    copy = tempfile.TemporaryFile()
    shutil.copyfileobj(io.BufferedReader(_Limited(stream, MAX_LOG_BYTES)), copy, 1 << 20)  # type: ignore[arg-type]
    copy.seek(0)
    return copy  # type: ignore[return-value]


class _Limited(io.RawIOBase):
    def __init__(self, stream: BinaryIO, limit: int):
        super().__init__()
        self._stream, self._left = stream, limit

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left)) if self._left > 0 else b""
        buffer[:len(data)] = data
        self._left -= len(data)
        return len(data)

    def readable(self) -> bool:
        return True


def _lasting_pack(ctx: click.Context, rule_dirs: list[Path]) -> "RulePack":
    """The rule pack of this command, with everything start-up made (modules, the pack) put out of the cyclic
    garbage collector's sight until the command ends (``gc.freeze``): these objects last the whole command, and the
    collector's passes over them, paid in the middle of the diagnosis and again at exit, freed nothing while they
    cost about a sixth of a log-only run (docs/performance.md). The collector pauses while the pack is read. When
    the command ends, the objects go back to the collector (a command run in-process, as tests do, leaks nothing);
    at the exit of the process they are frozen again, sparing the last full pass."""
    from .pipeline import load_pack

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return load_pack(rule_dirs)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
        ctx.call_on_close(gc.unfreeze)
        atexit.unregister(gc.freeze)  # registered once, however many commands run in this process
        atexit.register(gc.freeze)


def _check_log_paths(logs: tuple[str, ...]) -> None:
    """Every --log must be readable before anything runs: one line naming the first one that is not."""
    from nnunet_doctor.probes.log.reader import check_readable

    if logs.count("-") > 1:
        raise InputError("-: standard input can be read only once")
    for log in logs:
        if log != "-":
            check_readable(Path(log), log)


def _write(text: str, output: Path | None, inputs: tuple[str, ...] = ()) -> None:
    if output is None:
        _echo_report(text)
        return
    from .output import write_output

    write_output(text, output, inputs)


def _echo_report(text: str) -> None:
    """The report on standard output; a closed or full standard output is an error of one line (exit 2), and a
    reader that went away (``| head``) ends the run quietly."""
    if sys.stdout is None:
        raise InputError("standard output is closed; write the report to a file with -o FILE")
    try:
        click.echo(text, nl=not text.endswith("\n"))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        raise InputError(f"cannot write the report to standard output: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Point file descriptor 1 at the null device, so that the interpreter's last flush does not fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


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
@click.option("--format", "fmt", type=click.Choice(FORMATS + tuple(FORMAT_ALIASES)),
              help="Report format (md = markdown); default: from the --output extension, else terminal.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE (.md, .html, .json pick the format).")
@click.option("--width", type=click.IntRange(min=40), metavar="COLUMNS",
              help="Fold terminal output to COLUMNS (default: the terminal's width).")
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
         fmt: str | None, output: Path | None, width: int | None, rule_dirs: tuple[Path, ...], top: int | None, explain: bool,
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
    from .report import build_report, render

    fmt = output_format(fmt, output)
    checkup = not (logs or dataset or results or offline or bundle) and fmt == "terminal"
    try:
        _check_log_paths(logs)
        from .inputs import check_folders, check_logs_read

        check_folders(dataset, results, bundle)
        request = DiagnosisRequest(logs=list(logs), stdin=_stdin() if "-" in logs else None, dataset=dataset,
                                   results=results, offline=offline or bundle is not None, rule_dirs=list(rule_dirs),
                                   bundle=bundle, options={"quick": quick, "jobs": jobs, "cache": not no_cache})
        result = run_diagnosis(request, _lasting_pack(ctx, request.rule_dirs))
        check_logs_read(result)
        report = build_report(result, top)
        document, template = report, None
        from .checkup import build_checkup, machine_was_checked

        if checkup:
            document, template = build_checkup(result), "checkup.j2"
        elif machine_was_checked(result):
            report["machine"] = build_checkup(result)
        redactor = None
        if redact:
            from .redaction import learn_personal_facts, redact_document, this_machine

            redactor = this_machine()
            learn_personal_facts(redactor, result.diagnosis.pack.vocabulary, result.diagnosis.facts)
            document = redact_document(document, redactor)
        text = render(document, fmt, color=_use_color(fmt, output), verbose=verbose, explain=explain,
                      template_name=template, width=_width(width))
        if redactor is not None:
            from .redaction import check_text

            check_text(text, redactor)
        _write(text, output, logs + tuple(str(p) for p in (results, bundle) if p is not None))
        if output is not None:
            click.echo(f"wrote the {fmt} report to {output}", err=True)
    except DoctorError as exc:
        raise _fail(exc) from None
    except Exception:  # the last line of defence: an internal error, never a bare traceback
        click.echo("diagnose: internal error (please report it):", err=True)
        click.echo(traceback.format_exc() if verbose else f"  {sys.exc_info()[1]!r} (use -v for the traceback)", err=True)
        ctx.exit(EXIT_INTERNAL)
    found = report["summary"]["found"]
    unsettled = report["unexplained"] or report["summary"]["incomplete"]  # an error no rule explains, a crashed probe
    ctx.exit(EXIT_FOUND if found else EXIT_UNEXPLAINED if unsettled else EXIT_NOTHING_FOUND)


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
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True,
              help="Exit 1 when a validator reports an issue of this severity or worse.")
@click.option("--skip", "skipped", multiple=True, metavar="VALIDATOR", help="Switch a validator off (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_check(rule_dirs: tuple[Path, ...], fail_on: str, skipped: tuple[str, ...], fmt: str) -> None:
    """Validate every rule file (errors as file:line:col), then lint the pack: every validator's issues with
    their severity (`--skip NAME` switches one off; `diagnose rules check --format json` lists them all)."""
    from nnunet_doctor.engine.errors import Location
    from nnunet_doctor.engine.validators import ISSUE_SEVERITIES, VALIDATORS, validate

    pack = _pack(rule_dirs)
    try:
        issues = validate(pack, skip=skipped)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--skip") from None
    worst = ISSUE_SEVERITIES[: ISSUE_SEVERITIES.index(fail_on) + 1]
    failing = [issue for issue in issues if issue.severity in worst]
    counts = {severity: sum(1 for i in issues if i.severity == severity) for severity in ISSUE_SEVERITIES}
    summary = (f"{len(pack.rules)} rules, {len(pack.signatures)} signatures, {len(pack.vocabulary.specs)} facts, "
               f"{len(pack.catalog.causes)} causes (rule pack {pack.version})")
    if fmt == "json":
        click.echo(json.dumps({"ok": not failing, "summary": summary, "counts": counts,
                               "validators": {name: {"severity": cls.severity, "description": cls.description}
                                              for name, cls in sorted(VALIDATORS.items()) if name not in skipped},
                               "issues": [issue.as_dict() for issue in issues]}, indent=2))
    else:
        click.echo(("ok: " if not failing else f"{len(failing)} issues at or above {fail_on}: ") + summary + "; "
                   + ", ".join(f"{severity} {count}" for severity, count in counts.items()))
        for issue in sorted(issues, key=lambda i: (ISSUE_SEVERITIES.index(i.severity), i.location or Location("", 0, 0))):
            click.echo(issue.format())
    if failing:
        raise click.exceptions.Exit(EXIT_FOUND)


@rules.command("test")
@_rules_option
@click.argument("rule_ids", nargs=-1)
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_test(rule_dirs: tuple[Path, ...], rule_ids: tuple[str, ...], verbose: bool, fmt: str) -> None:
    """Run the tests every rule carries, and the healthy corpus (successful runs where no cause may reach
    medium certainty). Failures come first; then true/false positives/negatives per rule and known misses (todo)."""
    from .testing import check_healthy_corpus, run_rule_tests

    pack = _pack(rule_dirs)
    outcomes = run_rule_tests(pack, rule_ids or None)
    per_rule: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        counts = per_rule.setdefault(outcome.rule.id, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
        counts[outcome.kind] += 1
    failures = [o for o in outcomes if not o.passed]
    todo = [o for o in outcomes if o.state == "todo"]
    untested = [rule.id for rule in pack.rules if not rule.tests and (not rule_ids or rule.id in rule_ids)]
    healthy = check_healthy_corpus(pack) if not rule_ids else []
    alarms = [result for result in healthy if result.alarms]
    if fmt == "json":
        click.echo(json.dumps({
            "ok": not (failures or untested or alarms), "passed": len(outcomes) - len(failures), "total": len(outcomes),
            "failures": [o.as_dict() for o in failures], "todo": [o.as_dict() for o in todo],
            "rules": per_rule, "untested": untested,
            "healthy": [{"path": str(r.path), "alarms": [list(a) for a in r.alarms]} for r in healthy]}, indent=2))
        if failures or untested or alarms:
            raise click.exceptions.Exit(EXIT_FOUND)
        return
    for outcome in failures:
        where = f"{outcome.test.location}" if outcome.test.location else outcome.rule.id
        explained = outcome.explain()
        first = explained[0] if explained else ""
        joint = " " if first.startswith(("should fire", "fired but")) else ": "
        click.echo(f"{where}: {outcome.rule.id}: test '{outcome.test.name}'{joint}{first}".rstrip())
        for line in explained[1:]:
            click.echo("    " + line.replace("\n", "\n    "))
    for alarm in alarms:
        found = ", ".join(f"{cause} {certainty:.2f} (rule {rule})" for cause, certainty, rule in alarm.alarms)
        click.echo(f"{alarm.path}: false alarm on a successful run: {found}")
    if failures or verbose:
        click.echo(f"{'rule':<48} {'TP':>3} {'FP':>3} {'FN':>3} {'TN':>3}")
    for rule_id, counts in sorted(per_rule.items()):
        bad = counts["fp"] or counts["fn"]
        if verbose or bad:
            click.echo(f"{rule_id:<48} {counts['tp']:>3} {counts['fp']:>3} {counts['fn']:>3} {counts['tn']:>3}"
                       + ("  FAILED" if any(o.rule.id == rule_id for o in failures) else "  todo" if bad else ""))
    for outcome in todo:
        click.echo(f"{outcome.test.location or outcome.rule.id}: {outcome.rule.id}: test '{outcome.test.name}' is a "
                   f"known miss (todo: {outcome.test.todo})")
    total = len(outcomes)
    click.echo(f"{total - len(failures)}/{total} rule tests passed over {len(per_rule)} rules"
               + (f" ({len(todo)} known misses)" if todo else "")
               + (f"; {len(untested)} rules without tests: {', '.join(untested)}" if untested else ""))
    if not rule_ids:
        click.echo(f"healthy corpus: {len(healthy) - len(alarms)}/{len(healthy)} successful runs without a cause "
                   "at or above medium certainty")
    if failures or untested or alarms:
        raise click.exceptions.Exit(EXIT_FOUND)


@rules.command("coverage")
@_rules_option
@click.option("--unbound", is_flag=True, help="List the messages no rule binds (problems only).")
@click.option("--package", "packages", multiple=True, help="Only these packages (repeatable).")
def rules_coverage(rule_dirs: tuple[Path, ...], unbound: bool, packages: tuple[str, ...]) -> None:
    """How much of the message catalog of every release the rules bind to a cause: bound, informational
    (progress a rule does not need) and unbound messages per package and release."""
    from nnunet_doctor.rules.catalog import MessageCatalog, coverage

    result = coverage(MessageCatalog.load(), _pack(rule_dirs))
    click.echo(f"{'package':<30} {'release':<10} {'bound':>6} {'info':>6} {'unbound':>8}")
    for package, release, bound, informational, left in result.rows():
        if not packages or package in packages:
            click.echo(f"{package:<30} {release:<10} {bound:>6} {informational:>6} {left:>8}")
    if unbound:
        for entry in result.unbound:
            if not packages or entry.package in packages:
                click.echo(f"{entry.package} {entry.release_range} {entry.file}:{entry.line} {entry.type}: "
                           f"{entry.text[:160]!r}")


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


@rules.command("facts")
@_rules_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (docs/facts.md).")
def rules_facts(rule_dirs: tuple[Path, ...], output: Path | None) -> None:
    """Generate the facts reference (Markdown): every fact a rule can name, its type, unit, probe and readers."""
    from .rule_docs import render_fact_docs

    try:
        _write(render_fact_docs(_pack(rule_dirs)), output)
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
        # the bundle quotes log lines after the probes read them: standard input is spooled to a temporary file
        # (bounded memory), which is read again for the excerpts
        spooled = _spool(_stdin()) if "-" in logs else None
        request = DiagnosisRequest(logs=list(logs), stdin=spooled, dataset=dataset, results=results,
                                   rule_dirs=list(rule_dirs))
        pack = load_pack(list(rule_dirs))
        gathered = gather_facts(request, pack)
        probe_facts = list(gathered.facts)
        diagnosis = diagnose(pack, gathered.facts, list(gathered.findings))
        inputs = {"logs": ["<stdin>" if log == "-" else log for log in logs], "dataset": dataset,
                  "results": str(results) if results else None}
        redactor = None if no_redact else this_machine(terms=terms)
        document = build_bundle(probe_facts, gathered.findings, gathered.reports, diagnosis, pack, inputs,
                                log_sources(request), redactor)
        write_bundle(document, output, logs + tuple(str(p) for p in (results,) if p is not None))
    except DoctorError as exc:
        raise _fail(exc) from None
    lines = sum(len(excerpt["lines"]) for excerpt in document["log_excerpts"])
    replaced = document["redaction"].get("replaced", {})
    click.echo(f"wrote {output}: {len(document['facts'])} facts, {lines} log lines, "
               f"{len(document['diagnosis'])} causes found here; "
               + (f"replaced: {', '.join(f'{n} {kind}' for kind, n in replaced.items()) or 'nothing personal found'}"
                  if redactor is not None else "NOT redacted"))
    click.echo(f"Send it to your support contact; they run: diagnose --bundle {output.name}")


@rules.command("migrate")
@_rules_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--write", is_flag=True, help="Rewrite the files (else only say what would change).")
def rules_migrate(rule_dirs: tuple[Path, ...], paths: tuple[Path, ...], write: bool) -> None:
    """Rewrite rule files into the short format: no redundant cause/phase/status, the macros instead of pasted
    expressions, one-line tests (fire: / quiet:). PATHS default to the built-in rules and every --rules folder."""
    from nnunet_doctor.engine.pack import builtin_rules_dir

    from .output import write_output
    from .rule_migration import migrate

    builtin = builtin_rules_dir().resolve()
    site = rule_dirs or tuple(p for p in paths if p.is_dir() and p.resolve() != builtin)  # a folder named: its rules
    changes = migrate(_pack(site), list(paths) or [builtin, *rule_dirs])
    for change in changes:
        if write:
            write_output(change.text, change.path, what="rule file")
        click.echo(f"{change.path}: {change.before} -> {change.after} lines{'' if write else ' (not written)'}")
    before, after = sum(c.before for c in changes), sum(c.after for c in changes)
    click.echo(f"{len(changes)} files {'rewritten' if write else 'to rewrite'}: {before} -> {after} lines")


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of the rule file format (for editors)."""
    from importlib import resources

    click.echo(resources.files("nnunet_doctor.engine").joinpath("rules.schema.json").read_text(encoding="utf-8"))


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--from", "listing", type=click.File("r"), metavar="FILE",
              help="Read input paths from FILE, one a line ('-': standard input).")
@_rules_option
@click.option("--top", type=click.IntRange(min=1), help="Keep at most N causes per report.")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Write the JSON lines to FILE.")
def batch(inputs: tuple[Path, ...], listing: Any, rule_dirs: tuple[Path, ...], top: int | None, output: Any) -> None:
    """Diagnose many logs or bundles in one process: one JSON line per input (its report, or its error).

    An input is a log (.gz/.bz2/.xz too), a fold or results folder, or a bundle from `diagnose collect`; any
    other folder stands for the inputs in it. Exit code 0 when every input was diagnosed, 2 when some could not
    be read (their lines say why).

    \b
    Examples:
      diagnose batch tickets/ > reports.jsonl
      find export -name '*.log' | diagnose batch --from -
    """
    from .batch import run_batch

    paths = list(inputs) + ([Path(line.strip()) for line in listing if line.strip()] if listing else [])
    if not paths:
        raise _Failure("batch: no input (name files or folders, or --from FILE)", EXIT_USAGE)
    tally = run_batch(paths, _pack(rule_dirs), output, top)
    click.echo(f"diagnose batch: {tally.diagnosed} diagnosed, {tally.failed} not readable, "
               f"in {tally.seconds:.1f} s", err=True)
    if tally.failed:
        raise click.exceptions.Exit(EXIT_USAGE)


def _default_desk_db() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nnunet-doctor" / "desk.sqlite"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8650, show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The history database (SQLite; created on first start). [default: "
                   "$XDG_DATA_HOME/nnunet-doctor/desk.sqlite]")
@_rules_option
@click.option("--token", envvar="NNUNET_DOCTOR_TOKEN", metavar="TEXT",
              help="Require this token on the pages and the API (also $NNUNET_DOCTOR_TOKEN).")
@click.option("--store-raw", is_flag=True, help="Keep inputs as given instead of redacted.")
@click.option("--retention-days", type=click.IntRange(min=0), default=90, show_default=True,
              help="Delete diagnoses older than this (0: keep everything).")
@click.option("--max-request-mb", type=click.IntRange(min=1), default=50, show_default=True, help="Largest request.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Seconds one diagnosis may take.")
@click.option("--workers", type=click.IntRange(min=1), default=min(4, os.cpu_count() or 1), show_default=True,
              help="Diagnoses running at the same time (one process each).")
def serve(host: str, port: int, db: Path | None, rule_dirs: tuple[Path, ...], token: str | None, store_raw: bool,
          retention_days: int, max_request_mb: int, timeout: float, workers: int) -> None:
    """The support desk: a web page to paste a log into, the history of diagnoses, and a JSON API.

    Needs the `serve` extra (pip install "nnunet-doctor[serve]"). Open http://127.0.0.1:8650/ .
    """
    try:
        from .serve.app import DeskConfig, exposure_warning, serve as run_server
    except ImportError as exc:
        raise _Failure(f"serve: {exc.name} is not installed; pip install \"nnunet-doctor[serve]\"", EXIT_USAGE) from None
    pack = _pack(rule_dirs)  # invalid site rules stop here, reported as file:line:col
    db = db or _default_desk_db()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Failure(f"{db.parent}: cannot create the history folder: {exc.strerror or exc}", EXIT_USAGE) from None
    warning = exposure_warning(host, token)
    if warning:
        click.echo(f"diagnose serve: {warning}", err=True)
    config = DeskConfig(db=db, rule_dirs=list(rule_dirs), token=token or None, store_raw=store_raw,
                        retention_days=retention_days, max_request_bytes=max_request_mb << 20, timeout=timeout,
                        workers=workers, causes={cause: entry.description for cause, entry in pack.catalog.causes.items()})
    click.echo(f"nnunet-doctor desk: http://{'[' + host + ']' if ':' in host else host}:{port}/  history {db}, "
               f"rule pack {pack.version}", err=True)
    run_server(config, host, port)
