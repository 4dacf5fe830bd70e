#!/usr/bin/env python3
"""A load check of the support desk: ``diagnose serve`` on loopback under 8 concurrent clients.

    .venv/bin/python bench/serve_load.py [--requests 200] [--clients 8] [--workers N]

Starts a real desk (a subprocess, fresh database), then:
  - anchor: the same logs diagnosed in this process, one after another (``run_diagnosis`` with the pack
    loaded once): what a diagnosis costs without HTTP, storage, redaction or queueing;
  - load: ``--requests`` pasted logs (the real nnU-Net logs of tests/fixtures/logs/real/, round-robin) sent as
    ``POST /api/diagnose`` by ``--clients`` threads; every answer must be 201 with the same ranked causes as
    the anchor's diagnosis of that log; p50/p95/max latency, throughput, and the peak memory of the server and
    its workers (sum of each process's VmHWM) are printed;
  - nothing lost: every returned id is in the database and the row count equals the answers;
  - malformed inputs (binary, compression bomb, broken bundle and archive, not JSON, wrong type, over the
    size limit, garbage multipart) must each get a 4xx, and the desk must still answer and diagnose after them.
Exit status 0 when every check passes.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = REPO / "tests" / "fixtures" / "logs" / "real"


def _call(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None,
          ) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _multipart(name: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
            + data + f"\r\n--{boundary}--\r\n".encode())
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _oversized(url: str, size: int) -> tuple[int, str]:
    """Declare a body over the limit, send its first MiB, and read the answer (the desk must not wait for it)."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/api/diagnose")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    try:
        connection.send(b"x" * (1 << 20))
    except OSError:
        pass  # the desk answered and closed before the first MiB arrived
    answer = connection.getresponse()
    message = json.loads(answer.read()).get("error", "")
    connection.close()
    return answer.status, message


