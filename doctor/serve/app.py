"""The support desk web application (Starlette): pages to paste a log into, the history, and the JSON API.

Pages: ``/`` (paste box and file drop), ``/reports/{id}`` (a stored diagnosis at a stable URL; the report
itself is the project's HTML report, :func:`nnunet_doctor.report.render`), ``/search``, ``/trends``.
API: ``POST /api/diagnose``, ``GET /api/reports/{id}``, ``GET /api/reports``, ``GET /api/openapi.json``.
Every error is a page or a JSON object with a 4xx/5xx status, never a traceback.
"""
from __future__ import annotations

import datetime
import hmac
import json
import logging
import os
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote, urlencode

from msgspec import Struct, field
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nnunet_doctor import __version__
from nnunet_doctor.engine.certainty import is_found

from ..intake import safe_relative
from ..report import render, template_environment
from .history import Entry, History
from .workers import Busy, Job, Outcome, WorkerPool

TOKEN_ENV = "NNUNET_DOCTOR_TOKEN"
#: compressed uploads may decompress to this many times the request limit (beyond: a compression bomb)
EXPANSION = 5
_COOKIE = "nnunet_doctor_token"
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'self'; form-action 'self'")
log = logging.getLogger("nnunet_doctor.serve")


class DeskConfig(Struct):
    """How a desk runs (the options of ``diagnose serve``)."""

    db: Path
    rule_dirs: list[Path] = field(default_factory=list)
    token: str | None = None
    store_raw: bool = False
    retention_days: int = 90
    max_request_bytes: int = 50 << 20
    timeout: float = 60.0
    workers: int = 2
    queue: int = 64
    causes: Mapping[str, str] = field(default_factory=dict)  # the catalog: id -> description


class _TooLarge(Exception):
    pass


class _Guard:
    """Refuses a request body over the limit (declared or streamed) and, with a token, unauthenticated calls."""

    def __init__(self, app: ASGIApp, config: DeskConfig):
        self.app, self.config = app, config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.config.max_request_bytes
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _error(scope, 413, f"the request is larger than the limit of {limit >> 20} MiB")(scope, receive, send)
            return
        if self.config.token and not _authorised(scope, headers, self.config.token):
            await _unauthorised(scope)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        await self.app(scope, counted, send)


def _authorised(scope: Scope, headers: Mapping[str, str], token: str) -> bool:
    path = scope["path"]
    if path in ("/login", "/healthz"):
        return True
    offered = headers.get("authorization", "")
    if offered.lower().startswith("bearer "):
        return hmac.compare_digest(offered[7:].strip().encode(), token.encode())
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == _COOKIE:
            return hmac.compare_digest(value.encode(), token.encode())
    return False


def _api(scope: Scope) -> bool:
    return str(scope["path"]).startswith("/api/")


def _page(name: str, code: int = 200, **context: Any) -> HTMLResponse:
    text = template_environment(True).get_template(name).render(version=__version__, **context)
    return HTMLResponse(text, code, headers={"Content-Security-Policy": _CSP})


def _error(scope: Scope, status: int, message: str) -> Response:
    if _api(scope):
        return JSONResponse({"error": message, "status": status}, status)
    heading = "This input could not be diagnosed" if status in (413, 415, 422) else "The desk could not do that"
    return _page("desk_error.j2", status, status=status, message=message, heading=heading)


def _unauthorised(scope: Scope) -> Response:
    if _api(scope):
        return JSONResponse({"error": f"a token is required: send 'Authorization: Bearer <token>' (${TOKEN_ENV} "
                                      "on the server)", "status": 401}, 401, headers={"WWW-Authenticate": "Bearer"})
    return RedirectResponse(f"/login?next={quote(str(scope['path']))}", 303)


