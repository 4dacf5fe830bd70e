"""An error is never "no known problem": what the report says about an error that no rule explains.

When a log holds an exception (or a catalog error message) and no cause reaches medium certainty, the diagnosis
gets an :class:`UnexplainedError`: the root exception, the package and releases whose code holds it (from the
message catalog, else from the innermost frame), the nearest catalog messages with the causes the rules bind
them to, and what to send next. Those causes join the ranking as low-certainty candidates, always below every
cause a rule concluded::

    RuntimeError: Unable to locate trainer class nnUNetTrainerX in nnunetv2.training.nnUNetTrainer. ...

-> raised by nnunetv2 2.5.1–2.7.0 (inference/predict_from_raw_data.py:103); candidate
``install.trainer_not_found`` (the same message in 2.8's wording is a known trainer lookup failure).
"""
from __future__ import annotations

from typing import Any

from msgspec import Struct, field, structs

from nnunet_doctor.engine.chaining import Firing
from nnunet_doctor.engine.conditions import Condition, Literal
from nnunet_doctor.engine.diagnosis import Diagnosis, RankedCause
from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.engine.evaluation import Evaluation
from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import LOG
from nnunet_doctor.engine.rules import Rule

#: the strongest a candidate from a catalog message can be: low, whatever the similarity
CANDIDATE_CERTAINTY = 0.3
#: token_sort_ratio from which a catalog message is "near" an unexplained error
NEAREST_CUTOFF = 55.0
MAX_NEAREST = 5
#: similarity given to a message raised in the innermost frame's function, or elsewhere in its file, when the
#: traceback was cut before its exception line
CALLED_SCORE, SAME_FUNCTION_SCORE, SAME_FILE_SCORE = 80.0, 70.0, 60.0
_CALLED = r"([A-Za-z_]\w*)\s*(?:\(|$)"
MAX_CANDIDATES = 3
_PACKAGE_IN_PATH = (r"(?:^|[/\\])(nnunetv2|nnunet|batchgeneratorsv2|batchgenerators|acvl_utils"
                    r"|dynamic_network_architectures|torch|numpy|SimpleITK|scipy|skimage|blosc2)[/\\]")
_RULE_ID = "catalog.nearest_message"
_COMPANION_RULE_ID = "catalog.companion_library_error"
#: the libraries nnU-Net is released with (versions made for each other): an error raised inside one of them, called
#: from nnU-Net's code, that nothing explains most often comes from a release of it nnU-Net was not made for
COMPANIONS = ("batchgenerators", "batchgeneratorsv2", "acvl_utils", "dynamic_network_architectures", "blosc2")
#: the certainty of that candidate: below every nearest-message candidate
COMPANION_CERTAINTY = 0.15


class NearMessage(Struct):
    message: str
    package: str
    releases: str
    source: str
    score: float
    causes: list[str]


class UnexplainedError(Struct):
    type: str
    message: str
    text: str
    file: str
    line: int
    package: str | None
    releases: str | None
    source: str | None
    complete: bool
    frames: int
    nearest: list[NearMessage] = field(default_factory=list)
    send_next: list[str] = field(default_factory=list)
    #: what the error most likely means when the knowledge says it without a cause (a refused command line: the
    #: option meant, from the CLI index of every release)
    hint: str | None = None
    #: raised inside one of nnU-Net's companion libraries, called from nnU-Net's own frames
    in_companion: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "text": self.text, "file": self.file, "line": self.line,
                "package": self.package, "releases": self.releases, "source": self.source,
                "complete": self.complete, "frames": self.frames,
                "nearest": [structs.asdict(near) for near in self.nearest], "send_next": list(self.send_next),
                "hint": self.hint}


def _value(diagnosis: Diagnosis, name: str) -> Any:
    fact = diagnosis.facts.get(name)
    return fact.value if fact is not None and fact.known else None


def _error(diagnosis: Diagnosis) -> tuple[dict[str, Any], list[Record]] | None:
    """The error the log holds (root exception, else a catalog error message) and the catalog records of its line."""
    messages: list[Record] = _value(diagnosis, "catalog.messages") or []
    root = _value(diagnosis, "log.root_exception")
    if root:
        if not root.get("type") and not root.get("frames"):
            return None
        at_line = [r for r in messages if r.fields["line"] == root.get("line") and r.fields["file"] == root.get("file")]
        return dict(root), at_line
    errors = [r for r in messages if r.fields["problem"] and r.fields["kind"] in ("raise", "assert")]
    if not errors:
        return None
    first = errors[0].fields
    error = {"type": first["type"], "message": first["text"], "text": first["text"], "file": first["file"],
             "line": first["line"], "frames": 0, "complete": True, "frame_files": []}
    return error, [r for r in errors if r.fields["line"] == first["line"]]


