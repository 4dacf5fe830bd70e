"""The desk's history: every diagnosis in an embedded SQLite file, searchable by cause, text and date.

A row keeps the input as it was stored (redacted unless the desk runs with ``--store-raw``), the JSON report,
the time (UTC), and the rule pack and tool versions that produced it. Ranked causes sit in their own table for
search and counts; a trigram full-text index serves text search where SQLite has FTS5. The file is created on
first use; its schema version lives in ``schema_version`` and :data:`MIGRATIONS` brings an older file up to date.

>>> history = History(":memory:")
>>> report = {"causes": [{"cause": "train.gpu_oom", "certainty": 0.9}], "rule_pack": {"version": "abc"},
...           "tool": {"version": "0.1.0"}}
>>> entry = history.add(report, {"pasted.log": "RuntimeError: CUDA out of memory."}, raw=False, seconds=0.1)
>>> [found.id for found in history.search(cause="train.gpu_oom")] == [entry.id]
True
>>> [found.id for found in history.search(text="out of memory")] == [entry.id]
True
"""
from __future__ import annotations

import datetime
import json
import secrets
import sqlite3
import threading
from typing import Any, Callable, Mapping

from msgspec import Struct

from nnunet_doctor.engine.certainty import FOUND_THRESHOLD  # searches and trends count found causes

#: characters of one input that text search covers (a larger input: its head and its tail)
INDEXED_CHARS = 4 << 20
_BUCKETS = {"day": "%Y-%m-%d", "week": "%Y-W%W", "month": "%Y-%m"}