class Desk:
    """The application's state: configuration, history, workers; one per server."""

    def __init__(self, config: DeskConfig):
        self.config = config
        self.history: History | None = None
        self.pool = WorkerPool(config.rule_dirs, config.workers, config.timeout, config.queue)
        self.uploads = Path(tempfile.mkdtemp(prefix="nnunet-doctor-desk-"))
        self._purged = 0.0

    def start(self) -> None:
        self.history = History(str(self.config.db))
        self._purge()
        self.pool.start()
        log.info("desk ready: %s, rule pack %s, %d workers", self.config.db, self.pool.pack_version, self.pool.size)

    def stop(self) -> None:
        self.pool.close()
        if self.history is not None:
            self.history.close()
        shutil.rmtree(self.uploads, ignore_errors=True)

    def _purge(self) -> None:
        assert self.history is not None
        removed = self.history.purge(self.config.retention_days)
        self._purged = time.monotonic()
        if removed:
            log.info("retention: %d diagnoses older than %d days removed", removed, self.config.retention_days)

    @property
    def db(self) -> History:
        assert self.history is not None
        return self.history

    async def diagnose(self, job: Job) -> tuple[Outcome, Entry | None]:
        """Run a prepared job; store what it produced. The job's folder is removed afterwards."""
        try:
            outcome = await self.pool.run(job)
        finally:
            await run_in_threadpool(shutil.rmtree, job.folder, True)
        if outcome.report is None:
            return outcome, None
        entry = await run_in_threadpool(self.db.add, outcome.report, outcome.texts, raw=self.config.store_raw,
                                        seconds=outcome.seconds)
        if time.monotonic() - self._purged > 3600:
            await run_in_threadpool(self._purge)
        return outcome, entry

    def new_job(self) -> Job:
        return Job(tempfile.mkdtemp(dir=self.uploads), store_raw=self.config.store_raw,
                   expanded_limit=EXPANSION * self.config.max_request_bytes)


async def _save(upload: UploadFile, job: Job) -> None:
    """Write an uploaded file into the job's folder under a safe, unique relative name."""
    name = safe_relative(upload.filename or "upload.log")
    target = Path(job.folder) / name
    number = 1
    while str(name) in job.files or target.exists():
        number += 1
        name = name.with_name(f"{name.stem}-{number}{name.suffix}")
        target = Path(job.folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        upload.file.seek(0)
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)

    await run_in_threadpool(copy)
    job.files.append(str(name))


async def _job_from_form(desk: Desk, request: Request) -> Job:
    limit = desk.config.max_request_bytes
    form = await request.form(max_files=5000, max_fields=20, max_part_size=limit)
    job = desk.new_job()
    try:
        for key in ("log", "text"):
            value = form.get(key)
            if isinstance(value, str) and value.strip():
                job.pasted = value
        for key, value in form.multi_items():
            if isinstance(value, UploadFile) and value.filename:
                await _save(value, job)
    except BaseException:
        shutil.rmtree(job.folder, ignore_errors=True)
        raise
    finally:
        await form.close()
    return job


def _write_text(job: Job, name: str, text: str) -> None:
    relative = safe_relative(name)
    target = Path(job.folder) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    job.files.append(str(relative))


async def _job_from_json(desk: Desk, request: Request) -> Job:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, 'the body must be a JSON object: {"log": "..."} or {"logs": {"name": "..."}}')
    logs = body.get("logs", {})
    if not isinstance(logs, dict) or not all(isinstance(v, str) for v in logs.values()):
        raise HTTPException(400, '"logs" must map file names to their text')
    top = body.get("top")
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        raise HTTPException(400, '"top" must be a positive integer')
    job = desk.new_job()
    job.top = top
    if isinstance(body.get("log"), str):
        job.pasted = body["log"]
    for name, text in logs.items():
        await run_in_threadpool(_write_text, job, str(name), text)
    if body.get("bundle") is not None:
        await run_in_threadpool(_write_text, job, "bundle.json", json.dumps(body["bundle"]))
    return job


# -- pages ---------------------------------------------------------------------------------------------------

def _desk(request: Request) -> Desk:
    return request.app.state.desk  # type: ignore[no-any-return]


