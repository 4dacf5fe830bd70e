"""Generates the CLI index (``rules/cli.index.json.gz``): every console script of every nnU-Net release, its options.

Run at generation time only, never at diagnosis time. It reads the sdists of every ``nnunet`` (v1) and ``nnunetv2``
release (``pip download --no-deps --no-binary :all: PKG==VER``; one folder per package, as in ``/work/sdists/<pkg>/``),
takes the console scripts from ``setup.py`` (``entry_points``, read with :mod:`ast`), ``pyproject.toml``
(``[project.scripts]``) or ``setup.cfg``, and reads each entry function's ``argparse`` definitions with :mod:`ast`
(never importing them): the ``ArgumentParser(...)`` call and every ``add_argument(...)`` of the function and of the
module's helpers it calls, in order::

    parser.add_argument('-d', nargs='+', type=int, help="[REQUIRED] List of dataset IDs. ...")
    -> {"flags": ["-d"], "dest": "d", "type": "int", "nargs": "+", "help": "[REQUIRED] List of dataset IDs. ..."}

Identical parsers of different releases are stored once (keyed by a digest of their content).

    python -m nnunet_doctor.rules.cli_index_build /work/sdists            # rewrites the committed index
"""
from __future__ import annotations

import argparse
import ast
import configparser
import gzip
import hashlib
import json
import re
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Iterator

INDEX_PATH = Path(__file__).with_name("cli.index.json.gz")
FORMAT = 1
PACKAGES = ("nnunet", "nnunetv2")
#: help texts longer than this are cut (the start says what an option is for)
MAX_HELP = 400
_SDIST = re.compile(r"^(?P<package>nnunet|nnunetv2)-(?P<version>[\d.]+)\.tar\.gz$")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _literal(node: ast.AST | None) -> Any:
    """A JSON-able value for an argument's keyword: the literal itself, else its source (``"<expr>"``)."""
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "<%s>" % ast.unparse(node)
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return "<%s>" % ast.unparse(node)
    return value


