"""The API index: public names and call signatures of nnU-Net and its libraries, per release, read with ``ast``.

Generated once from the packages' source distributions (never at diagnosis time) and committed as
``rules/knowledge/api_index.json.gz``; :mod:`nnunet_doctor.probes.log.api_drift` reads it lazily to explain
``cannot import name``, ``has no attribute``, ``unexpected keyword argument`` and positional-count errors.
For every release of every :data:`PACKAGES` entry the index holds

- ``modules``: importable module paths;
- ``names``: per module, each public name (function, class, method ``Class.meth``, class and instance attribute
  ``Class.attr``, module attribute, re-exported import) with its kind and call signature, e.g.
  ``f:segmentation,new_shape,order=3`` (parameters, ``=default``, ``*``/``**`` markers);
- ``calls``: calls this package makes into *other* packages (``numpy:vstack``, ``batchgeneratorsv2...:SpatialTransform``),
  with the number of positional arguments and the keywords passed; ``imports``: the names it imports from them;
- ``plans_keys`` (nnunetv2): string keys the plans code reads and the planners write.

Each entry carries the releases that contain it as index spans (``"0-5,8"`` into the package's ``releases``).
Regenerate with ``python -m nnunet_doctor.rules.api_index /work/sdists`` (after editing only the change table
``library_changes.yml``: ``python -m nnunet_doctor.rules.api_index --changes-only -``).

>>> sig = _signature(ast.parse("def f(a, b=2, *c, d, **e): pass").body[0].args)
>>> sig
'a,b=2,*c,d,**e'
>>> _spans([0, 1, 2, 5, 7, 8]), _members("0-2,5,7-8")
('0-2,5,7-8', [0, 1, 2, 5, 7, 8])
"""
from __future__ import annotations

import ast
import gzip
import io
import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

#: distribution name -> top-level import package
PACKAGES = {"nnunetv2": "nnunetv2", "nnunet": "nnunet", "batchgenerators": "batchgenerators",
            "batchgeneratorsv2": "batchgeneratorsv2", "acvl_utils": "acvl_utils",
            "dynamic_network_architectures": "dynamic_network_architectures"}
#: packages whose names a call into is recorded (the indexed ones and the libraries of the change table)
EXTERNAL = frozenset(PACKAGES.values()) | {"numpy", "torch", "SimpleITK", "scipy", "skimage", "nibabel", "blosc2"}
INDEX_FILE = Path(__file__).parent / "knowledge" / "api_index.json.gz"
CHANGES_FILE = Path(__file__).parent / "knowledge" / "library_changes.yml"
FORMAT = 1
_MAX_DEFAULT = 24
#: where nnunetv2 reads plans keys, and where its planners write them
_PLANS_FILES = {"read": re.compile(r"/utilities/plans_handling/"), "written": re.compile(r"/experiment_planners/")}

Release = dict[str, Any]


# ---------------------------------------------------------------- extraction of one release

def _signature(args: ast.arguments) -> str:
    parts: list[str] = []
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        parts.append(arg.arg + ("" if default is None else "=" + _short(default)))
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg:
        parts.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        parts.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        parts.append(arg.arg + ("" if default is None else "=" + _short(default)))
    if args.kwarg:
        parts.append("**" + args.kwarg.arg)
    return ",".join(parts)


def _short(node: ast.expr) -> str:
    text = ast.unparse(node).replace(",", ";")
    return text if len(text) <= _MAX_DEFAULT else text[:_MAX_DEFAULT - 1] + "…"


def _public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