def _entry_view(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "url": f"/reports/{entry.id}", "created": entry.created.replace("T", " ")[:19],
            "inputs": entry.inputs, "top": entry.top_cause, "rule_pack": entry.rule_pack, "raw": entry.raw,
            "causes": [{"cause": cause, "certainty": f"{certainty:.2f}", "found": is_found(certainty)}
                       for cause, certainty in entry.causes[:5]]}


async def home(request: Request) -> Response:
    desk = _desk(request)
    recent = await run_in_threadpool(desk.db.search, limit=10)
    return _page("desk_home.j2", recent=[_entry_view(e) for e in recent], limit_mib=desk.config.max_request_bytes >> 20,
                 raw=desk.config.store_raw, total=await run_in_threadpool(desk.db.count))


async def submit(request: Request) -> Response:
    """The paste box's form: diagnose, then show the stored report at its URL."""
    desk = _desk(request)
    outcome, entry = await desk.diagnose(await _job_from_form(desk, request))
    if entry is None:
        return _error(request.scope, outcome.status, outcome.error or "")
    return RedirectResponse(f"/reports/{entry.id}", 303)


async def _stored(request: Request) -> tuple[Entry, dict[str, Any], str]:
    found = await run_in_threadpool(_desk(request).db.get, request.path_params["id"])
    if found is None:
        raise HTTPException(404, f"no diagnosis with id {request.path_params['id']!r} (removed by retention?)")
    return found


async def report_page(request: Request) -> Response:
    entry, report, _ = await _stored(request)
    return _page("desk_report.j2", entry=_entry_view(entry), report=report,
                 findings=[f for f in report.get("findings", []) if f.get("source") in ("input", "desk")])


async def report_html(request: Request) -> Response:
    """The project's HTML report of a stored diagnosis (what ``diagnose --format html -v`` writes)."""
    _, report, _ = await _stored(request)
    text = render(report, "html", verbose=True, explain=request.query_params.get("explain") == "1")
    return HTMLResponse(text, headers={"Content-Security-Policy": _CSP})


async def report_input(request: Request) -> Response:
    entry, _, text = await _stored(request)
    note = "" if entry.raw else "# stored redacted (nnunet-doctor support desk)\n"
    return PlainTextResponse(note + text)


def _search_arguments(request: Request) -> dict[str, Any]:
    query = request.query_params
    arguments: dict[str, Any] = {key: query.get(key, "").strip() or None for key in ("cause", "text", "since", "until")}
    for key in ("since", "until"):
        if arguments[key]:
            try:
                datetime.date.fromisoformat(str(arguments[key])[:10])
            except ValueError:
                raise HTTPException(400, f"{key}: not a date (YYYY-MM-DD): {arguments[key]!r}") from None
    try:
        arguments["limit"] = min(max(int(query.get("limit", "50")), 1), 500)
        arguments["offset"] = max(int(query.get("offset", "0")), 0)
    except ValueError:
        raise HTTPException(400, "limit and offset must be integers") from None
    return arguments


async def search_page(request: Request) -> Response:
    arguments = _search_arguments(request)
    searched = any(arguments[key] for key in ("cause", "text", "since", "until"))
    found = await run_in_threadpool(lambda: _desk(request).db.search(**arguments))
    query = {k: arguments[k] or "" for k in ("cause", "text", "since", "until")}
    older = None
    if len(found) == arguments["limit"]:
        older = "/search?" + urlencode({**{k: v for k, v in query.items() if v}, "limit": arguments["limit"],
                                        "offset": arguments["offset"] + arguments["limit"]})
    return _page("desk_search.j2", query=query, searched=searched, results=[_entry_view(e) for e in found],
                 causes=sorted(_desk(request).config.causes), older=older)


async def trends_page(request: Request) -> Response:
    bucket = request.query_params.get("by", "week")
    if bucket not in ("day", "week", "month"):
        raise HTTPException(400, "by: day, week or month")
    periods, counts = await run_in_threadpool(_desk(request).db.trends, bucket)
    peak = max((n for cause, row in counts.items() if cause != "(all diagnoses)" for n in row), default=0) or 1
    rows = [{"cause": cause, "total": sum(row), "all": cause == "(all diagnoses)",
             "description": _desk(request).config.causes.get(cause, ""),
             "cells": [{"count": n, "width": 0 if cause == "(all diagnoses)" else round(100 * n / peak)} for n in row]}
            for cause, row in counts.items()]
    return _page("desk_trends.j2", periods=periods, rows=rows, by=bucket)


