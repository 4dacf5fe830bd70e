"""Command lines argparse refused, explained against the CLI index of every nnU-Net release.

argparse ends a refused command line with ``PROG: error: MESSAGE`` after a ``usage: PROG ...`` block::

    usage: nnUNetv2_predict [-h] -i I -o O -d D [-p P] [-tr TR] -c C [-f F [F ...]] [-step_size STEP_SIZE]
                            [--disable_tta] [--verbose] [--save_probabilities] [--continue_prediction] [-chk CHK]
    nnUNetv2_predict: error: unrecognized arguments: --save_npz

Each such line becomes a record of ``cli.errors``: the argparse message kind (``unrecognized``, ``invalid_type``,
``required``, ``invalid_choice``, ``expected_argument``, ``ambiguous``), the option concerned, and an
*explanation* from :mod:`nnunet_doctor.rules.cli_index`: the option exists only in newer (``newer_release``) or
older (``removed``) releases of that script, is accepted by every release (``every_release``: the refusal has
another reason), belongs to another command of the same release (``other_command``) or to the other major version
(``other_generation``, with the equivalent option), the argument expects an id where a name was given (``expects_id``), the arguments follow the
other major version's form (``other_form``), or no release knows it (``typo``, with the nearest option). The
user's release comes from the usage block (the releases whose parser has exactly the options it lists) or from a
version the log printed. Programs outside the index (wrappers such as TotalSegmentator) get ``wrapper``.

>>> reader = CliReader()
>>> from .scanner import Line
>>> reader.on_line(Line(3, "nnUNetv2_predict: error: unrecognized arguments: --save_npz", "a.log", frozenset({": error: "})))
>>> record = reader.records()[0]
>>> record["kind"], record["option"], record["explanation"], record["other_option"]
('unrecognized', '--save_npz', 'other_generation', '--save_probabilities')
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Iterable

from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.rules.cli_index import CliIndex, package_of, version_key

from .scanner import Line

#: lines a usage block may span after its first line
USAGE_LINES = 24
#: records kept; bounds memory on endless logs
MAX_ERRORS = 50
#: commands named for an option given to the wrong one
MAX_OTHER_COMMANDS = 4
_ERROR = r"^(?:.*?[\s/\\])?(?P<prog>[^\s/\\]+?)(?:\.exe|-script\.py)?: error: (?P<message>.+?)\s*$"
_USAGE = r"^\s*usage: (?:.*?[/\\])?(?P<prog>[\w.+-]+?)(?:\.exe|-script\.py)? (?P<rest>.*)$"
_KINDS = (
    ("unrecognized", r"^unrecognized arguments: (?P<tokens>.+)$"),
    ("invalid_type", r"^argument (?P<option>\S+): invalid (?P<type>\w+) value: '(?P<value>.*)'$"),
    ("required", r"^the following arguments are required: (?P<names>.+)$"),
    ("invalid_choice", r"^argument (?P<option>\S+): invalid choice: '(?P<value>.*?)'(?: \(choose from (?P<choices>.*)\))?$"),
    ("expected_argument", r"^argument (?P<option>\S+): expected (?P<count>.+?) arguments?$"),
    ("ambiguous", r"^ambiguous option: (?P<option>\S+?)(?:=\S*)? could match (?P<choices>.+)$"),
    ("one_required", r"^one of the arguments (?P<names>.+) is required$"),
    ("not_allowed", r"^argument (?P<option>\S+): not allowed with argument (?P<value>\S+)$"),
)
_DATASET_NAME = r"^(?P<kind>Dataset|Task)0*(?P<number>\d+)(?:_\w*)?$"
_CONFIGURATIONS = ("2d", "3d_fullres", "3d_lowres", "3d_cascade_fullres")
_V1_WORDS = r"^(?:Task\d+_\w+|nnUNetTrainerV2\w*|nnUNetPlansv2\.1)$"


def _program(prog: str) -> str:
    """argparse's prog as the console script it names (``run_training.py`` stays itself)."""
    return prog[:-4] if prog.lower().endswith(".exe") else prog


def _span(versions: list[str]) -> str:
    """``2.1.2–2.8.1`` (a release list as a range, oldest to newest)."""
    if not versions:
        return ""
    return versions[0] if len(versions) == 1 else f"{versions[0]}–{versions[-1]}"


