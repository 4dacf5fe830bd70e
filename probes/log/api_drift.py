"""API drift: import, attribute, call and plans-key errors explained against the API index of every release.

A single pasted line is often all there is::

    TypeError: resize_segmentation() got an unexpected keyword argument 'cval'

The index (:mod:`nnunet_doctor.rules.api_index`) knows that ``batchgenerators.augmentations.utils.resize_segmentation``
takes ``cval`` in batchgenerators 0.18.1-0.21 only, and that nnunet 1.0-1.6.6 pass it: two installed packages
disagree (``install.dependency_mismatch``), and ``pip install "batchgenerators>=0.18.1,<0.23"`` (or a newer nnunet)
makes them agree (the record holds the requirement; the fix quotes it for the user's shell). When the traceback
shows the failing call in the user's own file (a custom trainer), the verdict is ``custom_code`` instead. numpy, torch and SimpleITK names come from a table written from their release
notes (``rules/knowledge/library_changes.yml``).

The reader only collects candidate lines; the index is loaded (once) only when one of them is in the log, so a
log without such an error costs nothing. Each explained error becomes an ``api.drift`` record.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Iterator

from msgspec import Struct, field

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.engine.sources import LOG

from ..base import FactSink
from .scanner import Line

#: errors explained per log (the first ones); bounds the work on endless logs
MAX_ERRORS = 20
_TEXT = 2000
_PATTERNS = {
    "import_name": r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'",
    "module": r"No module named '(?P<module>[\w.]+)'",
    "module_attribute": r"module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'",
    "object_attribute": r"'(?P<owner>\w+)' object has no attribute '(?P<name>\w+)'",
    "keyword": r"(?P<function>[\w.]+)\(\) got an unexpected keyword argument '(?P<name>\w+)'",
    "positional": r"(?P<function>[\w.]+)\(\) takes (?:from (?P<low>\d+) to )?(?P<high>\d+) positional "
                  r"arguments? but (?P<given>\d+) (?:was|were) given",
    "missing_argument": r"(?P<function>[\w.]+)\(\) missing \d+ required (?:positional|keyword-only) "
                        r"arguments?: (?P<name>.*)",
    "plans_key": r"KeyError: '(?P<name>\w+)'",
}
_ANCHORS = ("cannot import name", "No module named", "has no attribute", "unexpected keyword argument",
            "positional argument", "required keyword-only argument", "KeyError: '", "import ", "raise AttributeError(")
_QUOTED_IMPORT = r"^\s+from (?P<module>[\w.]+) import \(?(?P<names>[\w, ]+)"
_FRAME_LINE = r'File "[^"]+", line \d+|\.py", line \d+'
_PLANS_CONTEXT = r"plans_handl|plans_manager|configuration_manager|ConfigurationManager|PlansManager"
#: a traceback frame in a package's module-level ``__getattr__`` (numpy's, torch's: they raise for a missing name)
_MODULE_GETATTR_FRAME = r'[/\\](?P<top>[A-Za-z_]\w*)[/\\]__init__\.py", line \d+, in __getattr__'
_ATTRIBUTE_ACCESS = r"\b(?P<alias>[A-Za-z_]\w*)\.(?P<name>[A-Za-z_]\w*)\b"
#: the names code commonly gives a module it accesses attributes of
_MODULE_ALIASES = {"np": "numpy", "numpy": "numpy", "torch": "torch", "sitk": "SimpleITK", "SimpleITK": "SimpleITK"}
_SITE = r"[/\\](?:site|dist)-packages[/\\](?:[^/\\]+\.egg[/\\])?(?P<top>[A-Za-z_]\w*)"


class _Error(Struct):
    kind: str
    groups: dict[str, str]
    line: int
    file: str
    text: str
    context: str  # the code before the message on its line, and the line before
    framed: bool = True  # the frames or code around it say where it comes from (a plans key: the plans code)


class ApiErrorReader:
    """Collects the error lines the resolver can explain (cheap: no index is read here)."""

    def __init__(self) -> None:
        self.errors: list[_Error] = []
        self.quoted_imports: dict[tuple[str, int], tuple[str, list[str]]] = {}
        #: a cut traceback's last quoted line ``raise AttributeError(`` in a module's ``__getattr__``: the module and
        #: the attribute the frame before it accesses
        self.quoted_attributes: dict[tuple[str, int], tuple[str, str]] = {}

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [(word, False) for word in _ANCHORS]

    def on_line(self, line: Line) -> None:
        text = line.text
        if "import " in line.hits:
            quoted = regex(_QUOTED_IMPORT).match(text)
            if quoted and regex(_FRAME_LINE).search(line.previous()):
                names = [n.strip() for n in quoted.group("names").split(",") if n.strip()]
                self.quoted_imports[(line.file, line.number)] = (quoted.group("module"), names)
        if "raise AttributeError(" in line.hits and text[:1].isspace():
            accessed = _module_attribute_accessed(line)
            if accessed is not None:
                self.quoted_attributes[(line.file, line.number)] = accessed
        if len(self.errors) >= MAX_ERRORS or text[:1].isspace() and regex(_FRAME_LINE).search(line.previous()):
            return
        for kind, source in _PATTERNS.items():
            match = regex(source).search(text)
            if match is None:
                continue
            context = text[:match.start()] + "\n" + line.previous()
            framed = kind != "plans_key" or bool(
                regex(_PLANS_CONTEXT).search(context + "\n" + "\n".join(_before(line, 3))))
            if not framed and not (_compound(match.group("name")) and not text[:match.start()].strip()):
                continue
            self.errors.append(_Error(kind, {k: v for k, v in match.groupdict().items() if v is not None},
                                      line.number, line.file, text[:_TEXT], context, framed))
            return

    def end_input(self, name: str, lines: int) -> None:
        pass

    def facts(self, sink: FactSink, exceptions: list[Record]) -> None:
        """Resolve the collected errors against the index (loaded here, only when there is something to explain).

        The resolver is knowledge lookup on top of the log probe: should it fail, the probe's other facts stand and
        the failure becomes a note of the report.
        """
        cut = [e for e in exceptions if not e.fields["complete"]]
        self.errors = [e for e in self.errors if _may_explain(e)]
        if not self.errors and not (cut and (self.quoted_imports or self.quoted_attributes)):
            return
        try:
            records = self._resolve(Resolver.default(), exceptions, cut)
        except Exception as error:  # noqa: BLE001 - any failure of the lookup must not lose the log's facts
            sink.note(f"the API-drift resolver failed ({type(error).__name__}: {error}); import and call errors "
                      "are not explained against the API index", "warning")
            return
        if records:
            sink.add("api.drift", records)

    def _resolve(self, resolver: "Resolver", exceptions: list[Record], cut: list[Record]) -> list[Record]:
        records: list[Record] = []
        frames = {(e.fields["file"], e.fields["line"]): e for e in exceptions}
        for error in self.errors:
            exception = frames.get((error.file, error.line))
            caller = _innermost_file(_calling_frames(exception.fields["frame_files"], error)) \
                if exception is not None else None
            records.extend(_record(found, error) for found in resolver.explain(error, caller))
        for exception in cut:
            where = (exception.fields["file"], exception.fields["line"])
            accessed = self.quoted_attributes.get(where)
            if accessed is not None:
                module, name = accessed
                error = _Error("module_attribute", {"module": module, "name": name}, exception.fields["line"],
                               exception.fields["file"], f"{module}.{name}", "")
                callers = exception.fields["frame_files"][:-1]  # the frame that accessed it, not __getattr__'s
                records.extend(_record(found, error, cut_traceback=True)
                               for found in resolver.explain(error, _innermost_file(callers)))
            quoted = self.quoted_imports.get(where)
            if quoted is None or exception.fields["last_frame"] is None:
                continue
            module, names = quoted
            for name in names:
                error = _Error("import_name", {"name": name, "module": module}, exception.fields["line"],
                               exception.fields["file"], f"from {module} import {name}", "")
                records.extend(_record(found, error, cut_traceback=True)
                               for found in resolver.explain(error, exception.fields["last_frame"]))
        return records


#: top-level modules the index or the change table knows
_KNOWN_TOPS = frozenset({"nnunetv2", "nnunet", "batchgenerators", "batchgeneratorsv2", "acvl_utils",
                         "dynamic_network_architectures", "numpy", "torch", "SimpleITK"})


def _calling_frames(frame_files: list[str], error: _Error) -> list[str]:
    """The frames that may have made the failing access: for a module's missing attribute, not the module's own
    innermost frames (numpy's and torch's module-level ``__getattr__`` raise it themselves)."""
    module = error.groups.get("module") if error.kind == "module_attribute" else None
    if not module:
        return frame_files
    inside = re.compile(rf"[/\\]{re.escape(module.split('.')[0])}[/\\]")
    end = len(frame_files)
    while end > 0 and inside.search(frame_files[end - 1]):
        end -= 1
    return frame_files[:end] or frame_files


def _module_attribute_accessed(line: Line) -> tuple[str, str] | None:
    """For a quoted ``raise AttributeError(`` in a package's module-level ``__getattr__`` (a traceback cut before
    its exception line), the package and the attribute the frame before accessed (``np.isdtype``):
    the code line quoted under that frame, past Python 3.11's ``^^^^`` markers."""
    before = _before(line, 5)
    frame = regex(_MODULE_GETATTR_FRAME).search(before[0]) if before else None
    if frame is None:
        return None
    top = frame.group("top")
    for text in before[1:]:
        if regex(_FRAME_LINE).search(text):
            return None
        if not text.strip() or set(text.strip()) <= {"^", "~"}:
            continue
        for access in regex(_ATTRIBUTE_ACCESS).finditer(text):
            if _MODULE_ALIASES.get(access.group("alias")) == top:
                return top, access.group("name")
        return None
    return None