def _explains(cause: RankedCause, error: dict[str, Any]) -> bool:
    """Does a cause cite the error: a log line (or fact) of its traceback, from its header to its exception line?"""
    first = error.get("traceback_line") or error.get("line") or 0
    last = error.get("line") or 0
    for item in cause.evidence:
        lines = item.provenance.lines
        if lines and item.provenance.file == error.get("file") and lines[0] <= last and lines[-1] >= first:
            return True
    return False


def _refused_command(diagnosis: Diagnosis) -> UnexplainedError | None:
    """A command line argparse refused that no cause of medium certainty cites: what it most likely meant."""
    for record in _value(diagnosis, "cli.errors") or []:
        fields = record.fields
        error = {"file": fields["file"], "line": fields["line"]}
        if any(_explains(cause, error) for cause in diagnosis.found):
            continue
        package = fields.get("package") or None
        unexplained = UnexplainedError(
            "usage error", str(fields.get("message", "")), str(fields.get("text", "")), str(fields["file"]),
            int(fields["line"]), package, fields.get("option_releases") or fields.get("releases"),
            None, True, 0, hint=cli_hint(fields))
        unexplained.send_next = [f"the command you ran, exactly as typed (with its line breaks)",
                                 f"the output of `{fields['program']} -h` in the environment that ran it"]
        if package:
            unexplained.send_next.append(f"the output of `pip show {package}`")
        return unexplained
    return None


def cli_hint(fields: dict[str, Any]) -> str | None:
    """What a refused command line most likely meant, from the explanation of its ``cli.errors`` record.

    >>> cli_hint({"program": "nnUNetv2_train", "explanation": "typo", "option": "--npzz", "nearest": "--npz"})
    'nnUNetv2_train has no option --npzz in any release: did you mean --npz?'
    """
    program, option, explanation = fields.get("program", ""), fields.get("option", ""), fields.get("explanation")
    nearest = fields.get("nearest")
    mean = f": did you mean {nearest}?" if nearest else ""
    if explanation in ("typo", "ambiguous"):
        return f"{program} has no option {option} in any release{mean}" if explanation == "typo" else \
            f"{option} is the start of several options of {program} ({fields.get('message', '')}){mean}"
    if explanation == "other_command":
        return f"{option} is an option of {fields.get('other_program')}, not of {program}: was it given to the wrong command?"
    if explanation == "every_release":
        return (f"every release of {program} accepts {option} ({fields.get('option_releases', '')}): argparse "
                f"refused the line for another reason: the words around it (a value without its option, an unquoted "
                f"path with spaces, a typographic dash, a line break without \\), or another program of that name")
    if explanation == "invalid_choice":
        choices = f" (it takes {fields['choices']})" if fields.get("choices") else ""
        return f"{option} does not take {fields.get('value')!r}{choices}{mean}"
    if explanation == "wrong_type":
        return f"{option} takes a value of type {fields.get('expected_type')}, not {fields.get('value')!r}"
    if explanation in ("required", "one_required"):
        return f"{program} needs {', '.join(fields.get('missing') or []) or 'more arguments'}{mean}"
    if explanation == "missing_value":
        return f"{option} needs a value after it{mean}"
    if explanation == "extra_positional":
        return (f"{program} did not expect {fields.get('tokens', '')!r}: a value whose option is missing or "
                f"misspelled, or an unquoted path with spaces")
    return None


