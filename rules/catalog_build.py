"""Generates the message catalog (``rules/messages.catalog.json.gz``) from the sources of every release.

Run at generation time only, never at diagnosis time. It reads the sdists of every release of the nnU-Net family
(``pip download --no-deps --no-binary :all: PKG==VER``; one folder per package, as in ``/work/sdists/<pkg>/``)
and extracts with :mod:`ast` every message a ``raise``, ``assert``, ``print``, ``warnings.warn``, a logger call or
nnU-Net's ``print_to_log_file`` can produce. A literal, an f-string, a ``%`` or ``.format`` template, a ``+``
concatenation and a local variable assigned one of those become a *template*: literal text with ``\\x00`` where a
value goes::

    raise RuntimeError(f"Unable to locate trainer class {trainer_name} in {folder}.")
    -> ("raise", "RuntimeError", "Unable to locate trainer class \\x00 in \\x00.")

Identical messages of consecutive releases are one entry with its release list; the file, line and function are
those of the newest release holding it. ``requires-python`` of each release comes from its metadata.

    python -m nnunet_doctor.rules.catalog_build /work/sdists            # rewrites the committed catalog
"""
from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator

HOLE = "\x00"
#: packages of the catalog: distribution name -> import name
PACKAGES = {"nnunetv2": "nnunetv2", "nnunet": "nnunet", "batchgenerators": "batchgenerators",
            "batchgeneratorsv2": "batchgeneratorsv2", "acvl_utils": "acvl_utils",
            "dynamic_network_architectures": "dynamic_network_architectures"}
CATALOG_PATH = Path(__file__).with_name("messages.catalog.json.gz")
#: a template needs this many literal characters to say anything (``print(x)`` or ``"%s: %s"`` say nothing)
MIN_LITERAL = 8
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "critical", "exception", "fatal"}
_LOGGER_NAMES = {"logger", "logging", "log", "_logger", "LOGGER"}
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_BRACES = re.compile(r"\{\{|\}\}|\{[^{}]*\}")
_VERSION = re.compile(r"-(\d+(?:\.\d+)*(?:\.?(?:post|dev|rc|a|b)\d*)?)\.(?:tar\.gz|zip)$")

Message = tuple[str, str, str, str, int, str]  # kind, exception type, template, file, line, function


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


class _Templates:
    """Turns a message expression into template text, resolving names assigned earlier in the same function."""

    def __init__(self, assignments: dict[str, ast.expr]):
        self.assignments = assignments

    def text(self, node: ast.expr | None, depth: int = 0) -> str:
        if node is None or depth > 6:
            return HOLE
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else HOLE
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else HOLE
                           for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.text(node.left, depth + 1) + self.text(node.right, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = self.text(node.left, depth + 1)
            return _PERCENT.sub(lambda m: "%" if m.group() == "%%" else HOLE, left)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            base = self.text(node.func.value, depth + 1)
            return _BRACES.sub(lambda m: {"{{": "{", "}}": "}"}.get(m.group(), HOLE), base)
        if isinstance(node, ast.Name) and node.id in self.assignments:
            value = self.assignments.pop(node.id)  # once: ``msg = msg + ...`` cannot loop
            try:
                return self.text(value, depth + 1)
            finally:
                self.assignments[node.id] = value
        return HOLE

    def joined(self, args: Iterable[ast.expr]) -> str:
        """``print(a, b)`` writes its arguments separated by spaces."""
        return " ".join(self.text(arg) for arg in args if not isinstance(arg, ast.Starred))


def _normalise(template: str) -> str:
    template = re.sub(HOLE + "+", HOLE, template)
    return "\n".join(line.rstrip() for line in template.strip().splitlines())


def _literal_chars(template: str) -> int:
    return sum(1 for char in template if char.isalnum())


class _Extractor(ast.NodeVisitor):
    def __init__(self, file: str):
        self.file = file
        self.messages: list[Message] = []
        self._functions: list[str] = []
        self._assignments: list[dict[str, ast.expr]] = [{}]

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._functions.append(node.name)
        self._assignments.append({})
        self.generic_visit(node)
        self._assignments.pop()
        self._functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _function  # type: ignore[assignment]

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._assignments[-1][target.id] = node.value
        self.generic_visit(node)

    def _add(self, kind: str, type_name: str, template: str, node: ast.AST) -> None:
        template = _normalise(template)
        if _literal_chars(template.replace(HOLE, "")) >= MIN_LITERAL:
            function = ".".join(self._functions) or "<module>"
            self.messages.append((kind, type_name, template, self.file, getattr(node, "lineno", 0), function))

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc
        if isinstance(exc, ast.Call) and exc.args:
            type_name = _dotted(exc.func).rsplit(".", 1)[-1]
            self._add("raise", type_name, _Templates(dict(self._assignments[-1])).text(exc.args[0]), node)
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        if node.msg is not None:
            self._add("assert", "AssertionError", _Templates(dict(self._assignments[-1])).text(node.msg), node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        short = name.rsplit(".", 1)[-1]
        templates = _Templates(dict(self._assignments[-1]))
        if name in ("print", "print_to_log_file", "self.print_to_log_file") or short == "print_to_log_file":
            self._add("print", "", templates.joined(node.args), node)
        elif short == "warn" and name in ("warnings.warn", "warn") and node.args:
            category = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "category"), None)
            self._add("warn", _dotted(category).rsplit(".", 1)[-1] if category is not None else "UserWarning",
                      templates.text(node.args[0]), node)
        elif (short in _LOG_METHODS and isinstance(node.func, ast.Attribute) and node.args
              and _dotted(node.func.value).rsplit(".", 1)[-1] in _LOGGER_NAMES):
            self._add("log", short, templates.text(node.args[0]), node)
        self.generic_visit(node)