def _compound(key: str) -> bool:
    """A key named like a program's identifier (``conv_kernel_sizes``, ``UNet_class_name``, ``numTraining``), not a
    word that many dictionaries use (``eps``, ``affine``, ``strides``): a ``KeyError`` on it alone, with no frame
    or code to say which dictionary, can be read as a plans key.

    >>> [_compound(k) for k in ("conv_kernel_sizes", "UNet_class_name", "arch_kwargs", "eps", "architecture")]
    [True, True, True, False, False]
    """
    core = key.strip("_")
    return "_" in core or any(c.isupper() for c in core[1:])


def _may_explain(error: _Error) -> bool:
    """Could the index or the table know this name? (``No module named 'hiddenlayer'`` never loads the index.)"""
    module = error.groups.get("module")
    return module is None or module.split(".")[0] in _KNOWN_TOPS


def _innermost_file(frame_files: list[str]) -> str | None:
    """The innermost frame that is a file (not ``<__array_function__ internals>`` or ``<string>``)."""
    return next((path for path in reversed(frame_files) if not path.startswith("<")), None)


def _before(line: Line, count: int) -> list[str]:
    """Up to ``count`` lines before ``line`` in its block."""
    out: list[str] = []
    start = line.start
    while start > 0 and len(out) < count:
        end = start - 1
        start = line.block.rfind(b"\n", 0, end) + 1
        out.append(bytes(line.block[start:end]).decode("utf-8", "replace"))
    return out