class _ModuleReader(ast.NodeVisitor):
    """Names, cross-package imports and calls of one module."""

    def __init__(self, module: str, is_package: bool, own: str, release: Release, plans: str):
        self.module, self.is_package, self.own, self.release, self.plans = module, is_package, own, release, plans
        self.names: dict[str, str] = release["names"].setdefault(module, {})
        self.aliases: dict[str, str] = {}  # local name -> "module:qualname" or "module" (import x as y)
        self.bases: dict[str, list[str]] = {}
        self._class: list[str] = []

    # names -----------------------------------------------------------------------------------------------
    def read(self, tree: ast.Module) -> None:
        for node in self._top_level(tree.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _public(node.name):
                    self.names[node.name] = "f:" + _signature(node.args)
            elif isinstance(node, ast.ClassDef):
                self._read_class(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for name in _target_names(target):
                        self.names.setdefault(name, "a:")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self._read_import(node)
        self.visit(tree)

    def _top_level(self, body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in body:
            yield node
            if isinstance(node, ast.If):
                yield from self._top_level(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                yield from self._top_level(node.body + node.orelse + node.finalbody
                                           + [n for h in node.handlers for n in h.body])

    def _read_class(self, node: ast.ClassDef) -> None:
        if not _public(node.name):
            return
        bases = [ast.unparse(b) for b in node.bases]
        self.names[node.name] = "c:" + ";".join(bases)
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _public(item.name):
                    self.names[f"{node.name}.{item.name}"] = "f:" + _signature(item.args)
                for sub in ast.walk(item):
                    if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                        for target in sub.targets if isinstance(sub, ast.Assign) else [sub.target]:
                            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                    and target.value.id == "self" and _public(target.attr)):
                                self.names.setdefault(f"{node.name}.{target.attr}", "a:")
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                for target in item.targets if isinstance(item, ast.Assign) else [item.target]:
                    for name in _target_names(target):
                        self.names.setdefault(f"{node.name}.{name}", "a:")

    def _read_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self.aliases[local] = alias.name if alias.asname else local
                if alias.asname and _public(alias.asname):
                    self.names.setdefault(alias.asname, "i:" + alias.name)
            return
        source = self._absolute(node)
        for alias in node.names:
            if alias.name == "*":
                continue
            local = alias.asname or alias.name
            self.aliases[local] = f"{source}:{alias.name}"
            if _public(local):
                self.names.setdefault(local, f"i:{source}:{alias.name}")
            top = source.split(".")[0]
            if top != self.own and top in EXTERNAL:
                self.release["imports"].add(f"{source}:{alias.name}")

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
        parts = parts[:len(parts) - node.level + 1]
        return ".".join(parts + ([node.module] if node.module else []))

    # calls -----------------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bases[node.name] = [b for b in (self._resolve(base) for base in node.bases) if b]
        self._class.append(node.name)
        self.generic_visit(node)
        self._class.pop()

    def visit_Import(self, node: ast.Import) -> None:
        self._read_import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._read_import(node)

    def visit_Call(self, node: ast.Call) -> None:
        callee, extra = self._resolve(node.func), 0
        if callee is None and self._class and _is_super_init(node.func):
            bases = self.bases.get(self._class[-1], [])
            callee, extra = (bases[0] + ".__init__", 1) if bases else (None, 0)
        top = callee.split(".")[0].split(":")[0] if callee else ""
        if callee is not None and ":" in callee and top != self.own and top in EXTERNAL:
            starred = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            keywords = sorted(k.arg for k in node.keywords if k.arg)
            key = f"{len(node.args) + extra}{'+' if starred else ''}|{','.join(keywords)}"
            self.release["calls"].setdefault(callee, set()).add(key)
        if self.plans == "read":
            self._plans_keys(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (self.plans == "read" and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)):
            self.release["plans_keys"].setdefault("read", set()).add(node.slice.value)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if self.plans == "written":
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self.release["plans_keys"].setdefault("written", set()).add(key.value)
        self.generic_visit(node)

    def _plans_keys(self, node: ast.Call) -> None:
        if (isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            self.release["plans_keys"].setdefault("read", set()).add(node.args[0].value)

    def _resolve(self, node: ast.expr) -> str | None:
        """``np.vstack`` -> ``numpy:vstack``; ``SpatialTransform`` -> ``batchgeneratorsv2...spatial:SpatialTransform``."""
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return None
        target = self.aliases[node.id]
        if ":" in target:
            return ".".join([target, *chain])
        if not chain:
            return None
        return f"{'.'.join([target, *chain[:-1]])}:{chain[-1]}"


def _is_super_init(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "__init__" and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "super")


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name) and _public(target.id):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)


def read_release(files: Iterable[tuple[str, bytes]], top: str) -> Release:
    """Index one release from its ``(path relative to the package's parent, source)`` pairs."""
    release: Release = {"modules": set(), "names": {}, "calls": {}, "imports": set(), "plans_keys": {},
                        "requires": set()}
    for path, source in sorted(files):
        parts = path[:-3].split("/")
        if parts[0] != top:
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # Python 2 code in very old releases
        release["modules"].add(module)
        plans = next((kind for kind, pattern in _PLANS_FILES.items() if pattern.search("/" + path)), "")
        _ModuleReader(module, parts[-1] == "__init__", top, release, plans).read(tree)
    release["names"] = {m: n for m, n in release["names"].items() if n}
    return release


def read_folder(folder: Path, top: str, distribution: str | None = None) -> Release:
    """Index an installed package (``site-packages/<top>``) or a source checkout; its declared dependencies come
    from the installed distribution's metadata when ``distribution`` is named."""
    release = read_release(((p.relative_to(folder.parent).as_posix(), p.read_bytes())
                            for p in sorted(folder.rglob("*.py"))), top)
    if distribution is not None:
        from importlib.metadata import requires

        lines = [f"Requires-Dist: {r}" for r in requires(distribution) or []]
        release["requires"] = _requirements({"PKG-INFO": "\n".join(lines).encode()})
    return release


def read_sdist(path: Path, top: str) -> Release:
    """Index a source distribution (``.tar.gz`` or ``.zip``) without unpacking it to disk."""
    import tarfile
    import zipfile

    def strip(name: str) -> str | None:
        parts = name.split("/")
        for i, part in enumerate(parts):
            if part == top and i <= 2 and name.endswith(".py"):
                return "/".join(parts[i:])
        return None

    files: list[tuple[str, bytes]] = []
    metadata: dict[str, bytes] = {}
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                rel = strip(name)
                if rel:
                    files.append((rel, archive.read(name)))
                elif name.endswith(_METADATA):
                    metadata.setdefault(name.rsplit("/", 1)[-1], archive.read(name))
    else:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                rel = strip(member.name) if member.isfile() else None
                wanted = rel or (member.isfile() and member.name.endswith(_METADATA))
                handle = tar.extractfile(member) if wanted else None
                if handle is None:
                    continue
                if rel:
                    files.append((rel, handle.read()))
                else:
                    metadata.setdefault(member.name.rsplit("/", 1)[-1], handle.read())
    release = read_release(files, top)
    release["requires"] = _requirements(metadata)
    return release


_METADATA = ("/PKG-INFO", "/requires.txt")


def _requirements(metadata: dict[str, bytes]) -> set[str]:
    """The release's declared dependencies: ``Requires-Dist`` of PKG-INFO, else the egg-info's requires.txt."""
    found = {line.split(":", 1)[1].strip() for line in metadata.get("PKG-INFO", b"").decode("utf-8", "replace").splitlines()
             if line.startswith("Requires-Dist:") and "extra ==" not in line}
    if not found:
        for line in metadata.get("requires.txt", b"").decode("utf-8", "replace").splitlines():
            if line.startswith("["):
                break
            if line.strip():
                found.add(line.strip())
    return {re.sub(r"\s+", "", r.split(";")[0]) for r in found}


# ---------------------------------------------------------------- the index: many releases, merged

def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def _spans(members: Iterable[int]) -> str:
    out: list[str] = []
    for i in sorted(members):
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        elif out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


def _members(spans: str) -> list[int]:
    out: list[int] = []
    for part in spans.split(","):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def merge(releases: dict[str, Release]) -> dict[str, Any]:
    """One package's releases merged: every entry keeps the spans of the releases that contain it."""
    order = sorted(releases, key=version_key)
    modules: dict[str, set[int]] = {}
    names: dict[str, dict[str, dict[str, set[int]]]] = {}
    calls: dict[str, dict[str, set[int]]] = {}
    imports: dict[str, set[int]] = {}
    plans: dict[str, dict[str, set[int]]] = {}
    requires: dict[str, set[int]] = {}
    for i, version in enumerate(order):
        release = releases[version]
        for module in release["modules"]:
            modules.setdefault(module, set()).add(i)
        for module, entries in release["names"].items():
            for name, value in entries.items():
                names.setdefault(module, {}).setdefault(name, {}).setdefault(value, set()).add(i)
        for callee, keys in release["calls"].items():
            for key in keys:
                calls.setdefault(callee, {}).setdefault(key, set()).add(i)
        for name in release["imports"]:
            imports.setdefault(name, set()).add(i)
        for requirement in release.get("requires", ()):
            requires.setdefault(requirement, set()).add(i)
        for kind, keys in release["plans_keys"].items():
            for key in keys:
                plans.setdefault(kind, {}).setdefault(key, set()).add(i)
    packed: dict[str, Any] = {
        "releases": order,
        "modules": {m: _spans(s) for m, s in sorted(modules.items())},
        "names": {m: {n: {v: _spans(s) for v, s in sorted(vs.items())} for n, vs in sorted(ns.items())}
                  for m, ns in sorted(names.items())},
        "calls": {c: {k: _spans(s) for k, s in sorted(ks.items())} for c, ks in sorted(calls.items())},
        "imports": {n: _spans(s) for n, s in sorted(imports.items())},
        "requires": {r: _spans(s) for r, s in sorted(requires.items())},
    }
    if plans:
        packed["plans_keys"] = {kind: {k: _spans(s) for k, s in sorted(keys.items())} for kind, keys in sorted(plans.items())}
    return packed


def release_view(package: dict[str, Any], version: str) -> dict[str, Any]:
    """What the merged index holds for one release, in :func:`merge`'s shape (for comparing with a regeneration)."""
    i = package["releases"].index(version)
    single = merge({version: {
        "modules": {m for m, s in package["modules"].items() if i in _members(s)},
        "names": {m: {n: v for n, vs in ns.items() for v, s in vs.items() if i in _members(s)}
                  for m, ns in package["names"].items()},
        "calls": {c: {k for k, s in ks.items() if i in _members(s)} for c, ks in package["calls"].items()},
        "imports": {n for n, s in package["imports"].items() if i in _members(s)},
        "requires": {r for r, s in package["requires"].items() if i in _members(s)},
        "plans_keys": {kind: {k for k, s in keys.items() if i in _members(s)}
                       for kind, keys in package.get("plans_keys", {}).items()},
    }})
    single["calls"] = {c: ks for c, ks in single["calls"].items() if ks}
    return single


def read_changes(path: Path = CHANGES_FILE) -> dict[str, Any]:
    """The numpy/torch/SimpleITK change table, copied into the index so that diagnosis never imports PyYAML."""
    import yaml

    with path.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def build(sdists: Path, log: Any = None) -> dict[str, Any]:
    """The index of every sdist under ``sdists/<distribution>/``, with the change table."""
    index: dict[str, Any] = {"format": FORMAT, "packages": {}, "changes": read_changes()}
    for distribution, top in PACKAGES.items():
        releases: dict[str, Release] = {}
        for path in sorted((sdists / distribution).glob("*")):
            match = re.match(rf"{re.escape(distribution)}-(\d[\w.]*?)\.(tar\.gz|zip)$", path.name)
            if match:
                releases[match.group(1)] = read_sdist(path, top)
                if log:
                    print(f"{distribution} {match.group(1)}: {len(releases[match.group(1)]['modules'])} modules", file=log)
        if releases:
            index["packages"][distribution] = merge(releases)
    return index


def write(index: dict[str, Any], out: Path) -> None:
    data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out.open("wb"), mtime=0, compresslevel=9) as handle:
        handle.write(data)


@lru_cache(maxsize=1)
def load(path: Path = INDEX_FILE) -> dict[str, Any]:
    """The committed index (read once per process, only when a log holds an error the resolver explains)."""
    with gzip.open(path, "rb") as handle:
        return json.load(io.TextIOWrapper(handle, encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the API index from downloaded sdists.")
    parser.add_argument("sdists", type=Path, help="folder with <distribution>/<distribution>-<version>.tar.gz")
    parser.add_argument("-o", "--output", type=Path, default=INDEX_FILE)
    parser.add_argument("--changes-only", action="store_true",
                        help="only copy library_changes.yml into the existing index (no sdists needed)")
    args = parser.parse_args(argv)
    if args.changes_only:
        index = dict(load(args.output))
        index["changes"] = read_changes()
    else:
        index = build(args.sdists, log=sys.stderr)
    write(index, args.output)
    print(f"{args.output}: {args.output.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
