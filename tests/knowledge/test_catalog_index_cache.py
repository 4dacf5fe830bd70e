"""The catalog's word index read back from the cache folder is the index the catalog builds."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from nnunet_doctor.rules.catalog import CATALOG_PATH, MessageCatalog, _load

PASTE = "AssertionError: image and seg do not have the same shape: (1, 512, 512), (1, 256, 256)"


def test_the_cached_index_is_the_built_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with gzip.open(CATALOG_PATH, "rt", encoding="utf-8") as opened:
        built = MessageCatalog(json.load(opened))
    built._build_index()
    monkeypatch.setenv("NNUNET_DOCTOR_CACHE", str(tmp_path))
    written = _load.__wrapped__(str(CATALOG_PATH))  # type: ignore[attr-defined]
    assert len(list(tmp_path.glob("catalog-index-*.json"))) == 1
    read = _load.__wrapped__(str(CATALOG_PATH))  # type: ignore[attr-defined]
    assert read._pieces == written._pieces == built._pieces and read._index == written._index == built._index
    assert [m.entry.index for m in read.find(PASTE)] == [m.entry.index for m in built.find(PASTE)] != []