class CliReader:
    """Reads ``usage:`` blocks and ``PROG: error:`` lines; see the module docstring."""

    def __init__(self, index: CliIndex | None = None) -> None:
        self._index = index
        self._usage: dict[str, list[str]] = {}  # program -> flags of its last usage block
        self._errors: list[tuple[str, str, Line, list[str] | None]] = []

    @property
    def index(self) -> CliIndex:
        if self._index is None:
            self._index = CliIndex.load()
        return self._index

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [(": error: ", False), ("usage: ", False)]

    def on_line(self, line: Line) -> None:
        usage = regex(_USAGE).match(line.text)
        if usage:
            block = [usage.group("rest")]
            for following in line.following(USAGE_LINES):
                if not following.startswith(" ") or ": error: " in following:
                    break
                block.append(following)
            flags = re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", " ".join(block))
            self._usage[_program(usage.group("prog"))] = [f for f in flags if f not in ("-h", "--help")]
            return
        found = regex(_ERROR).match(line.text)
        if found and len(self._errors) < MAX_ERRORS and any(regex(p).match(found.group("message")) for _, p in _KINDS):
            program = _program(found.group("prog"))
            self._errors.append((program, found.group("message"), line, self._usage.get(program)))

    def end_input(self, name: str, lines: int) -> None:
        pass

    def candidates(self, program: str, usage: list[str] | None) -> list[str]:
        """Releases of ``program`` whose parser has exactly the options of the usage block (none when no block).

        argparse's usage names each option by its first flag; a block cut short matches the releases that have
        at least the flags it shows.
        """
        if not usage:
            return []
        wanted = set(usage)
        shown = [(version, {o.flags[0] for o in parser.options if not o.positional} - {"-h", "--help"})
                 for version, parser in self.index.parsers(program)]
        return [v for v, flags in shown if flags == wanted] or [v for v, flags in shown if wanted <= flags]

    def records(self, versions: dict[str, str] | None = None,
                commands: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """One record per refused command line; ``versions``: package -> release the log printed."""
        out = []
        for program, message, line, usage in self._errors:
            if package_of(program) is None:  # a prog that is no console script (ArgumentParser(description) as prog)
                ran = [c["program"] for c in commands or [] if c.get("line", 0) <= line.number and package_of(c["program"])]
                program = ran[-1] if ran and not self.index.programs().get(program) else program
            fields = self.explain(program, message, usage, (versions or {}).get(package_of(program) or ""),
                                  [c for c in commands or [] if c.get("program") == program])
            fields.update({"line": line.number, "file": line.file, "text": line.text[:500]})
            out.append(fields)
        return out

    def explain(self, program: str, message: str, usage: list[str] | None = None, printed: str | None = None,
                commands: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The fields of one ``cli.errors`` record."""
        kind, parts = next(((k, regex(p).match(message)) for k, p in _KINDS if regex(p).match(message)))
        assert parts is not None
        groups = {k: v for k, v in parts.groupdict().items() if v is not None}
        package = package_of(program)
        history = self.index.parsers(program) if package else []
        fields: dict[str, Any] = {"program": program, "kind": kind, "message": message[:300],
                                  "indexed": bool(history), "package": package or ""}
        if not history:
            fields["explanation"] = "wrapper"
            fields["option"] = self._first_option(kind, groups) or ""
            return fields
        releases = [version for version, _ in history]
        candidates = self.candidates(program, usage)
        if printed and printed in releases and (not candidates or printed in candidates):
            candidates, fields["release_source"] = [printed], "version printed in the log"
        elif candidates:
            fields["release_source"] = "usage block"
        if candidates and len(candidates) < len(releases):
            fields["releases"] = _span(candidates)
            fields["release"] = candidates[-1]
        user = candidates[-1] if candidates else releases[-1]
        option = self._first_option(kind, groups)
        fields["option"] = option or ""
        if kind == "unrecognized":
            self._unrecognized(program, groups["tokens"], candidates, releases, user, fields, commands or [])
        elif kind == "invalid_type":
            fields["value"] = groups["value"][:200]
            named = regex(_DATASET_NAME).match(groups["value"])
            if groups["type"] == "int" and named:
                fields.update(explanation="expects_id", dataset_number=int(named.group("number")),
                              dataset_kind=named.group("kind"))
            else:
                fields["explanation"] = "wrong_type"
            fields["expected_type"] = groups["type"]
        elif kind == "required":
            names = [n.strip() for n in groups["names"].split(",")]
            fields["missing"] = names
            fields["explanation"] = self._other_form(program, commands or []) or "required"
        elif kind == "invalid_choice":
            fields["value"] = groups["value"][:200]
            self._choice(program, option or "", groups["value"], candidates, releases, fields)
        elif kind == "expected_argument":
            fields["explanation"] = "missing_value"
        else:
            fields["explanation"] = kind
        if fields["explanation"] in ("ambiguous", "required", "missing_value") and option:
            other = self.index.counterpart_option(program, option)
            if other is not None and not self.index.option_releases(program, option):
                fields.update(explanation="other_generation", other_program=other[0], other_option=other[1])
        if fields.get("explanation") in ("typo", "required", "missing_value", "ambiguous") and option:
            nearest = self.index.nearest(program, user, option)
            if nearest and nearest != option:
                fields["nearest"] = nearest
        return fields

    @staticmethod
    def _first_option(kind: str, groups: dict[str, str]) -> str | None:
        if "option" in groups:
            return groups["option"].split("/")[-1] if "/" in groups["option"] else groups["option"]
        if kind == "unrecognized":
            return next((t for t in _words(groups["tokens"]) if _is_option(t)), None)
        return None

    def _unrecognized(self, program: str, tokens: str, candidates: list[str], releases: list[str], user: str,
                      fields: dict[str, Any], commands: list[dict[str, Any]]) -> None:
        words = _words(tokens)
        options = [w for w in words if _is_option(w)]
        fields["tokens"] = " ".join(words)[:200]
        if not options:
            fields["explanation"] = self._other_form(program, commands, words) or "extra_positional"
            return
        option = options[0]
        having = self.index.option_releases(program, option)
        other = self.index.counterpart_option(program, option)
        if having:
            fields["since"], fields["until"] = having[0], having[-1]
            fields["option_releases"] = _span(having)
            newest = version_key(releases[-1])
            if len(having) == len(releases):  # no release lacks it: the refusal says nothing of the release
                fields["explanation"] = "every_release"
            elif candidates and all(version_key(c) < version_key(having[0]) for c in candidates):
                fields["explanation"] = "newer_release"
            elif candidates and all(version_key(c) > version_key(having[-1]) for c in candidates):
                fields["explanation"] = "removed"
            else:
                fields["explanation"] = "newer_release" if version_key(having[-1]) == newest else "removed"
        elif other is not None:
            fields["explanation"] = "other_generation"
            fields["other_program"], fields["other_option"] = other[0], other[1]
        elif elsewhere := self.index.programs_with_option(program, option):
            fields["explanation"], fields["other_program"] = "other_command", ", ".join(elsewhere[:MAX_OTHER_COMMANDS])
        else:
            fields["explanation"] = "typo"
            nearest = self.index.nearest(program, user, option)
            if nearest:
                fields["nearest"] = nearest

    def _other_form(self, program: str, commands: list[dict[str, Any]], words: list[str] | None = None) -> str | None:
        """``other_form`` when the command line follows the other major version's form."""
        given = list(words or [])
        for command in commands:
            given += _words(command.get("args", ""))
        counterpart = self.index.counterpart(program)
        positionals = [w for w in given if not _is_option(w)]
        if program.startswith("nnUNet_train") and len(positionals) >= 2 and positionals[1] in _CONFIGURATIONS \
                and positionals[0] not in _CONFIGURATIONS:
            return "other_form"  # v2's DATASET CONFIGURATION FOLD given to v1's CONFIGURATION TRAINER TASK FOLD
        if program == "nnUNetv2_train" and positionals and positionals[0] in _CONFIGURATIONS:
            return "other_form"  # v1's CONFIGURATION TRAINER TASK FOLD given to v2's DATASET CONFIGURATION FOLD
        if package_of(program) == "nnunetv2" and any(regex(_V1_WORDS).match(w) for w in given):
            return "other_form"
        if counterpart and any(_is_option(w) and self.index.counterpart_option(program, w) and
                               not self.index.option_releases(program, w) for w in given):
            return "other_form"
        return None

    def _choice(self, program: str, option: str, value: str, candidates: list[str], releases: list[str],
                fields: dict[str, Any]) -> None:
        accepting = [version for version, parser in self.index.parsers(program)
                     if (found := parser.option(option)) is not None and found.choices and value in map(str, found.choices)]
        if accepting:
            fields["since"], fields["until"], fields["option_releases"] = accepting[0], accepting[-1], _span(accepting)
            newer = not candidates or all(version_key(c) < version_key(accepting[0]) for c in candidates)
            fields["explanation"] = "newer_release" if newer else "removed"
            return
        fields["explanation"] = "invalid_choice"
        user = candidates[-1] if candidates else releases[-1]
        parser = self.index.parser(program, user)
        found = parser.option(option) if parser else None
        if found and found.choices:
            from rapidfuzz import process

            fields["choices"] = ", ".join(map(str, found.choices))[:300]
            best = process.extractOne(value, [str(c) for c in found.choices])
            if best and best[1] >= 60:
                fields["nearest"] = best[0]


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _is_option(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not re.match(r"^-\d", word)
