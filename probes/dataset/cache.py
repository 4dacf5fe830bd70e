"""A cache of case measurements, keyed by each file's path, size and modification time.

It lives in the user's cache folder, the one the rule-pack cache uses (``$NNUNET_DOCTOR_CACHE``, else
``$XDG_CACHE_HOME/nnunet-doctor``, else ``~/.cache/nnunet-doctor``; ``NNUNET_DOCTOR_CACHE=off`` disables both), one
JSON file per dataset folder -- never inside the dataset. A measurement is
reused only while every file it was made from has the same size and modification time, so an edited label is
measured again. Writing is atomic (a temporary file renamed over the old one); a cache that cannot be read or
written is simply not used.

>>> import tempfile, pathlib
>>> cache = CaseCache.open(pathlib.Path("/data/raw/Dataset003_Liver"), {"NNUNET_DOCTOR_CACHE": tempfile.mkdtemp()})
>>> assert cache is not None
>>> cache.put("train/case_0", [("imagesTr/case_0_0000.nii.gz", 1024, 17)], {"headers": {}})
>>> cache.get("train/case_0", [("imagesTr/case_0_0000.nii.gz", 1024, 17)])
{'headers': {}}
>>> cache.get("train/case_0", [("imagesTr/case_0_0000.nii.gz", 1025, 17)]) is None
True
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from nnunet_doctor.engine.pack_cache import cache_dir
from nnunet_doctor.probes.files import load_json

FORMAT = 2  # 2: voxel measurements hold content profiles, kept in a second file (see ``content``)
FileKey = tuple[str, int, int]  # path relative to the dataset folder, size, mtime in ns


class CaseCache:
    def __init__(self, path: Path, dataset: Path, entries: dict[str, Any]):
        self.path = path
        self.dataset = dataset
        self.entries = entries
        self.changed = False
        self._content: CaseCache | None = None

    @classmethod
    def open(cls, dataset: Path, environ: Mapping[str, str]) -> "CaseCache | None":
        """The cache of one dataset folder, in the folder the rule-pack cache uses; None when caching is off."""
        folder = cache_dir(environ)
        if folder is None:
            return None
        dataset = dataset.resolve()
        return cls.open_at(folder / (hashlib.sha256(str(dataset).encode()).hexdigest()[:24] + ".json"), dataset)

    @property
    def content(self) -> "CaseCache":
        """The content profiles, in a file of their own: a warm run whose cross-case findings are cached never reads
        them (they are most of the cache's size)."""
        if self._content is None:
            self._content = CaseCache.open_at(self.path.with_name(self.path.stem + "-content.json"), self.dataset)
        return self._content

    @classmethod
    def open_at(cls, path: Path, dataset: Path) -> "CaseCache":
        entries: dict[str, Any] = {}
        try:
            data = load_json(path)
            if data.get("format") == FORMAT and data.get("dataset") == str(dataset):
                entries = dict(data.get("cases", {}))
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        return cls(path, dataset, entries)

    def get(self, key: str, files: Sequence[FileKey]) -> dict[str, Any] | None:
        """The result stored for ``key`` when it was made from these very files; None otherwise (also for an entry
        that is not what :meth:`put` writes: the file is measured again)."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), list) \
                or not isinstance(entry.get("result"), dict):
            return None
        if [tuple(f) if isinstance(f, list) else f for f in entry["files"]] != [tuple(f) for f in files]:
            return None
        return dict(entry["result"])

    def put(self, key: str, files: Sequence[FileKey], result: dict[str, Any]) -> None:
        self.entries[key] = {"files": [list(f) for f in files], "result": result}
        self.changed = True

    def save(self) -> None:
        if self._content is not None:
            self._content.save()
        if not self.changed or self.path.resolve().is_relative_to(self.dataset):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"format": FORMAT, "dataset": str(self.dataset), "cases": self.entries}),
                                 encoding="utf-8")
            os.replace(temporary, self.path)
            self.changed = False
        except OSError:
            pass