def extract_tree(root: Path, package: str) -> list[Message]:
    """Every message of the package folder ``root/<import name>`` (files relative to ``root``)."""
    messages: list[Message] = []
    for path in sorted((root / PACKAGES[package]).rglob("*.py")):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue
        extractor = _Extractor(path.relative_to(root).as_posix())
        extractor.visit(tree)
        messages += extractor.messages
    return messages


def version_key(version: str) -> tuple[Any, ...]:
    parts = re.findall(r"\d+|[a-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (-1, p) for p in parts)


def _requires_python(root: Path) -> str | None:
    for name in ("PKG-INFO", "pyproject.toml", "setup.py", "setup.cfg"):
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^Requires-Python:\s*(\S.*)$|requires-python\s*=\s*[\"']([^\"']+)|"
                          r"python_requires\s*=\s*[\"']?([^\"'\n]+)", text, re.MULTILINE)
        if found:
            return next(g for g in found.groups() if g).strip()
    return None


def _unpacked(archive: Path, into: Path) -> Path:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(into)
    else:
        with tarfile.open(archive) as opened:
            opened.extractall(into, filter="data")
    children = [child for child in into.iterdir() if child.is_dir()]
    return children[0] if len(children) == 1 else into


def releases(sdists: Path, package: str) -> Iterator[tuple[str, Path]]:
    """(version, archive) of every sdist of ``package`` under ``sdists/<package>/``, oldest first."""
    found = []
    for archive in (sdists / package).glob("*"):
        version = _VERSION.search(archive.name)
        if version and archive.name.lower().replace("-", "_").startswith(package.lower()):
            found.append((version.group(1), archive))
    yield from sorted(found, key=lambda item: version_key(item[0]))


def build_package(versions: list[tuple[str, list[Message], str | None]]) -> dict[str, Any]:
    """One package's part of the catalog from each release's messages (oldest release first)."""
    entries: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for index, (_version, messages, _python) in enumerate(versions):
        for kind, type_name, template, file, line, function in messages:
            key = (kind, type_name, template, file, function)
            entry = entries.setdefault(key, {"releases": []})
            if not entry["releases"] or entry["releases"][-1] != index:
                entry["releases"].append(index)
            entry["line"] = line  # the newest release's line
    rows = [[kind, type_name, template, file, entry["line"], function, _ranges(entry["releases"])]
            for (kind, type_name, template, file, function), entry in entries.items()]
    rows.sort(key=lambda row: (row[3], row[4], row[2]))
    return {"releases": [version for version, _, _ in versions],
            "requires_python": [python for _, _, python in versions], "messages": rows}


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    out: list[str] = []
    start = previous = indices[0]
    for index in indices[1:] + [None]:  # type: ignore[list-item]
        if index is not None and index == previous + 1:
            previous = index
            continue
        out.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(out)


def build(sdists: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Any]:
    catalog: dict[str, Any] = {"format": 1, "packages": {}}
    for package in packages:
        versions = []
        for version, archive in releases(sdists, package):
            with tempfile.TemporaryDirectory() as temporary:
                root = _unpacked(archive, Path(temporary))
                versions.append((version, extract_tree(root, package), _requires_python(root)))
        if versions:
            catalog["packages"][package] = build_package(versions)
    return catalog


def write(catalog: dict[str, Any], path: Path = CATALOG_PATH) -> int:
    data = json.dumps(catalog, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=9) as out:
        out.write(data)  # mtime 0 and no file name: the same catalog gives the same bytes
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdists", type=Path, help="folder with one sub-folder of sdists per package")
    parser.add_argument("-o", "--output", type=Path, default=CATALOG_PATH)
    args = parser.parse_args(argv)
    catalog = build(args.sdists)
    size = write(catalog, args.output)
    for package, part in catalog["packages"].items():
        print(f"{package:<30} {len(part['releases']):>3} releases {len(part['messages']):>6} messages")
    print(f"{args.output}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