# ---------------------------------------------------------------- the resolver

class Finding(Struct):
    """One error explained: what is missing, where it exists, who calls it, and what makes them agree."""

    kind: str
    name: str
    library: str
    qualified: str
    change: str
    works_with: str  # pip requirement of the library that has what the caller needs
    caller: str  # a package, "your code", or "" (unknown)
    caller_releases: str
    verdict: str  # dependency_mismatch | custom_code
    basis: str  # frames | callers | name
    alternative: str = ""  # pip requirement of a newer caller that no longer makes the failing call
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class _Sig(Struct):
    positional: list[str]
    required: set[str]
    keywords: set[str]
    varargs: bool
    varkw: bool

    @classmethod
    def parse(cls, text: str) -> "_Sig":
        positional: list[str] = []
        required: set[str] = set()
        keywords: set[str] = set()
        varargs = varkw = star = False
        for part in filter(None, text.split(",")):
            if part == "/":
                continue
            if part.startswith("**"):
                varkw = True
                continue
            if part.startswith("*"):
                varargs, star = part != "*", True
                continue
            name, has_default = part.split("=", 1)[0], "=" in part
            keywords.add(name)
            if not has_default:
                required.add(name)
            if not star:
                positional.append(name)
        return cls(positional, required, keywords, varargs, varkw)

    def max_positional(self) -> float:
        return math.inf if self.varargs else len(self.positional)

    def accepts(self, kind: str, groups: dict[str, Any]) -> bool:
        if kind == "keyword":
            return groups["name"] in self.keywords or self.varkw
        if kind == "positional":
            return self.max_positional() >= int(groups["given"])
        if kind == "missing_argument":
            return not (set(re.findall(r"'(\w+)'", groups["name"])) & self.required)
        return True

    def matches_failure(self, kind: str, groups: dict[str, Any]) -> bool:
        """Is this the signature that produced the message (the installed one)?"""
        if kind == "positional":
            low = int(groups.get("low") or groups["high"])
            required = sum(1 for p in self.positional if p in self.required)
            return self.max_positional() == int(groups["high"]) and required == low
        return not self.accepts(kind, groups)


