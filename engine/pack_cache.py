"""A cache of compiled rule packs, so that a diagnosis does not re-parse every rule file at start-up.

Loading and checking the rule pack (YAML with locations, every condition through the lark parser, every fix
template through Jinja) costs several times the import of the libraries themselves. The compiled
:class:`~.loader.RulePack` is pickled into the user's cache folder (``$NNUNET_DOCTOR_CACHE``, else
``$XDG_CACHE_HOME/nnunet-doctor``, else ``~/.cache/nnunet-doctor``; never next to rules or data) under a key
made of the size and modification time of every rule, vocabulary and engine source file, so any edit
rebuilds it. A pack that
fails validation is never cached; a cache that cannot be read or written is ignored. A cache folder or file
that another user owns, or that group or others may write, is neither read nor written (unpickling runs code:
whoever can write the cache could run code in the next ``diagnose``). ``NNUNET_DOCTOR_CACHE=off`` disables it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .pack import RulePack, builtin_rules_dir, builtin_vocabulary_dir

CACHE_ENV = "NNUNET_DOCTOR_CACHE"
_ENGINE_DIR = Path(__file__).resolve().parent
_SOURCE_SUFFIXES = (".yaml", ".py", ".lark", ".json")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where compiled packs are kept, or None when caching is off."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(CACHE_ENV, "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nnunet-doctor"


def pack_key(site_dirs: Iterable[Path]) -> str:
    """A digest of everything a compiled pack depends on: rule, vocabulary and engine source files.

    Files are identified by path, size and modification time (reading them all would cost what the cache saves).
    """
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    roots = [builtin_rules_dir(), builtin_vocabulary_dir(), _ENGINE_DIR, *site_dirs]
    for root in roots:
        digest.update(b"\0root\0" + str(root).encode())
        for folder, subfolders, files in sorted(os.walk(root)):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for name in sorted(f for f in files if f.endswith(_SOURCE_SUFFIXES)):
                status = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:24]


def _build(sites: list[Path]) -> RulePack:
    from .loader import load_rule_pack

    return load_rule_pack(sites)


def load_cached_pack(site_dirs: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None,
                     load: Callable[[list[Path]], RulePack] | None = None) -> RulePack:
    """The rule pack for these site folders, from the cache when its sources did not change.

    The loader (and with it the YAML and condition parsers) is imported only when the pack must be built.
    """
    load = load or _build
    sites = [Path(d) for d in site_dirs]
    folder = cache_dir(environ)
    if folder is None:
        return load(sites)
    path = folder / f"rulepack-{pack_key(sites)}.pickle"
    if not private(folder):
        return load(sites)  # another user could have written it: never unpickle it, never write into it
    try:
        with path.open("rb") as handle:
            if private(path, handle.fileno()):
                cached = pickle.load(handle)
                if isinstance(cached, RulePack):
                    return cached
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass
    pack = load(sites)
    _store(pack, path)
    return pack


def private(path: Path, descriptor: int | None = None) -> bool:
    """Whether only this user can have written ``path`` (a cache folder or file): owned by this user and not
    writable by group or others. A folder that does not exist yet is private (it is created with mode 0700).
    Where there are no user ids (Windows), True."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        status = os.fstat(descriptor) if descriptor is not None else os.stat(path)
    except FileNotFoundError:
        return descriptor is None
    except OSError:
        return False
    return status.st_uid == os.geteuid() and not status.st_mode & 0o022


def template_cache(kind: str, environ: Mapping[str, str] | None = None) -> Any:
    """Jinja's compiled templates of one kind (``text`` and ``html`` reports, ``fixes``), kept in the private cache
    folder: compiling a template costs more than reading it back. Jinja checks each entry against its template's
    source and its own version; an entry is read only when no other user can have written it. None when caching is
    off or the folder is not private."""
    import jinja2

    base = cache_dir(environ)
    if base is None:
        return None
    folder = base / f"templates-{kind}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    if not (private(base) and private(folder)):
        return None

    class PrivateBytecodeCache(jinja2.FileSystemBytecodeCache):
        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if private(Path(self._get_cache_filename(bucket))):
                super().load_bytecode(bucket)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            prune(folder, "__jinja2_*.cache", KEPT_TEMPLATES - 1)  # edited rules leave their old fixes behind
            super().dump_bytecode(bucket)

    return PrivateBytecodeCache(str(folder))


#: compiled templates of one kind the cache folder keeps (a diagnosis renders the fixes of the rules that fire)
KEPT_TEMPLATES = 500
#: entries of one kind the cache folder keeps: two installs (two environments, a checkout and a release) each keep
#: theirs instead of evicting the other's on every run (which cost each run a rebuild of about a second)
KEPT_ENTRIES = 4


def prune(folder: Path, pattern: str, keep: int = KEPT_ENTRIES - 1) -> None:
    """Delete all but the ``keep`` newest entries matching ``pattern``, before a new one is written."""
    entries = []
    for entry in folder.glob(pattern):
        try:
            entries.append((entry.stat().st_mtime, entry))
        except OSError:
            pass
    for _, old in sorted(entries, reverse=True)[keep:]:
        old.unlink(missing_ok=True)


def _store(pack: RulePack, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not private(path.parent):
            return
        prune(path.parent, "rulepack-*.pickle")
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as handle:
            pickle.dump(pack, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError:
        pass