def _statements(db: sqlite3.Connection, script: str) -> None:
    """Run a script inside the caller's transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _statements(db, """
        CREATE TABLE diagnoses (
            id TEXT PRIMARY KEY,
            created TEXT NOT NULL,
            rule_pack TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            inputs TEXT NOT NULL,
            input_text TEXT NOT NULL,
            raw INTEGER NOT NULL,
            report TEXT NOT NULL,
            top_cause TEXT,
            seconds REAL NOT NULL
        );
        CREATE INDEX diagnoses_created ON diagnoses(created);
        CREATE TABLE causes (
            diagnosis_id TEXT NOT NULL REFERENCES diagnoses(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            cause TEXT NOT NULL,
            certainty REAL NOT NULL,
            PRIMARY KEY (diagnosis_id, rank)
        );
        CREATE INDEX causes_cause ON causes(cause, certainty);
    """)


def _v2(db: sqlite3.Connection) -> None:
    """Full-text search over the stored inputs (trigram: any substring of three characters or more)."""
    if _has_trigram(db):
        db.execute("CREATE VIRTUAL TABLE diagnoses_text USING fts5(id UNINDEXED, body, tokenize='trigram')")
        db.execute("INSERT INTO diagnoses_text(id, body) SELECT id, input_text FROM diagnoses")


def _has_trigram(db: sqlite3.Connection) -> bool:
    try:
        db.execute("CREATE VIRTUAL TABLE temp._probe USING fts5(x, tokenize='trigram')")
        db.execute("DROP TABLE temp._probe")
        return True
    except sqlite3.OperationalError:
        return False


#: schema version -> the step that brings the previous version to it
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1, 2: _v2}
SCHEMA_VERSION = max(MIGRATIONS)


class Entry(Struct, frozen=True):
    """One stored diagnosis, as lists and pages show it."""

    id: str
    created: str
    rule_pack: str
    tool_version: str
    inputs: list[str]
    raw: bool
    top_cause: str | None
    causes: list[tuple[str, float]]
    seconds: float


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


class History:
    """The database of one desk; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: str):
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._migrate()
            self.full_text = bool(self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'diagnoses_text'").fetchone())

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: history schema version {current} is newer than this nnunet-doctor "
                               f"knows ({SCHEMA_VERSION}); upgrade nnunet-doctor")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[version](self._db)
                self._db.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -----------------------------------------------------------------------------------------
    def add(self, report: Mapping[str, Any], texts: Mapping[str, str], *, raw: bool, seconds: float) -> Entry:
        """Store a diagnosis; returns its entry (its id is the stable part of its URL)."""
        causes = [(str(c["cause"]), float(c["certainty"])) for c in report.get("causes", [])]
        entry = Entry(secrets.token_urlsafe(9), _now(), str(report["rule_pack"]["version"]),
                      str(report["tool"]["version"]), list(texts), raw, causes[0][0] if causes else None, causes,
                      round(seconds, 4))
        body = "".join(f"==> {name} <==\n{text}\n" for name, text in texts.items())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO diagnoses VALUES (?,?,?,?,?,?,?,?,?,?)", (
                    entry.id, entry.created, entry.rule_pack, entry.tool_version, json.dumps(entry.inputs), body,
                    int(raw), json.dumps(report, ensure_ascii=False), entry.top_cause, entry.seconds))
                self._db.executemany("INSERT INTO causes VALUES (?,?,?,?)",
                                     [(entry.id, rank, cause, certainty)
                                      for rank, (cause, certainty) in enumerate(causes, 1)])
                if self.full_text:
                    self._db.execute("INSERT INTO diagnoses_text(id, body) VALUES (?, ?)", (entry.id, _indexed(body)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return entry

    def purge(self, days: int) -> int:
        """Delete diagnoses older than ``days`` days (0 keeps everything); returns how many."""
        if days <= 0:
            return 0
        cutoff = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)).replace(
            microsecond=0).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            ids = [row[0] for row in self._db.execute("SELECT id FROM diagnoses WHERE created < ?", (cutoff,))]
            if self.full_text:
                self._db.executemany("DELETE FROM diagnoses_text WHERE id = ?", [(i,) for i in ids])
            self._db.execute("DELETE FROM diagnoses WHERE created < ?", (cutoff,))
            self._db.execute("COMMIT")
        return len(ids)

    # -- reading -----------------------------------------------------------------------------------------
    def _entries(self, rows: list[tuple[Any, ...]]) -> list[Entry]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        causes: dict[str, list[tuple[str, float]]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for diagnosis_id, cause, certainty in self._db.execute(
                f"SELECT diagnosis_id, cause, certainty FROM causes WHERE diagnosis_id IN ({marks}) "
                "ORDER BY diagnosis_id, rank", ids):
            causes[diagnosis_id].append((cause, certainty))
        return [Entry(row[0], row[1], row[2], row[3], json.loads(row[4]), bool(row[5]), row[6], causes[row[0]],
                      row[7]) for row in rows]

    _COLUMNS = "d.id, d.created, d.rule_pack, d.tool_version, d.inputs, d.raw, d.top_cause, d.seconds"

    def get(self, diagnosis_id: str) -> tuple[Entry, dict[str, Any], str] | None:
        """The entry, its report and its stored input; None for an unknown id."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._COLUMNS} FROM diagnoses d WHERE d.id = ?",
                                    (diagnosis_id,)).fetchall()
            if not rows:
                return None
            report, text = self._db.execute("SELECT report, input_text FROM diagnoses WHERE id = ?",
                                            (diagnosis_id,)).fetchone()
            return self._entries(rows)[0], json.loads(report), text

    def search(self, *, cause: str | None = None, text: str | None = None, since: str | None = None,
               until: str | None = None, limit: int = 50, offset: int = 0) -> list[Entry]:
        """Newest first. ``cause``: an id, or a prefix ending in '.' (``data.``), found at or above medium
        certainty; ``text``: a substring of the stored input (of its first MiB and last 3 MiB when it is larger); ``since``/``until``: dates (YYYY-MM-DD), inclusive."""
        where, params = [], []  # type: ignore[var-annotated]
        if cause:
            match = "c.cause LIKE ? ESCAPE '\\'" if cause.endswith(".") else "c.cause = ?"
            where.append(f"d.id IN (SELECT c.diagnosis_id FROM causes c WHERE {match} AND c.certainty >= ?)")
            params += [_like_prefix(cause) if cause.endswith(".") else cause, FOUND_THRESHOLD]
        if text:
            if self.full_text and len(text) >= 3:
                where.append("d.id IN (SELECT id FROM diagnoses_text WHERE diagnoses_text MATCH ?)")
                params.append('"' + text.replace('"', '""') + '"')
            else:
                where.append("instr(lower(d.input_text), lower(?)) > 0")
                params.append(text)
        if since:
            where.append("d.created >= ?")
            params.append(since)
        if until:
            where.append("d.created < ?")
            params.append(_next_day(until))
        sql = (f"SELECT {self._COLUMNS} FROM diagnoses d" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY d.created DESC, d.rowid DESC LIMIT ? OFFSET ?")
        with self._lock:
            return self._entries(self._db.execute(sql, params + [limit, offset]).fetchall())

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM diagnoses").fetchone()[0])

    def trends(self, bucket: str = "week", periods: int = 12) -> tuple[list[str], dict[str, list[int]]]:
        """Cause counts over time: the last ``periods`` buckets (day, week or month) that hold diagnoses, and
        for each cause found at or above medium certainty, its count per bucket (most frequent cause first)."""
        form = _BUCKETS[bucket]
        with self._lock:
            rows = self._db.execute(
                "SELECT strftime(?, d.created) AS period, c.cause, count(*) FROM causes c "
                "JOIN diagnoses d ON d.id = c.diagnosis_id WHERE c.certainty >= ? GROUP BY period, c.cause",
                (form, FOUND_THRESHOLD)).fetchall()
            totals = dict(self._db.execute("SELECT strftime(?, created) AS period, count(*) FROM diagnoses "
                                           "GROUP BY period", (form,)).fetchall())
        periods_seen = sorted(set(totals))[-periods:]
        counts: dict[str, list[int]] = {}
        for period, cause, number in rows:
            if period in periods_seen:
                counts.setdefault(cause, [0] * len(periods_seen))[periods_seen.index(period)] = number
        counts = dict(sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0])))
        counts["(all diagnoses)"] = [int(totals[period]) for period in periods_seen]
        return periods_seen, counts


def _indexed(body: str) -> str:
    """What the full-text index holds of a stored input: all of it up to :data:`INDEXED_CHARS`, else its head
    and its longer tail (where a failed run prints its error); the whole input stays stored."""
    if len(body) <= INDEXED_CHARS:
        return body
    return body[:INDEXED_CHARS // 4] + "\n" + body[-(INDEXED_CHARS - INDEXED_CHARS // 4):]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _next_day(day: str) -> str:
    try:
        return (datetime.date.fromisoformat(day[:10]) + datetime.timedelta(days=1)).isoformat()
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {day!r}") from None
