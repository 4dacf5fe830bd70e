"""Derived data in the cache folder: JSON only, read back while its sources are unchanged, rebuilt when one changes,
ignored when damaged, never written where another user could have."""
from __future__ import annotations

import os
from pathlib import Path

from nnunet_doctor.engine.data_cache import derived


class CountingBuild:
    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_built_once_then_read_back_until_a_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "table.txt"
    source.write_text("a")
    environ = {"NNUNET_DOCTOR_CACHE": str(tmp_path / "cache")}
    build = CountingBuild({"pieces": [(1, "x")], "index": {"x": [0]}})
    first = derived("table", [source], build, environ)
    second = derived("table", [source], build, environ)
    assert build.calls == 1 and first == second == {"pieces": [[1, "x"]], "index": {"x": [0]}}  # the JSON form
    source.write_text("ab")
    os.utime(source, ns=(1, 10**18))
    derived("table", [source], build, environ)
    assert build.calls == 2 and len(list((tmp_path / "cache").glob("table-*.json"))) == 2  # the older one kept


def test_off_damaged_or_shared_means_built_again(tmp_path: Path) -> None:
    source = tmp_path / "table.txt"
    source.write_text("a")
    build = CountingBuild([1, 2])
    assert derived("table", [source], build, {"NNUNET_DOCTOR_CACHE": "off"}) == [1, 2] and build.calls == 1
    cache = tmp_path / "cache"
    derived("table", [source], build, {"NNUNET_DOCTOR_CACHE": str(cache)})
    [stored] = cache.glob("table-*.json")
    stored.write_text("{not json")
    assert derived("table", [source], build, {"NNUNET_DOCTOR_CACHE": str(cache)}) == [1, 2] and build.calls == 3
    stored.chmod(0o666)  # others may write it: neither read nor trusted
    assert derived("table", [source], build, {"NNUNET_DOCTOR_CACHE": str(cache)}) == [1, 2] and build.calls == 4
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert derived("table", [source], build, {"NNUNET_DOCTOR_CACHE": str(blocked / "cache")}) == [1, 2]
