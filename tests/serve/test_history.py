"""The desk's SQLite history: migrations of an older file, search, trends and retention."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nnunet_doctor.serve.history import MIGRATIONS, SCHEMA_VERSION, History


def _report(*causes: tuple[str, float]) -> dict:
    return {"causes": [{"cause": cause, "certainty": certainty} for cause, certainty in causes],
            "rule_pack": {"version": "pack1"}, "tool": {"version": "0.1.0"}}


def test_a_version_1_file_is_migrated_and_its_rows_become_searchable(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    MIGRATIONS[1](old)
    old.execute("INSERT INTO schema_version VALUES (1)")
    old.execute("INSERT INTO diagnoses VALUES ('old1', '2026-01-05T10:00:00+00:00', 'pack0', '0.0.9', '[\"a.log\"]', "
                "'==> a.log <==\nRuntimeError: CUDA out of memory.\n', 0, '{}', 'train.gpu_oom', 0.2)")
    old.execute("INSERT INTO causes VALUES ('old1', 1, 'train.gpu_oom', 0.9)")
    old.close()
    history = History(str(path))
    assert history.version() == SCHEMA_VERSION == 2
    assert [e.id for e in history.search(text="out of memory")] == ["old1"]
    assert [e.id for e in history.search(cause="train.", until="2026-01-05")] == ["old1"]
    assert history.search(since="2026-01-06") == []
    history.close()


def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    History(str(path)).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("INSERT INTO schema_version VALUES (99)")
    db.close()
    with pytest.raises(RuntimeError, match="history schema version 99 is newer than this nnunet-doctor knows"):
        History(str(path))


def test_search_counts_only_causes_found_and_trends_count_them_per_period() -> None:
    history = History(":memory:")
    oom = history.add(_report(("train.gpu_oom", 0.9), ("sys.ram_exhausted", 0.2)), {"x.log": "CUDA out of memory"},
                      raw=False, seconds=0.1)
    history.add(_report(("train.gpu_oom", 0.7)), {"y.log": "out of memory again"}, raw=False, seconds=0.1)
    history.add(_report(), {"z.log": "all fine"}, raw=False, seconds=0.1)
    assert len(history.search(cause="train.gpu_oom")) == 2
    assert history.search(cause="sys.ram_exhausted") == []  # 0.2: mentioned, not found
    assert [e.id for e in history.search(cause="train.gpu_oom", text="CUDA")] == [oom.id]
    assert len(history.search(text="of")) == 2  # shorter than a trigram: substring search
    periods, counts = history.trends("day")
    assert len(periods) == 1 and counts == {"train.gpu_oom": [2], "(all diagnoses)": [3]}


def test_retention_removes_old_diagnoses_everywhere() -> None:
    history = History(":memory:")
    kept = history.add(_report(("train.gpu_oom", 0.9)), {"a.log": "CUDA out of memory"}, raw=False, seconds=0.1)
    gone = history.add(_report(("train.gpu_oom", 0.9)), {"b.log": "CUDA out of memory"}, raw=False, seconds=0.1)
    history._db.execute("UPDATE diagnoses SET created = '2020-01-01T00:00:00+00:00' WHERE id = ?", (gone.id,))
    assert history.purge(0) == 0
    assert history.purge(30) == 1
    assert [e.id for e in history.search(text="memory")] == [kept.id]
    assert history.get(gone.id) is None
    assert history._db.execute("SELECT count(*) FROM causes").fetchone()[0] == 1