def find_unexplained(diagnosis: Diagnosis) -> UnexplainedError | None:
    """The log's error when no cause of medium certainty cites it, with the nearest catalog messages and causes
    (or a refused command line, with what it most likely meant)."""
    found = _error(diagnosis)
    if found is None:
        return _refused_command(diagnosis)
    error, at_line = found
    if any(_explains(cause, error) for cause in diagnosis.found):
        return None
    from nnunet_doctor.rules.catalog import Binding, MessageCatalog

    catalog = MessageCatalog.load()
    binding = Binding(catalog, diagnosis.pack)
    package = releases = source = None
    in_frames = {m.group(1) for path in error.get("frame_files") or []
                 for m in regex(_PACKAGE_IN_PATH).finditer(path)}
    generations = _value(diagnosis, "log.generations") or []
    # the same message in several packages (v1 and v2 share many): the one the frames, else the log, point at
    at_line.sort(key=lambda r: (r.fields["package"] not in in_frames,
                                r.fields["package"] != ("nnunet" if generations == ["v1"] else "nnunetv2")))
    if at_line:
        best = at_line[0].fields
        package, releases, source = best["package"], best["release_range"], best["source"]
    else:
        for path in reversed(error.get("frame_files") or []):
            match = list(regex(_PACKAGE_IN_PATH).finditer(path))
            if match:
                package = match[-1].group(1)
                break
    text = f"{error['type']}: {error['message']}" if error.get("type") else error.get("text", "")
    nearest: list[NearMessage] = []
    seen: set[str] = set()
    scored = [(catalog.entries[r.fields["entry"]], float(r.fields["score"])) for r in at_line]
    if error.get("message"):
        scored += [(m.entry, m.score) for m in catalog.nearest(error["message"], limit=MAX_NEAREST * 3,
                                                                cutoff=NEAREST_CUTOFF)]
    elif error.get("last_frame"):
        frames = [r.fields for r in _value(diagnosis, "catalog.frame_code") or []
                  if r.fields["file"] == error.get("file") and r.fields["line"] <= (error.get("line") or 0)]
        code = max(frames, key=lambda f: f["line"])["code"] if frames else ""
        generations = _value(diagnosis, "log.generations") or []
        generation_package = {"v1": "nnunet", "v2": "nnunetv2"}.get(generations[0]) if len(generations) == 1 else None
        scored += _raised_near(catalog, binding, str(error["last_frame"]), error.get("last_frame_function") or "",
                               code, generation_package)
    for entry, score in scored:
        if entry.text in seen or len(nearest) >= MAX_NEAREST:
            continue  # the same message in several files is one message
        seen.add(entry.text)
        nearest.append(NearMessage(entry.text, entry.package, entry.release_range, f"{entry.file}:{entry.line}",
                                   round(score, 1), binding.causes(entry)))
    unexplained = UnexplainedError(
        error.get("type") or "", error.get("message") or "", error.get("text") or text, error.get("file") or "",
        int(error.get("line") or 0), package, releases, source, bool(error.get("complete", True)), int(error.get("frames") or 0),
        nearest)
    unexplained.in_companion = package in COMPANIONS and bool(in_frames & {"nnunetv2", "nnunet"})
    unexplained.send_next = _send_next(diagnosis, unexplained)
    return unexplained


def _raised_near(catalog: Any, binding: Any, path: str, function: str, code: str,
                 generation_package: str | None) -> list[tuple[Any, float]]:
    """A traceback cut before its exception line: the messages of the functions the innermost frame's code calls
    (a name cut by the paste matches as a prefix), then of its own function, then of its file, in the package of
    the frame (else of the log's nnU-Net generation); only those a rule binds to a cause::

        File ".../nnunetv2/run/run_training.py", line 196, in run_training
          nnunet_trainer = get_trainer_from_a          -> messages of get_trainer_from_args
    """
    called = [name for name in regex(_CALLED).findall(code) if len(name) >= 4]
    normalised = path.replace("\\", "/")
    packages = [m.group(1) for m in regex(_PACKAGE_IN_PATH).finditer(normalised)]
    package = packages[-1] if packages else generation_package

    def score(entry: Any) -> float:
        name = entry.function.rsplit(".", 1)[-1]
        if any(name.startswith(c) for c in called):
            return CALLED_SCORE
        if not normalised.endswith("/" + entry.file):
            return 0.0
        return SAME_FUNCTION_SCORE if name == function else SAME_FILE_SCORE

    found = [(entry, score(entry)) for entry in catalog if entry.problem and entry.package == package]
    found = [(entry, value) for entry, value in found if value and binding.causes(entry)]
    return sorted(found, key=lambda item: (-item[1], item[0].index))


def _send_next(diagnosis: Diagnosis, error: UnexplainedError) -> list[str]:
    """What would let the rules decide: the inputs this log lacks."""
    out: list[str] = []
    if not error.complete or error.frames == 0:
        out.append("the whole traceback: every line from 'Traceback (most recent call last):' to the error line")
    if not _value(diagnosis, "log.commands"):
        out.append("the command you ran, with all its options")
    if _value(diagnosis, "nnunet.version") is None:
        generation = _value(diagnosis, "nnunet.generation")
        v1 = generation == "v1" or (generation is None and error.package == "nnunet")
        out.append("the output of `pip show nnunet` (nnU-Net v1)" if v1 else
                   "the output of `pip list` (the versions of nnunetv2, torch and their libraries)")
    out.append("the complete console output of the failing command, from its first line")
    return out