class _Library(Struct):
    """Releases of one library and how to name a subset of them as a pip requirement."""

    name: str
    releases: list[str]

    def spec(self, members: set[int]) -> str:
        if not members:
            return ""
        runs = _runs(sorted(members))
        parts = []
        for first, last in runs:
            low = f">={self.releases[first]}"
            high = f",<{self.releases[last + 1]}" if last + 1 < len(self.releases) else ""
            parts.append(low + high)
        return parts[-1]  # the newest range that works

    def span_text(self, members: set[int]) -> str:
        return ", ".join(self.releases[a] if a == b else f"{self.releases[a]}-{self.releases[b]}"
                         for a, b in _runs(sorted(members)))


def _runs(members: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in members:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _members(spans: str) -> set[int]:
    out: set[int] = set()
    for part in spans.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


_DISTRIBUTIONS = {"acvl_utils": "acvl-utils", "dynamic_network_architectures": "dynamic-network-architectures"}


def _owner(path: str | None, known_modules: dict[str, set[str]]) -> str | None:
    """Who wrote the code in a traceback frame: an indexed or other package, or the user (``"user"``)."""
    if not path:
        return None
    site = regex(_SITE).search(path)
    top = site.group("top") if site else None
    if top is None:
        top = next((t for t in known_modules if re.search(rf"[/\\]{t}[/\\]", path)), None)
        if top is None:
            return "user"
    if top in known_modules:  # a file placed inside an nnU-Net checkout or install is not nnU-Net's own
        module = re.split(rf"[/\\]{top}[/\\]", path.replace("\\", "/"), maxsplit=1)[-1][:-3].replace("/", ".")
        module = f"{top}.{module}".removesuffix(".__init__")
        if module not in known_modules[top]:
            return "user"
    return top


class Resolver:
    """Answers, for one error, which library and releases define the name and who calls it in the failing form."""

    _default: "Resolver | None" = None

    def __init__(self, index: dict[str, Any], changes: dict[str, list[dict[str, Any]]]):
        self.packages: dict[str, dict[str, Any]] = index["packages"]
        self.libraries = {name: _Library(name, data["releases"]) for name, data in self.packages.items()}
        self.changes = changes
        self.modules = {name: set(data["modules"]) for name, data in self.packages.items()}

    @classmethod
    def default(cls) -> "Resolver":
        if cls._default is None:
            from nnunet_doctor.rules import api_index

            index = api_index.load()
            cls._default = cls(index, index["changes"])
        return cls._default

    # ------------------------------------------------------------------------------------------------
    def explain(self, error: _Error, caller_path: str | None) -> list[Finding]:
        handler = {"import_name": self._import_name, "module": self._module, "module_attribute": self._attribute,
                   "object_attribute": self._object_attribute, "plans_key": self._plans_key}.get(error.kind,
                                                                                                  self._call)
        owner = _owner(caller_path, self.modules)
        return list(handler(error, owner))[:3]

    def _verdict(self, library: str, owner: str | None, callers: dict[str, set[int]]) -> tuple[str, str, str]:
        """(verdict, caller, basis) from the frames when they name the caller, else from the index's callers."""
        if owner == "user":
            return "custom_code", "your code", "frames"
        if owner is not None and owner != library:
            return "dependency_mismatch", owner, "frames"
        if owner == library:
            return "custom_code", f"code inside {library}", "frames"
        others = {p: s for p, s in callers.items() if p != library}
        if others:
            return "dependency_mismatch", sorted(others)[0], "callers"
        if library in ("nnunetv2", "nnunet"):
            return "custom_code", "", "name"
        return "dependency_mismatch", "", "name"

    def _finding(self, error: _Error, library: str, qualified: str, works: set[int], callers: dict[str, set[int]],
                 owner: str | None, change: str, **extra: Any) -> Finding:
        verdict, caller, basis = self._verdict(library, owner, callers)
        lib = self.libraries[library]
        requirement = _DISTRIBUTIONS.get(library, library) + lib.spec(works)
        caller_text, alternative = "", ""
        calling = callers.get(caller) if caller in callers else None
        if calling and caller in self.libraries:
            other = self.libraries[caller]
            caller_text = f"{caller} {other.span_text(calling)}"
            fine = set(range(len(other.releases))) - calling
            newer = {i for i in fine if i > max(calling)}
            if newer and verdict == "dependency_mismatch":
                alternative = _DISTRIBUTIONS.get(caller, caller) + other.spec(newer)
        return Finding(error.kind, error.groups.get("name") or error.groups.get("module", ""), library, qualified,
                       change, requirement, caller, caller_text, verdict, basis, alternative,
                       f"API index: {library} {lib.releases[0]}-{lib.releases[-1]}", extra)

    def _table_finding(self, error: _Error, library: str, entry: dict[str, Any], works: str,
                       callers: dict[str, set[int]], owner: str | None) -> Finding:
        verdict, caller, basis = self._verdict(library, owner, callers)
        caller_text, alternative = "", ""
        calling = callers.get(caller)
        if calling and caller in self.libraries:
            other = self.libraries[caller]
            caller_text = f"{caller} {other.span_text(calling)}"
            newer = {i for i in range(len(other.releases)) if i > max(calling)}
            if newer and verdict == "dependency_mismatch":
                alternative = _DISTRIBUTIONS.get(caller, caller) + other.spec(newer)
        requirement = library + works.split("||")[-1].strip() if works else ""
        return Finding(error.kind, error.groups.get("name") or error.groups.get("module", ""), library,
                       entry["name"], entry.get("change", ""), requirement, caller, caller_text, verdict, basis,
                       alternative, entry.get("source", ""))

    # ------------------------------------------------------------------------------------------------
    def _table(self, *names: str, suffix: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
        wanted = set(names)
        for library, entries in self.changes.items():
            for entry in entries:
                spellings = {entry["name"], *entry.get("aliases", ())}
                if wanted & spellings or suffix and any(s.endswith("." + w) for s in spellings for w in wanted):
                    yield library, entry

    def _importers(self, module: str, name: str | None) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for package, data in self.packages.items():
            for key, spans in data["imports"].items():
                source, _, imported = key.partition(":")
                if source == module and (name is None or imported == name):
                    found.setdefault(package, set()).update(_members(spans))
            if name is not None:
                for key, calls in data["calls"].items():
                    if key == f"{module}:{name}" or key.startswith(f"{module}:{name}."):
                        for spans in calls.values():
                            found.setdefault(package, set()).update(_members(spans))
        return found

    def _name_releases(self, library: str, module: str, name: str) -> set[int]:
        entries = self.packages[library]["names"].get(module, {}).get(name, {})
        return set().union(*(_members(s) for s in entries.values())) if entries else set()

    def _import_name(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        module, name = error.groups["module"], error.groups["name"]
        top = module.split(".")[0]
        for library, entry in self._table(f"{module}.{name}"):
            yield self._table_finding(error, library, entry, entry.get("present", ""), self._importers(module, name),
                                      owner)
            return
        found = self._library_of(top)
        if found is None:
            return
        library = found
        works = self._name_releases(library, module, name)
        everywhere = set(range(len(self.libraries[library].releases)))
        if not works or works == everywhere:
            return
        lib = self.libraries[library]
        change = (f"{module} has '{name}' in {library} {lib.span_text(works)} only "
                  f"(not in {lib.span_text(everywhere - works)})")
        yield self._finding(error, library, f"{module}.{name}", works, self._importers(module, name), owner, change)

    def _module(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        module = error.groups["module"]
        for library, entry in self._table(module):
            yield self._table_finding(error, library, entry, entry.get("present", ""), self._importers(module, None),
                                      owner)
            return
        found = self._library_of(module.split(".")[0])
        if found is None or "." not in module:
            return
        library = found
        spans = self.packages[library]["modules"].get(module)
        everywhere = set(range(len(self.libraries[library].releases)))
        works = _members(spans) if spans else set()
        if not works or works == everywhere:
            return
        lib = self.libraries[library]
        change = f"the module {module} exists in {library} {lib.span_text(works)} only"
        yield self._finding(error, library, module, works, self._importers(module, None), owner, change)

    def _attribute(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        module, name = error.groups["module"], error.groups["name"]
        for library, entry in self._table(f"{module}.{name}"):
            yield self._table_finding(error, library, entry, entry.get("present", ""), self._importers(module, name),
                                      owner)
            return
        yield from self._import_name(error, owner)

    def _object_attribute(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        cls, name = error.groups["owner"], error.groups["name"]
        for library, data in self.packages.items():
            lib = self.libraries[library]
            everywhere = set(range(len(lib.releases)))
            for module, names in data["names"].items():
                for candidate in names:
                    if "." in candidate or not (cls == candidate or (cls.startswith(candidate) and len(candidate) > 6)):
                        continue
                    works = self._name_releases(library, module, f"{candidate}.{name}")
                    if works and works != everywhere:
                        exists = self._name_releases(library, module, candidate)
                        change = (f"{candidate} ({module}) has the attribute '{name}' in {library} "
                                  f"{lib.span_text(works)} only (the class exists in {lib.span_text(exists)})")
                        subclass = cls != candidate  # a user's class derived from nnU-Net's
                        yield self._finding(error, library, f"{module}.{candidate}.{name}", works, {},
                                            "user" if subclass and owner is None else owner, change)
                        return

    def _plans_key(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        key = error.groups["name"]
        data = self.packages.get("nnunetv2", {}).get("plans_keys")
        if not data:
            return
        lib = self.libraries["nnunetv2"]
        written = _members(data["written"][key]) if key in data.get("written", {}) else set()
        read = _members(data["read"][key]) if key in data.get("read", {}) else set()
        everywhere = set(range(len(lib.releases)))
        if not written or written == everywhere or not (error.framed or read):
            return
        missing = everywhere - written
        change = (f"nnunetv2 {lib.span_text(written)} writes the plans key '{key}' and its code expects it; "
                  f"nnunetv2 {lib.span_text(missing)} no longer writes it: these plans were made by one release and "
                  f"are read by code of another (the reader is an nnunetv2 {lib.span_text(written)} or code written for it)")
        finding = self._finding(error, "nnunetv2", f"plans:{key}", missing, {}, None, change)
        # without a plans frame, only the key's name says that plans were read: the name_only rules weigh that
        finding.verdict, finding.basis = "dependency_mismatch", "callers" if error.framed else "name"
        finding.alternative = "nnunetv2" + lib.spec(missing)
        finding.extra["replan"] = True
        yield finding

    def _call(self, error: _Error, owner: str | None) -> Iterator[Finding]:
        function = error.groups["function"]
        candidates_only_called = "." not in function and function.startswith("__")
        for library, entry in self._table(function, suffix=True):
            found = self._table_call(error, library, entry, owner)
            if found is not None:
                yield found
                return
        for library, module, qualified, states in self._definitions(function):
            lib = self.libraries[library]
            works = {i for sig, members in states for i in members if _Sig.parse(sig).accepts(error.kind, error.groups)}
            failing = {i for sig, members in states for i in members
                       if _Sig.parse(sig).matches_failure(error.kind, error.groups)}
            if not works or not failing:
                continue
            callers = self._callers(f"{module}.{qualified}", error)
            if candidates_only_called and not callers:
                continue
            change = (f"{qualified}() ({module}) {self._what(error)} in {library} {lib.span_text(works)}, "
                      f"not in {lib.span_text(failing)}")
            yield self._finding(error, library, f"{module}.{qualified}", works, callers, owner, change)
            return

    def _table_call(self, error: _Error, library: str, entry: dict[str, Any], owner: str | None) -> Finding | None:
        callers = self._callers(entry["name"], error, aliases=entry.get("aliases", ()))
        if error.kind == "keyword" and error.groups["name"] in entry.get("keywords", {}):
            return self._table_finding(error, library, entry, entry["keywords"][error.groups["name"]], callers, owner)
        signatures = entry.get("signatures", {})
        works = [spec for spec, sig in signatures.items() if _Sig.parse(sig).accepts(error.kind, error.groups)]
        failing = [spec for spec, sig in signatures.items() if _Sig.parse(sig).matches_failure(error.kind, error.groups)]
        if works and failing and (callers or "." in error.groups["function"]):
            return self._table_finding(error, library, entry, works[-1], callers, owner)
        return None

    def _what(self, error: _Error) -> str:
        if error.kind == "keyword":
            return f"accepts the keyword '{error.groups['name']}'"
        if error.kind == "positional":
            return f"accepts {error.groups['given']} positional arguments"
        return f"does not require {error.groups['name']}"

    def _definitions(self, function: str) -> Iterator[tuple[str, str, str, list[tuple[str, set[int]]]]]:
        for library, data in self.packages.items():
            for module, names in data["names"].items():
                for name, values in names.items():
                    if name == function or name.endswith("." + function):
                        states = [(v[2:], _members(s)) for v, s in values.items() if v.startswith("f:")]
                        if states:
                            yield library, module, name, states

    def _callers(self, qualified: str, error: _Error, aliases: Iterable[str] = ()) -> dict[str, set[int]]:
        """Packages whose calls to ``qualified`` (or an alias) have the failing form: the keyword, the count."""
        wanted = {qualified, *aliases}
        found: dict[str, set[int]] = {}
        for package, data in self.packages.items():
            for callee, forms in data["calls"].items():
                full = callee.replace(":", ".")
                for target, extra in ((full, 0), (full + ".__init__", 1)):
                    if not any(_same_name(target, w) for w in wanted):
                        continue
                    for form, spans in forms.items():
                        count, _, keywords = form.partition("|")
                        if _form_fails(error, int(count.rstrip("+")) + extra, keywords.split(",") if keywords else []):
                            found.setdefault(package, set()).update(_members(spans))
        return found

    def _library_of(self, top: str) -> str | None:
        return next((name for name in self.packages if name == top), None)


def _same_name(a: str, b: str) -> bool:
    """``numpy.vstack`` and ``vstack``, ``torch.optim.lr_scheduler._LRScheduler.__init__`` and ``_LRScheduler.__init__``."""
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _form_fails(error: _Error, count: int, keywords: list[str]) -> bool:
    if error.kind == "keyword":
        return error.groups["name"] in keywords
    if error.kind == "positional":
        return count == int(error.groups["given"])
    if error.kind == "missing_argument":
        return True
    return False


def _record(found: Finding, error: _Error, cut_traceback: bool = False) -> Record:
    fields = {"kind": found.kind, "name": found.name, "library": found.library, "qualified": found.qualified,
              "change": found.change, "works_with": found.works_with, "caller": found.caller,
              "caller_releases": found.caller_releases, "verdict": found.verdict, "basis": found.basis,
              "alternative": found.alternative, "source": found.source,
              "replan": bool(found.extra.get("replan")), "cut_traceback": cut_traceback,
              "line": error.line, "file": error.file, "text": error.text}
    return Record(fields, Provenance(LOG, error.file, (error.line, error.line), "API index"))
