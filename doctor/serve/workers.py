"""Diagnoses run in worker processes: a bounded number at a time, each within a time limit.

Each worker loads the rule pack once and then diagnoses one upload after another. A diagnosis that runs past
the time limit, or a worker that dies (out of memory, a crash in a native library), costs that one request a
clear error: the worker is killed and replaced, and the server keeps serving. Requests beyond the workers
wait in a bounded queue; past it they are refused at once (:class:`Busy`) rather than piling up.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from nnunet_doctor.engine.errors import DoctorError


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class Job(Struct):
    """One upload to diagnose: files under ``folder`` (relative names) and pasted text."""

    folder: str
    files: list[str] = field(default_factory=list)
    pasted: str = ""
    store_raw: bool = False
    top: int | None = None
    expanded_limit: int = 256 << 20  # bytes all inputs may decompress to


class Outcome(Struct):
    """A diagnosis (``report``, the ``texts`` to keep) or an error with the HTTP status it deserves."""

    report: dict[str, Any] | None = None
    texts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    status: int = 200


def diagnose_job(job: Job, pack: Any) -> Outcome:
    """Intake, diagnosis, report and redaction of one upload (in a worker, inside the job's folder)."""
    from .. import intake as _intake
    from ..pipeline import run_diagnosis
    from ..redaction import RedactionError, check_text
    from ..report import build_report

    started = time.perf_counter()
    try:
        os.chdir(job.folder)  # names in the report are the uploaded names, never server paths
        received = _intake.prepare(Path("."), job.files, job.pasted, limit=job.expanded_limit)
        redactor = None if job.store_raw else _intake.redact(received, Path("."))
        report = build_report(run_diagnosis(received.request, pack), job.top)
        report["findings"] += [{"source": "input", "message": note, "severity": "warning"} for note in received.notes]
        if redactor is not None:
            check_text(json.dumps({key: value for key, value in report.items() if key != "rule_pack"}), redactor)
            replaced = ", ".join(f"{n} {kind}" for kind, n in redactor.summary().items())
            report["findings"].append({"source": "desk", "severity": "info",
                                       "message": f"input redacted before diagnosis: {replaced or 'nothing personal found'}"})
        texts = received.texts
        return Outcome(report, texts, time.perf_counter() - started)
    except _intake.IntakeError as exc:
        return Outcome(error=str(exc), status=exc.status)
    except RedactionError as exc:
        return Outcome(error=f"{exc} (nothing was stored)", status=422)
    except DoctorError as exc:
        return Outcome(error=str(exc), status=422)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return Outcome(error="internal error while diagnosing this input (the server log has the details)",
                       status=500)


def _worker(conn: Connection, rule_dirs: list[str]) -> None:
    from ..pipeline import load_pack

    try:
        pack = load_pack([Path(d) for d in rule_dirs])
    except DoctorError as exc:
        conn.send(("failed", str(exc)))
        return
    conn.send(("ready", pack.version))
    home = os.getcwd()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(diagnose_job(job, pack))
        finally:
            os.chdir(home)


class _Worker:
    def __init__(self, context: Any, rule_dirs: list[str]):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, rule_dirs), daemon=True,
                                       name="nnunet-doctor-worker")
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> str:
        if not self.conn.poll(timeout):
            self.kill()
            raise RuntimeError(f"a diagnosis worker did not start within {timeout:.0f} s")
        state, detail = self.conn.recv()
        if state != "ready":
            self.kill()
            raise RuntimeError(detail)
        return str(detail)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """``size`` workers, ``queue`` waiting requests at most, ``timeout`` seconds per diagnosis."""

    def __init__(self, rule_dirs: list[Path], size: int = 2, timeout: float = 60.0, queue: int = 64,
                 start_timeout: float = 120.0):
        self.rule_dirs = [str(d) for d in rule_dirs]
        self.size, self.timeout, self.queue_limit, self.start_timeout = size, timeout, queue, start_timeout
        self._context = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._waiting = 0
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="diagnosis-wait")
        self.pack_version = ""
        self.replaced = 0

    def start(self) -> None:
        """Start the workers and wait until each has loaded the rule pack (call inside the event loop)."""
        workers = [_Worker(self._context, self.rule_dirs) for _ in range(self.size)]
        self._idle = asyncio.Queue()
        for worker in workers:
            self.pack_version = worker.wait_ready(self.start_timeout)
            self._idle.put_nowait(worker)

    def close(self) -> None:
        if self._idle is not None:
            while not self._idle.empty():
                self._idle.get_nowait().kill()
        self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def busy(self) -> int:
        return self.size - (self._idle.qsize() if self._idle else 0)

    async def run(self, job: Job) -> Outcome:
        assert self._idle is not None, "WorkerPool.start() was not called"
        if self._idle.empty() and self._waiting >= self.queue_limit:
            raise Busy(f"{self.size} diagnoses running and {self._waiting} waiting")
        self._waiting += 1
        try:
            worker = await self._idle.get()
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        try:
            worker.conn.send(job)
            outcome: Outcome = await asyncio.wait_for(loop.run_in_executor(self._threads, worker.conn.recv),
                                                      self.timeout)
        except asyncio.TimeoutError:
            worker = await self._replace(worker)
            return Outcome(error=f"the diagnosis took longer than {self.timeout:g} s and was stopped "
                                 "(a very large or unusual input?)", status=422)
        except (EOFError, OSError, BrokenPipeError):
            worker = await self._replace(worker)
            return Outcome(error="the diagnosis worker died on this input (out of memory?); it was restarted",
                           status=422)
        except BaseException:  # the client went away while it ran: the worker may still be busy
            worker = await self._replace(worker)
            raise
        finally:
            self._idle.put_nowait(worker)
        return outcome

    async def _replace(self, worker: _Worker) -> _Worker:
        self.replaced += 1
        worker.kill()
        fresh = _Worker(self._context, self.rule_dirs)
        await asyncio.get_running_loop().run_in_executor(None, fresh.wait_ready, self.start_timeout)
        return fresh