def _text(node: ast.AST | None) -> str:
    """A help text: literal strings joined, ``%``/f-string holes shown as ``...``."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _text(node.left)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "..." for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "format":
        return _text(node.func.value)  # type: ignore[attr-defined]
    return "..."


def _argument(call: ast.Call) -> dict[str, Any]:
    flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    optional = bool(flags) and flags[0].startswith("-")
    dest = _literal(keywords.get("dest")) if "dest" in keywords else None
    if dest is None and flags:
        longs = [f for f in flags if f.startswith("--")]
        dest = (longs[0] if longs else flags[0]).lstrip("-").replace("-", "_") if optional else flags[0]
    option: dict[str, Any] = {"flags": flags, "dest": dest}
    type_node = keywords.get("type")
    if type_node is not None:
        option["type"] = type_node.id if isinstance(type_node, ast.Name) else ast.unparse(type_node)
    for key in ("nargs", "action", "default", "choices", "required", "metavar"):
        if key in keywords:
            option[key] = _literal(keywords[key])
    if not optional:
        option["positional"] = True
        option["required"] = option.get("nargs") not in ("?", "*")
    help_text = " ".join(_text(keywords.get("help")).split())
    if help_text:
        option["help"] = help_text[:MAX_HELP]
    return option


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def read_parser(source: str, function: str) -> dict[str, Any] | None:
    """The argparse definition an entry function builds (``None``: no such function in the module).

    >>> read_parser('''
    ... def main():
    ...     import argparse
    ...     p = argparse.ArgumentParser(description="Train.")
    ...     p.add_argument("fold", help="0-4 or all")
    ...     p.add_argument("-tr", type=str, default="nnUNetTrainer", required=False)
    ...     p.parse_args()
    ... ''', "main")["options"][1]
    {'flags': ['-tr'], 'dest': 'tr', 'type': 'str', 'default': 'nnUNetTrainer', 'required': False}
    """
    tree = ast.parse(source)
    functions = _functions(tree)
    if function not in functions:
        return None
    parser: dict[str, Any] = {"options": []}
    pending, visited = [function], set()
    while pending:  # the entry function, then the module's helpers it calls (e.g. _add_logging_args)
        name = pending.pop(0)
        if name in visited or name not in functions:
            continue
        visited.add(name)
        calls = sorted((n for n in ast.walk(functions[name]) if isinstance(n, ast.Call)),
                       key=lambda n: (n.lineno, n.col_offset))
        for call in calls:
            attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
            if attr == "add_argument":
                parser["options"].append(_argument(call))
            elif attr == "ArgumentParser" or isinstance(call.func, ast.Name) and call.func.id == "ArgumentParser":
                description = " ".join(_text({k.arg: k.value for k in call.keywords}.get("description")).split())
                if description:
                    parser["description"] = description[:MAX_HELP]
            elif attr == "parse_known_args":
                parser["known_args"] = True  # unknown options are ignored, never refused
            elif isinstance(call.func, ast.Name):
                pending.append(call.func.id)
    return parser


def entry_points(root: Path) -> dict[str, str]:
    """Console script -> ``module:function``, from a release's setup.py, pyproject.toml or setup.cfg."""
    scripts: dict[str, str] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        scripts.update(tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("scripts", {}))
    setup_cfg = root / "setup.cfg"
    if not scripts and setup_cfg.is_file():
        config = configparser.ConfigParser()
        config.read_string(setup_cfg.read_text(encoding="utf-8"))
        if config.has_option("options.entry_points", "console_scripts"):
            for line in config.get("options.entry_points", "console_scripts").splitlines():
                if "=" in line:
                    name, target = line.split("=", 1)
                    scripts[name.strip()] = target.strip()
    setup_py = root / "setup.py"
    if not scripts and setup_py.is_file():
        for node in ast.walk(ast.parse(setup_py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found = re.fullmatch(r"\s*([\w.-]+)\s*=\s*([\w.]+\s*:\s*\w+)\s*", node.value)
                if found:
                    scripts[found.group(1)] = found.group(2).replace(" ", "")
    return scripts


def index_release(root: Path, scripts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Console script -> parser, for a release whose package folders lie under ``root``."""
    parsers: dict[str, dict[str, Any]] = {}
    for name, target in sorted(scripts.items()):
        module, _, function = target.partition(":")
        path = root.joinpath(*module.split(".")).with_suffix(".py")
        if not path.is_file():
            path = root.joinpath(*module.split("."), "__init__.py")
        parser = read_parser(path.read_text(encoding="utf-8", errors="replace"), function) if path.is_file() else None
        parsers[name] = parser if parser is not None else {"options": [], "missing": target}
    return parsers


def _digest(parser: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parser, sort_keys=True).encode()).hexdigest()[:12]


def _sdists(folder: Path) -> Iterator[tuple[str, str, Path]]:
    for package in PACKAGES:
        for path in sorted((folder / package).glob("*.tar.gz")):
            found = _SDIST.match(path.name)
            if found:
                yield package, found.group("version"), path


def build(sdists: Path) -> dict[str, Any]:
    """The index of every release found under ``sdists/<package>/``."""
    parsers: dict[str, dict[str, Any]] = {}
    releases: dict[str, dict[str, dict[str, str]]] = {package: {} for package in PACKAGES}
    with tempfile.TemporaryDirectory() as temporary:
        for package, version, path in _sdists(sdists):
            with tarfile.open(path) as archive:
                archive.extractall(temporary, filter="data")
            root = Path(temporary) / path.name[:-len(".tar.gz")]
            by_script = {}
            for script, parser in index_release(root, entry_points(root)).items():
                key = _digest(parser)
                parsers[key] = parser
                by_script[script] = key
            releases[package][version] = by_script
    for package in PACKAGES:
        releases[package] = dict(sorted(releases[package].items(), key=lambda item: _version_key(item[0])))
    return {"format": FORMAT, "releases": releases, "parsers": dict(sorted(parsers.items()))}


def write(index: dict[str, Any], path: Path = INDEX_PATH) -> int:
    """Write the index compactly (gzip, reproducible bytes); returns its size in bytes."""
    data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdists", type=Path, help="folder with one sub-folder of sdists per package (nnunet, nnunetv2)")
    parser.add_argument("-o", "--output", type=Path, default=INDEX_PATH)
    args = parser.parse_args(argv)
    index = build(args.sdists)
    size = write(index, args.output)
    count = sum(len(v) for v in index["releases"].values())
    print(f"{args.output}: {count} releases, {len(index['parsers'])} distinct parsers, {size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