async def login_page(request: Request) -> Response:
    return _page("desk_login.j2", next=request.query_params.get("next", "/"), failed=False)


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    offered, target = str(form.get("token", "")), str(form.get("next", "/"))
    token = _desk(request).config.token or ""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    if not hmac.compare_digest(offered.encode(), token.encode()):
        return _page("desk_login.j2", 401, next=target, failed=True)
    response = RedirectResponse(target, 303)
    response.set_cookie(_COOKIE, token, httponly=True, samesite="strict", max_age=30 * 86400)
    return response


# -- API -----------------------------------------------------------------------------------------------------

async def api_diagnose(request: Request) -> Response:
    """
    summary: Diagnose a pasted log, log files or a bundle
    description: >
      JSON body {"log": "<pasted text>", "logs": {"<name>": "<text>"}, "bundle": {...}, "top": N}, or multipart
      form data (field "log", files "files": logs, .gz/.bz2/.xz, a fold folder's files, a bundle). The answer is
      the versioned JSON report (docs/report-format.md); Location and X-Report-Id name the stored diagnosis.
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/DiagnoseRequest"}
        multipart/form-data:
          schema:
            type: object
            properties:
              log: {type: string}
              files: {type: array, items: {type: string, format: binary}}
    responses:
      201:
        description: the report (stored)
        content: {application/json: {schema: {$ref: "#/components/schemas/Report"}}}
      400: {description: malformed request, content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
      401: {description: token missing or wrong}
      413: {description: request or decompressed input over the limit}
      415: {description: binary input, not a log}
      422: {description: input that cannot be diagnosed (broken bundle or archive, nothing readable, time limit)}
      503: {description: every worker busy and the queue full; retry later}
    """
    desk = _desk(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        job = await _job_from_json(desk, request)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        job = await _job_from_form(desk, request)
    else:
        raise HTTPException(415, "send application/json or multipart/form-data")
    outcome, entry = await desk.diagnose(job)
    if entry is None:
        return JSONResponse({"error": outcome.error, "status": outcome.status}, outcome.status)
    return JSONResponse(outcome.report, 201, headers={"Location": f"/api/reports/{entry.id}", "X-Report-Id": entry.id,
                                                      "Link": f'</reports/{entry.id}>; rel="alternate"; type="text/html"'})


async def api_report(request: Request) -> Response:
    """
    summary: A stored diagnosis's JSON report
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    responses:
      200: {description: the report, content: {application/json: {schema: {$ref: "#/components/schemas/Report"}}}}
      404: {description: no such diagnosis (or removed by retention)}
    """
    _, report, _ = await _stored(request)
    return JSONResponse(report)


async def api_search(request: Request) -> Response:
    """
    summary: Search the history, newest first
    parameters:
      - {name: cause, in: query, schema: {type: string}, description: "a cause id, or a prefix ending in '.'"}
      - {name: text, in: query, schema: {type: string}, description: a substring of the stored input}
      - {name: since, in: query, schema: {type: string, format: date}}
      - {name: until, in: query, schema: {type: string, format: date}}
      - {name: limit, in: query, schema: {type: integer, default: 50, maximum: 500}}
      - {name: offset, in: query, schema: {type: integer, default: 0}}
    responses:
      200: {description: the matching diagnoses}
    """
    found = await run_in_threadpool(lambda: _desk(request).db.search(**_search_arguments(request)))
    return JSONResponse({"results": [
        {"id": e.id, "created": e.created, "url": f"/reports/{e.id}", "report": f"/api/reports/{e.id}",
         "inputs": e.inputs, "rule_pack": e.rule_pack, "top": e.top_cause,
         "causes": [{"cause": c, "certainty": p} for c, p in e.causes]} for e in found]})


async def healthz(request: Request) -> Response:
    desk = _desk(request)
    return JSONResponse({"ok": True, "version": __version__, "rule_pack": desk.pool.pack_version,
                         "workers": desk.pool.size, "busy": desk.pool.busy, "history_schema": desk.db.version()})


_SCHEMAS = SchemaGenerator({"openapi": "3.1.0", "info": {"title": "nnunet-doctor support desk", "version": __version__}})


async def openapi(request: Request) -> Response:
    schema = _SCHEMAS.get_schema(routes=request.app.routes)
    report_schema = json.loads(resources.files("nnunet_doctor").joinpath("report.schema.json").read_text("utf-8"))
    report_schema.pop("$schema", None)
    schema["components"] = {"schemas": {
        "Report": report_schema,
        "Error": {"type": "object", "required": ["error", "status"],
                  "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
        "DiagnoseRequest": {"type": "object", "properties": {
            "log": {"type": "string", "description": "pasted console output"},
            "logs": {"type": "object", "additionalProperties": {"type": "string"}, "description": "name -> text"},
            "bundle": {"type": "object", "description": "a bundle written by `diagnose collect`"},
            "top": {"type": "integer", "minimum": 1}}}}}
    schema["components"]["securitySchemes"] = {"token": {"type": "http", "scheme": "bearer"}}
    return JSONResponse(schema)


# -- errors --------------------------------------------------------------------------------------------------

async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(request.scope, exc.status_code, str(exc.detail))


async def _too_large(request: Request, exc: Exception) -> Response:
    limit = _desk(request).config.max_request_bytes
    return _error(request.scope, 413, f"the request is larger than the limit of {limit >> 20} MiB")


async def _busy(request: Request, exc: Exception) -> Response:
    response = _error(request.scope, 503, f"the desk is busy ({exc}); try again in a minute")
    response.headers["Retry-After"] = "30"
    return response


async def _internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    try:
        return _error(request.scope, 500, "internal error (the server log has the details)")
    except Exception:  # even the error page failed: plain text, still no traceback
        return PlainTextResponse("internal error (the server log has the details)", 500)


def _form_error(request: Request, exc: Exception) -> Response:
    return _error(request.scope, 400, f"malformed upload: {exc}")


def create_app(config: DeskConfig) -> ASGIApp:
    """The desk as an ASGI application (start-up loads the workers and opens the history)."""
    from contextlib import asynccontextmanager

    from starlette.formparsers import MultiPartException

    desk = Desk(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        app.state.desk = desk
        desk.start()
        try:
            yield
        finally:
            desk.stop()

    routes = [
        Route("/", home), Route("/diagnoses", submit, methods=["POST"]),
        Route("/reports/{id}", report_page), Route("/reports/{id}/report.html", report_html),
        Route("/reports/{id}/input.txt", report_input),
        Route("/search", search_page), Route("/trends", trends_page),
        Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/api/diagnose", api_diagnose, methods=["POST"]), Route("/api/reports", api_search),
        Route("/api/reports/{id}", api_report), Route("/api/openapi.json", openapi, include_in_schema=False),
        Route("/healthz", healthz, include_in_schema=False),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response] | Response]] = {
        HTTPException: _http_error, _TooLarge: _too_large, Busy: _busy, MultiPartException: _form_error,
        Exception: _internal}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    return _Guard(app, config)


def exposure_warning(host: str, token: str | None) -> str | None:
    """What to tell the person who starts a desk that others can reach without a token."""
    if token or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"WARNING: listening on {host} without authentication: anyone who reaches this port can read every "
            f"stored diagnosis. Set --token (or ${TOKEN_ENV}), and put TLS in front of it.")


def serve(config: DeskConfig, host: str, port: int) -> None:
    """Run the desk under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level=os.environ.get("NNUNET_DOCTOR_LOG", "info"),
                proxy_headers=False, server_header=False, timeout_graceful_shutdown=10)