def _memory_kib(pid: int) -> int:
    """VmHWM (peak resident memory) of a process and of its children, summed."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def _causes(report: dict[str, Any]) -> list[tuple[str, float]]:
    return [(cause["cause"], cause["certainty"]) for cause in report["causes"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    logs = [(path.name, path.read_text(encoding="utf-8")) for path in sorted(REAL_LOGS.glob("*.log"))]

    # anchor: the same diagnoses in-process
    from nnunet_doctor.pipeline import DiagnosisRequest, load_pack, run_diagnosis
    from nnunet_doctor.report import build_report

    pack = load_pack([])
    expected, anchor_times = {}, []
    for name, text in logs:
        started = time.perf_counter()
        report = build_report(run_diagnosis(DiagnosisRequest(log_texts={"pasted.log": text}, offline=True), pack))
        anchor_times.append(time.perf_counter() - started)
        expected[name] = _causes(report)

    folder = Path(tempfile.mkdtemp(prefix="serve-load-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    db = folder / "desk.sqlite"
    server = subprocess.Popen([str(Path(sys.executable).parent / "diagnose"), "serve", "--port", str(port), "--db",
                               str(db), "--workers", str(args.workers)], stdout=subprocess.DEVNULL,
                              stderr=(folder / "stderr").open("wb"), env={**os.environ, "NNUNET_DOCTOR_LOG": "warning"})
    failures: list[str] = []
    try:
        started = time.monotonic()
        while True:
            try:
                if _call(url + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() - started > 180:
                raise SystemExit(f"the desk did not start:\n{(folder / 'stderr').read_text()}")
            time.sleep(0.2)
        startup = time.monotonic() - started

        latencies: list[float] = []
        stored = correct = 0
        lock = threading.Lock()
        queue = list(range(args.requests))

        def client() -> None:
            nonlocal stored, correct
            while True:
                with lock:
                    if not queue:
                        return
                    index = queue.pop()
                name, text = logs[index % len(logs)]
                body = json.dumps({"log": text}).encode()
                began = time.perf_counter()
                status, raw = _call(url + "/api/diagnose", "POST", body, {"Content-Type": "application/json"})
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)
                    if status != 201:
                        failures.append(f"{name}: HTTP {status} {raw[:200]!r}")
                        continue
                    stored += 1
                    if _causes(json.loads(raw)) == expected[name]:
                        correct += 1
                    else:
                        failures.append(f"{name}: causes {_causes(json.loads(raw))} != {expected[name]}")

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        load_started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load_seconds = time.perf_counter() - load_started
        memory = _memory_kib(server.pid)

        rows = sqlite3.connect(db).execute("SELECT count(*), count(DISTINCT id) FROM diagnoses").fetchone()
        if rows != (stored, stored) or stored != args.requests:
            failures.append(f"database holds {rows[0]} rows ({rows[1]} distinct ids) for {stored} stored answers "
                            f"of {args.requests} requests")

        bomb = gzip.compress(b"\0" * (300 << 20), 6)
        malformed = {
            "binary file": _multipart("model.pth", b"PK\x03\x04" + bytes(4096)),
            "compression bomb (300 MiB of zeros)": _multipart("train.log.gz", bomb),
            "broken bundle": _multipart("bundle.json", b'{"schema": "nnunet-doctor/bundle", "facts": ['),
            "broken archive": _multipart("train.log.gz", b"\x1f\x8b\x08\x00garbage"),
            "empty upload": _multipart("empty.log", b""),
            "not JSON": (b"{oops", {"Content-Type": "application/json"}),
            "wrong content type": (b"log", {"Content-Type": "text/plain"}),
            "garbage multipart": (b"--b\r\nno headers", {"Content-Type": "multipart/form-data; boundary=b"}),
            "JSON that is not an object": (b"[1, 2]", {"Content-Type": "application/json"}),
        }
        answers = {"over 50 MiB (declared length)": _oversized(url, (50 << 20) + 16)}
        if not 400 <= answers["over 50 MiB (declared length)"][0] < 500:
            failures.append("an oversized request was not refused with a 4xx")
        for what, (body, headers) in malformed.items():
            status, raw = _call(url + "/api/diagnose", "POST", body, headers)
            answers[what] = (status, json.loads(raw).get("error", "") if raw.startswith(b"{") else raw[:80].decode())
            if not 400 <= status < 500:
                failures.append(f"malformed input '{what}': HTTP {status}")
        status, raw = _call(url + "/api/diagnose", "POST", json.dumps({"log": logs[0][1]}).encode(),
                            {"Content-Type": "application/json"})
        if status != 201 or _causes(json.loads(raw)) != expected[logs[0][0]]:
            failures.append(f"after the malformed inputs the desk answered HTTP {status}")
        alive = server.poll() is None and _call(url + "/healthz")[0] == 200
    finally:
        server.terminate()
        server.wait(30)
    latencies.sort()
    anchor = statistics.median(anchor_times)
    print(f"desk: {args.workers} workers, cpu count {os.cpu_count()}, started in {startup:.1f} s")
    print(f"anchor: in-process diagnosis of the same {len(logs)} real logs, median {1000 * anchor:.0f} ms")
    print(f"load: {args.requests} pasted logs from {args.clients} concurrent clients in {load_seconds:.1f} s "
          f"({args.requests / load_seconds:.1f} diagnoses/s)")
    print(f"latency: p50 {1000 * statistics.median(latencies):.0f} ms, "
          f"p95 {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms, max {1000 * latencies[-1]:.0f} ms "
          f"(p50 / anchor: {statistics.median(latencies) / anchor:.1f}; with {args.clients} clients on "
          f"{args.workers} workers a request waits for others)")
    print(f"peak memory, server + workers (sum of VmHWM): {memory / 1024:.0f} MiB")
    print(f"correct answers: {correct}/{args.requests}; database rows: {rows[0]} ({rows[1]} distinct ids)")
    for what, (status, message) in answers.items():
        print(f"  malformed: {what:<36} HTTP {status}  {message[:90]}")
    print(f"desk still serving after them: {alive}")
    for failure in failures[:20]:
        print(f"FAIL {failure}")
    return 0 if not failures and alive else 1


if __name__ == "__main__":
    sys.exit(main())