def add_candidates(diagnosis: Diagnosis, error: UnexplainedError) -> None:
    """The causes of the nearest catalog messages as low-certainty candidates, ranked below every fired cause."""
    ceiling = min((cause.certainty for cause in diagnosis.causes), default=1.0)
    ranked = {cause.cause for cause in diagnosis.causes}
    best: dict[str, NearMessage] = {}
    for near in error.nearest:  # closest first; a message's own causes in the order the rules give them
        for cause in near.causes:
            if cause not in ranked and (cause not in best or best[cause].score < near.score):
                best[cause] = near
    order = list(best)
    chosen = sorted(best.items(), key=lambda item: (-item[1].score, order.index(item[0])))[:MAX_CANDIDATES]
    if error.in_companion and not chosen and "install.dependency_mismatch" not in ranked:
        _add_candidate(diagnosis, error, "install.dependency_mismatch", min(COMPANION_CERTAINTY, ceiling - 0.01),
                       _COMPANION_RULE_ID, f"Raised inside {error.package}, called from nnU-Net",
                       _companion_fix(error), f"unexplained error inside {error.package}, called from nnU-Net")
    for position, (cause, near) in enumerate(chosen):
        # strictly below the candidate before it: the order chosen is the order shown
        certainty = min(CANDIDATE_CERTAINTY * near.score / 100 - 0.001 * position, ceiling - 0.01 * (position + 1))
        if certainty <= 0:
            break
        _add_candidate(diagnosis, error, cause, certainty, _RULE_ID, f"Nearest known message: {near.message[:90]}",
                       _fix(error, near, cause),
                       f"unexplained error; nearest catalog message {near.package} {near.releases} {near.source}")


def _add_candidate(diagnosis: Diagnosis, error: UnexplainedError, cause: str, certainty: float, rule_id: str,
                   title: str, fix: str, detail: str) -> None:
    """One low-certainty candidate cause for the unexplained error, with the error line as its evidence."""
    entry = diagnosis.pack.catalog.get(cause)
    phase = entry.phase if entry else "environment"
    rule = Rule(id=rule_id, title=title, cause=cause, phase=phase, severity="info", certainty=round(certainty, 4),
                status="experimental", when=Condition("the log's error is near a catalog message", Literal((0, 0), True)),
                fix=fix)
    record = Record({"text": error.text[:600], "line": error.line, "file": error.file},
                    Provenance(LOG, error.file, (error.line, error.line), detail))
    evaluation = Evaluation(True, frozenset(), witnesses={"log.root_exception": [record]})
    firing = Firing(rule, {}, evaluation, rule.fix)
    description = entry.description if entry else cause
    diagnosis.causes.append(RankedCause(cause, description, phase, rule.certainty, [firing]))


def _companion_fix(error: UnexplainedError) -> str:
    name = (error.package or "").replace("_", "-")
    lines = [f"No rule explains {error.type or 'the error'}, raised inside {error.package} where nnU-Net's code calls it.",
             f"nnU-Net is released with versions of its companion libraries made for it; an error inside one of them",
             f"most often means a release of {error.package} that the installed nnU-Net was not made for. Compare",
             f"  pip show nnunetv2 {name}",
             f"with the requirement nnunetv2 declares (pip check lists conflicts), and reinstall them together:",
             f"  pip install --upgrade --force-reinstall nnunetv2",
             "To settle it, send:"]
    lines += [f"  - {item}" for item in error.send_next]
    return "\n".join(lines)


def _fix(error: UnexplainedError, near: NearMessage, cause: str) -> str:
    where = f" (from {error.package} {error.releases})" if error.package and error.releases else ""
    lines = [f"No rule explains {error.type or 'the error'}{where}. The nearest known message, "
             f"{near.package} {near.releases} {near.source} (similarity {near.score:.0f}%):",
             f"  {near.message[:200]}",
             f"is a sign of {cause}. Check that first; to settle it, send:"]
    lines += [f"  - {item}" for item in error.send_next]
    return "\n".join(lines)


def with_candidates(diagnosis: Diagnosis) -> UnexplainedError | None:
    """Find the unexplained error of a diagnosis and add its candidates (None: nothing unexplained)."""
    error = find_unexplained(diagnosis)
    if error is not None:
        add_candidates(diagnosis, error)
    return error

