"""Log lines against the message catalog of every release: which message each line is, from which releases.

A user pastes one line as often as a whole traceback, from any release since 2.0 (or v1), wrapped or cut by the
terminal. This reader keeps the lines that look like a message (bounded), and at the end of the scan looks them up
in the catalog (:mod:`nnunet_doctor.rules.catalog`, loaded only then)::

    RuntimeError: Unable to locate trainer class nnUNetTrainerX in nnunetv2.training.nnUNetTrainer. Please place it

is nnunetv2's ``nnUNetPredictor.initialize_from_trained_model_folder`` (releases 2.5.1–2.7.0), truncated. It gives:

- ``catalog.messages``: each recognised line with its catalog entry (package, kind, type, source, releases);
- a record in ``match.<signature>`` when the rule pack's signature for that message saw no line of the log (a
  reworded message of another release, bound through its sibling; a wrapped or truncated line): the rules
  written for the message fire on every release's wording (signatures that capture values are left alone:
  their rules need the values);
- ``catalog.nnunet_releases``: the nnU-Net releases consistent with every release-specific message seen;
- ``catalog.python_unsupported``: the Python version the log shows is outside ``requires-python`` of every
  release the log allows.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import LOG
from nnunet_doctor.engine.signatures import SignatureSet

from ..base import FactSink
from .scanner import Line, Sighting

if TYPE_CHECKING:
    from nnunet_doctor.rules.catalog import CatalogMatch, MessageCatalog

#: lines kept for the catalog: the first ones, then only lines that name an error; bounds time on endless logs
MAX_LINES = 300
MAX_ERROR_LINES = 200
MAX_TEXT = 600
#: traceback frames whose quoted code is kept (the last ones)
MAX_FRAMES = 50
#: literal characters a recognised message line needs before it stands for a signature the log did not show
MIN_INJECTED_LITERAL = 20
_ANCHORS = ("error", "exception", "not ", "warn", "must", "please", "cannot", "unable", "fail", "invalid", "expect",
            "only ", "mismatch", "should", "missing", "unknown", "could", "wrong", "support", "no ", "assert",
            "deprecat")
_ERROR_WORDS = ("error", "exception", "assert", "fail")
_NNUNET = ("nnunetv2", "nnunet")


class CatalogReader:
    def __init__(self, signatures: SignatureSet):
        self.signatures = signatures
        self.lines: list[tuple[int, str, str]] = []  # (number, file, text)
        self.frame_code: dict[tuple[str, int], str] = {}  # (file, line of a traceback frame) -> the code it quotes
        self._errors = 0

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [(word, True) for word in _ANCHORS] + [('File "', False)]

    def on_line(self, line: Line) -> None:
        text = line.text.strip()
        if text.startswith('File "'):
            code = line.following(1)
            if code and code[0][:1].isspace() and not code[0].strip().startswith(("File ", "Traceback")):
                self.frame_code[(line.file, line.number)] = code[0].strip()[:MAX_TEXT]
                while len(self.frame_code) > MAX_FRAMES:
                    del self.frame_code[next(iter(self.frame_code))]
            return
        if len(text) < 8 or text.startswith("File ") or len(text) > 4 * MAX_TEXT:
            return
        if len(self.lines) < MAX_LINES:
            self.lines.append((line.number, line.file, text))
        elif self._errors < MAX_ERROR_LINES and any(word in text.lower() for word in _ERROR_WORDS):
            self._errors += 1
            self.lines.append((line.number, line.file, text))

    def spent(self) -> tuple[str, ...]:
        """The message words once the kept lines are full (the error words too once those are full)."""
        if len(self.lines) < MAX_LINES:
            return ()
        if self._errors < MAX_ERROR_LINES:
            return tuple(word for word in _ANCHORS if word not in _ERROR_WORDS)
        return _ANCHORS

    def end_input(self, name: str, lines: int) -> None:
        pass

    def _captures(self, signature_id: str) -> bool:
        """Does the signature capture values? Its rules use them; a line it did not read has none to give."""
        signature = next((s for s in self.signatures if s.id == signature_id), None)
        return signature is None or bool(signature.regex and signature.regex.group_names)

    def facts(self, sink: FactSink, matches: dict[str, list[Record]], versions: dict[str, Sighting],
              pythons: dict[str, Sighting], packages: list[Record]) -> None:
        """Look the kept lines up, add the facts, and complete ``matches`` (the signature reader's records)."""
        installed = {record.fields["name"] for record in packages}
        for record in packages:
            if record.fields["name"] in _NNUNET:
                fields = record.fields
                sink.add("log.nnunet_install", {"package": fields["name"], "root": fields["root"],
                                                "kind": install_kind(fields["root"], fields["kind"]),
                                                "python": fields["python"]}, record.provenance)
                break
        if not self.lines and not pythons and not self.frame_code:
            return
        from nnunet_doctor.rules.catalog import MessageCatalog, bound_signatures

        catalog = MessageCatalog.load()
        records: list[Record] = []
        seen = {(r.fields["file"], r.fields["line"]) : name for name, found in matches.items() for r in found}
        bound: dict[int, list[str]] = {}
        for number, file, text in self.lines:
            found = catalog.find(text)
            if not found:
                continue
            best = [m for m in found if m.score == found[0].score]
            provenance = Provenance(LOG, file, (number, number), "catalog message")
            for match in best[:3]:
                gone = match.entry.problem and match.entry.removed_in is not None
                records.append(Record({
                    **_fields(match, number, file, text),
                    "reworded": gone and catalog.reworded_later(match.entry),
                    "bound": bool(bound_signatures(catalog, match.entry, self.signatures)[0]) if gone else None},
                    provenance))
            if (file, number) in seen:
                continue  # a signature already read this line
            for match in best:
                if sum(char.isalnum() for char in match.piece) < MIN_INJECTED_LITERAL:
                    continue
                if match.entry.index not in bound:
                    bound[match.entry.index] = bound_signatures(catalog, match.entry, self.signatures, by_anchor=False)[0]
                for signature in bound[match.entry.index]:
                    name = f"match.{signature}"
                    if name in matches and not matches[name] and not self._captures(signature):
                        detail = (f"catalog: {match.entry.package} {match.entry.release_range} "
                                  f"{match.entry.file}:{match.entry.line} (signature {signature})")
                        matches[name].append(Record({"line": number, "file": file, "text": text[:MAX_TEXT],
                                                     "score": match.score}, Provenance(LOG, file, (number, number),
                                                                                       detail)))
        if records:
            sink.add("catalog.messages", records)
        if self.frame_code:
            sink.add("catalog.frame_code", [{"file": file, "line": number, "code": code}
                                            for (file, number), code in self.frame_code.items()])
        _releases(sink, catalog, records, versions, pythons, installed)


_CONDA = re.compile(r"[/\\](?:envs[/\\][^/\\]+|anaconda\d?|miniconda\d?|miniforge\d?|mambaforge|conda)[/\\]", re.I)
_VENV = re.compile(r"[/\\](?:\.?venv[^/\\]*|\.?virtualenvs[/\\][^/\\]+|[^/\\]*-env|env)[/\\]", re.I)


def install_kind(root: str, kind: str) -> str:
    """How nnU-Net was installed, from where its code lies (the log reader's ``kind`` of the install path).

    >>> install_kind("/home/u/miniconda3/envs/seg/lib/python3.10/site-packages", "environment")
    'conda'
    >>> install_kind("/home/u/nnUNet", "source"), install_kind("/home/u/.local/lib/python3.10/site-packages", "user")
    ('editable', 'user')
    """
    if kind == "source" or "__editable__" in root:
        return "editable"
    if kind == "user":
        return "user"
    if _CONDA.search(root + "/"):
        return "conda"
    if _VENV.search(root + "/"):
        return "venv"
    return "system"


def _fields(match: "CatalogMatch", number: int, file: str, text: str) -> dict[str, Any]:
    entry = match.entry
    return {"line": number, "file": file, "text": text[:MAX_TEXT], "score": match.score, "entry": entry.index,
            "package": entry.package, "kind": entry.kind, "type": entry.type, "message": entry.text[:MAX_TEXT],
            "source": f"{entry.file}:{entry.line}", "function": entry.function, "releases": list(entry.releases),
            "release_range": entry.release_range, "first": entry.releases[0], "last": entry.releases[-1],
            "removed_in": entry.removed_in, "added_in": entry.added_in, "specific": entry.specific,
            "problem": entry.problem}


def _releases(sink: FactSink, catalog: "MessageCatalog", records: list[Record], versions: dict[str, Sighting],
              pythons: dict[str, Sighting], installed: set[str]) -> None:
    """The nnU-Net releases every exact release-specific message allows, and Python against their requirements.

    ``installed``: the packages the log's paths show; when it names nnunet or nnunetv2, only that one is narrowed
    (v1 and v2 share many messages)."""
    shown = installed & set(_NNUNET)
    allowed: dict[str, set[str]] = {}
    lines: dict[str, list[int]] = {}
    for record in records:
        fields = record.fields
        if (fields["package"] in (shown or _NNUNET)) and fields["specific"] and fields["score"] >= 100:
            releases = set(fields["releases"])
            narrowed = allowed.get(fields["package"], releases) & releases
            if narrowed:  # messages that disagree (two installs, a copied snippet) do not narrow to nothing
                allowed[fields["package"]] = narrowed
                lines.setdefault(fields["package"], []).append(fields["line"])
    for package, releases in allowed.items():
        file = records[0].fields["file"]
        ordered = [r for r in catalog.releases[package] if r in releases]
        provenance = Provenance(LOG, file, (min(lines[package]), max(lines[package])),
                                f"{package} messages only these releases print")
        sink.add("catalog.nnunet_releases", ordered, provenance)
        sink.add("catalog.nnunet_release_range", _range_text(catalog, package, ordered), provenance)
        break
    python = max(pythons.values(), key=lambda e: len(e.value)) if pythons else None
    if python is None:
        return
    for package in _NNUNET:
        if shown and package not in shown:
            continue
        version = versions.get(package if package == "nnunetv2" else "nnunet")
        if package == "nnunetv2" and version is None:
            version = versions.get("nnunet") if (versions.get("nnunet") or Sighting("", 0, "")).value.startswith("2") else None
        candidates = ([version.value.split("+")[0]] if version is not None else sorted(allowed.get(package, ())))
        requirements = catalog.requires_python.get(package, {})
        if not candidates or any(requirements.get(c) is None for c in candidates):
            continue
        if not any(_satisfies(python.value, str(requirements[c])) for c in candidates):
            sink.add("catalog.python_unsupported",
                     {"python": python.value, "package": package,
                      "releases": _range_text(catalog, package, candidates),
                      "requires": sorted({str(requirements[c]) for c in candidates})},
                     Provenance(LOG, python.file, (python.line, python.line),
                                f"Python from the log; requires-python of {package} from its sdists"))
            return


def _range_text(catalog: "MessageCatalog", package: str, releases: list[str]) -> str:
    from nnunet_doctor.rules.catalog import _describe_releases

    known = catalog.releases[package]
    return _describe_releases(tuple(r for r in known if r in releases), known)


def _satisfies(python: str, requirement: str) -> bool:
    """Does a Python version (``3.8`` or ``3.8.10``) meet ``>=3.9`` / ``>=3.10,<3.13``?"""
    from nnunet_doctor.engine.versions import VersionRange

    try:
        return VersionRange(requirement.replace(" ", "")).contains(python)
    except Exception:
        return True  # a requirement we cannot read never concludes anything
