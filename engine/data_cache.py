"""Data derived from shipped files, kept as JSON in the cache folder so that start-up does not derive it again.

A diagnosis builds some tables from the files it ships (the word index of the message catalog: 17 ms, where
reading it back takes 2 ms). :func:`derived` keeps such a table in the cache folder of the compiled rule packs
(:func:`.pack_cache.cache_dir`, with the same ownership checks), under a key made of the path, size and
modification time of every file it derives from (the data and the code that derives it), so any edit rebuilds
it. Only JSON is kept: reading a cache file never runs code. A cache that cannot be read or written is ignored;
``NNUNET_DOCTOR_CACHE=off`` disables it. What the caller gets is always the JSON form (lists, never tuples),
built or read, so both paths behave alike.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .pack_cache import cache_dir, private, prune


def source_key(sources: Iterable[Path]) -> str:
    """A digest of the path, size and modification time of each source file."""
    digest = hashlib.sha256()
    for source in sources:
        status = os.stat(source)
        digest.update(f"{source}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:24]


def derived(name: str, sources: Iterable[Path], build: Callable[[], Any],
            environ: Mapping[str, str] | None = None) -> Any:
    """``build()`` (a JSON-serialisable value) as JSON data, from the cache folder when no source changed."""
    folder = cache_dir(environ)
    if folder is None or not private(folder):
        return _round_trip(build())
    path = folder / f"{name}-{source_key(sources)}.json"
    try:
        with path.open("rb") as handle:
            if private(path, handle.fileno()):
                return json.load(handle)
    except (OSError, ValueError):  # missing, unreadable or damaged: build it again
        pass
    text = json.dumps(build(), ensure_ascii=False, separators=(",", ":"))
    _store(text, path, name)
    return json.loads(text)


def _round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _store(text: str, path: Path, name: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not private(path.parent):
            return
        prune(path.parent, f"{name}-*.json")
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        pass
