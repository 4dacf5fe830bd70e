"""A real desk for the tests: ``diagnose serve`` in a subprocess on a free loopback port, and a real browser."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install '.[serve]')")

REPO = Path(__file__).resolve().parents[2]
REAL_LOGS = REPO / "tests" / "fixtures" / "logs" / "real"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Desk:
    url: str
    process: subprocess.Popen[bytes]
    db: Path
    stderr: Path

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, Any, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def post_json(self, path: str, document: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        status, answer_headers, body = self.call("POST", path, json.dumps(document).encode(),
                                                 {"Content-Type": "application/json", **(headers or {})})
        return status, answer_headers, json.loads(body)

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, body = self.call("GET", path, headers=headers)
        return status, json.loads(body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_desk(folder: Path, *options: str, env: dict[str, str] | None = None) -> Desk:
    port = free_port()
    db, stderr = folder / "desk.sqlite", folder / "desk.stderr"
    command = [str(Path(sys.executable).parent / "diagnose"), "serve", "--port", str(port), "--db", str(db), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr.open("wb"),
                               env={**os.environ, "NNUNET_DOCTOR_LOG": "warning", **(env or {})})
    desk = Desk(f"http://127.0.0.1:{port}", process, db, stderr)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"diagnose serve exited ({process.returncode}):\n{stderr.read_text()}")
        try:
            if desk.call("GET", "/healthz")[0] == 200:
                return desk
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"diagnose serve did not answer within 120 s:\n{stderr.read_text()}")


def stop_desk(desk: Desk) -> None:
    desk.process.terminate()
    try:
        desk.process.wait(20)
    except subprocess.TimeoutExpired:
        desk.process.kill()


SITE_RULE = """\
causes:
  environment: {site.quota_exceeded: "the cluster's disk quota is exhausted"}
rules:
  - id: site.quota_exceeded.log
    title: The cluster quota is exhausted
    cause: site.quota_exceeded
    phase: environment
    severity: error
    certainty: 0.9
    status: stable
    signatures:
      quota: {anchors: ["Disk quota exceeded"]}
    when: match.quota
    fix: Ask for more quota, or point nnUNet_results at /scratch/$USER.
    tests:
      - {log: "OSError: [Errno 122] Disk quota exceeded", expect: fire}
      - {log: "Epoch 3", expect: quiet}
"""


@pytest.fixture(scope="session")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    folder = tmp_path_factory.mktemp("desk")
    (folder / "site_rules").mkdir()
    (folder / "site_rules" / "quota.yaml").write_text(SITE_RULE, encoding="utf-8")
    running = start_desk(folder, "--workers", "2", "--timeout", "30", "--max-request-mb", "4",
                         "--rules", str(folder / "site_rules"))
    yield running
    stop_desk(running)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it
    assert running.process.returncode in (0, -signal.SIGTERM), running.stderr.read_text()
    assert "Traceback" not in running.stderr.read_text()


@pytest.fixture(scope="session")
def desk_starter() -> Any:
    """start(folder, *options, env=...) and stop(desk), for a test module that needs a desk of its own."""
    class Starter:
        start = staticmethod(start_desk)
        stop = staticmethod(stop_desk)

    return Starter


@pytest.fixture(scope="session")
def make_bundle() -> Any:
    """make_bundle(log, out): a real bundle of this log, as `diagnose collect --log` writes it."""
    return _bundle


def _bundle(log: Path, out: Path) -> None:
    """A real bundle of this log, as `diagnose collect --log` writes it (log probe only, not redacted)."""
    from nnunet_doctor.bundle import build_bundle, write_bundle
    from nnunet_doctor.engine.diagnosis import diagnose
    from nnunet_doctor.pipeline import DiagnosisRequest, gather_facts, load_pack, log_sources

    request = DiagnosisRequest(logs=[str(log)], offline=True, probes={"log"})
    pack = load_pack([])
    gathered = gather_facts(request, pack)
    facts = list(gathered.facts)
    document = build_bundle(facts, gathered.findings, gathered.reports, diagnose(pack, gathered.facts, []), pack,
                            {"logs": [str(log)]}, log_sources(request), None)
    write_bundle(document, out)


@pytest.fixture(scope="module")  # closed after its module: one sync Playwright may run at a time in a process
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extra)")
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install -y chromium (.ci/run installs it)"
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
