"""What a support desk receives, made ready for the pipeline: pasted text and files in, one request out.

A ticket brings pasted console output and files: logs, ``.gz``/``.bz2``/``.xz`` logs, a fold folder's files
(``fold_0/training_log_*.txt`` with its ``debug.json``), or a bundle written by ``diagnose collect``.
:func:`prepare` reads them from one folder, decompresses them with a bound (a compression bomb is refused,
not expanded), skips binary files (a checkpoint or ``progress.png`` dropped with a fold folder) with a note,
refuses an input with nothing readable, and returns the :class:`~nnunet_doctor.pipeline.DiagnosisRequest`
with the texts to keep in the history. ``diagnose serve`` and ``diagnose batch`` share it.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "train.log").write_text("RuntimeError: CUDA out of memory.")
>>> intake = prepare(folder, ["train.log"])
>>> intake.request.logs, intake.names
(['train.log'], ['train.log'])
>>> _ = (folder / "model.pth").write_bytes(b"PK\\x03\\x04\\x00\\x00binary")
>>> prepare(folder, ["model.pth"])
Traceback (most recent call last):
...
nnunet_doctor.intake.IntakeError: model.pth: a binary file, not a log (nothing readable to diagnose)
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable

from msgspec import Struct, field

from nnunet_doctor.engine.errors import InputError

from .pipeline import DiagnosisRequest

if TYPE_CHECKING:
    from .redaction import Redactor

#: an input decompresses to at most this many bytes by default (a ratio bomb stops here, with a clear error)
MAX_EXPANDED_BYTES = 256 << 20
_BUNDLE_SCHEMA = "nnunet-doctor/bundle"
_OPENERS: dict[bytes, Callable[[BinaryIO], io.BufferedIOBase]] = {
    b"\x1f\x8b": lambda raw: gzip.GzipFile(fileobj=raw),
    b"BZh": lambda raw: bz2.BZ2File(raw),
    b"\xfd7zXZ": lambda raw: lzma.LZMAFile(raw),
}
_SUFFIXES = re.compile(r"\.(gz|bz2|xz)$", re.IGNORECASE)
_HOME = re.compile(r"(?:(?<![\w.])/home|/Users|[A-Za-z]:\\Users)[/\\](?P<user>[A-Za-z0-9._-]{2,32})(?=[/\\])")


class IntakeError(InputError):
    """The input cannot be diagnosed; ``status`` is the HTTP status a server answers with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class Intake(Struct):
    """A request for the pipeline, the inputs' names, their texts (what a history keeps) and notes."""

    request: DiagnosisRequest
    names: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def safe_relative(name: str) -> PurePosixPath:
    """An uploaded file's name as a relative path inside the upload folder ('..', drive letters dropped)."""
    parts = [part for part in re.split(r"[/\\]+", name) if part not in ("", ".", "..") and ":" not in part]
    cleaned = [re.sub(r"[^\w.+@-]", "_", part)[:120] for part in parts[-4:]]
    return PurePosixPath(*cleaned) if cleaned else PurePosixPath("upload.log")


def _expand(path: Path, limit: int) -> tuple[bytes, bool, str | None]:
    """The file's bytes, decompressed when compressed (bounded), whether it was, and a note when a damaged
    archive was cut short."""
    with path.open("rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        opener = next((make for magic, make in _OPENERS.items() if head.startswith(magic)), None)
        if opener is None:
            data = raw.read(limit + 1)
            if len(data) > limit:
                raise IntakeError(f"{path.name}: larger than {limit >> 20} MiB", 413)
            return data, False, None
        chunks, size, note = [], 0, None
        stream = opener(raw)
        try:
            while True:
                piece = stream.read1(1 << 20) if hasattr(stream, "read1") else stream.read(1 << 20)
                if not piece:
                    break
                size += len(piece)
                if size > limit:
                    raise IntakeError(f"{path.name}: decompresses to more than {limit >> 20} MiB "
                                      "(a compression bomb, or a log too large to paste: send the fold's "
                                      "training log or a bundle from `diagnose collect`)", 413)
                chunks.append(piece)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
            if not chunks:
                raise IntakeError(f"{path.name}: a broken archive, nothing could be decompressed ({exc})") from None
            note = f"{path.name}: a damaged archive; only its first {size} bytes could be read ({exc})"
        return b"".join(chunks), True, note


def _binary(data: bytes) -> bool:
    """NUL bytes in the head of text that is not UTF-16 (images, checkpoints, archives)."""
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if head.count(0) == 0:
        return False
    even, odd = head[0::2], head[1::2]
    utf16 = (odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even)) or \
            (even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd))
    return not utf16


def _bundle(data: bytes, name: str) -> bool:
    """True for a bundle of ``diagnose collect``; IntakeError for one that is broken."""
    start = data[:4096].lstrip()
    if not start.startswith(b"{") or _BUNDLE_SCHEMA.encode() not in data[:65536]:
        return False
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise IntakeError(f"{name}: a broken bundle (not valid JSON: {exc}); write it again with "
                          "`diagnose collect -o bundle.json`") from None
    if not isinstance(document, dict) or document.get("schema") != _BUNDLE_SCHEMA:
        return False
    if not isinstance(document.get("facts"), list):
        raise IntakeError(f"{name}: a broken bundle (no list of facts)")
    return True


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 8 and data[1:64:2].count(0) > 12):
        return data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def prepare(folder: Path, files: Iterable[str], pasted: str = "", *,
            limit: int = MAX_EXPANDED_BYTES) -> Intake:
    """The request for the files under ``folder`` (relative names) and pasted text; compressed files are
    replaced by their decompressed text in place. Raises :class:`IntakeError` when nothing can be diagnosed."""
    intake = Intake(DiagnosisRequest(offline=True))
    skipped: list[str] = []
    empty: list[str] = []
    logs: list[str] = []
    fold_folders: set[str] = set()
    budget = limit
    for name in files:
        path = folder / name
        data, compressed, note = _expand(path, budget)
        budget -= len(data)
        if note:
            intake.notes.append(note)
        if _binary(data):
            skipped.append(name)
            continue
        if not data.strip():
            empty.append(name)
            continue
        if _bundle(data, name):
            if intake.request.bundle is not None:
                raise IntakeError("more than one bundle: diagnose one bundle at a time")
            intake.request.bundle = path
        else:
            if compressed:  # the text replaces the archive: the reader and the history see the same lines
                path.unlink()
                name = _SUFFIXES.sub("", name) or name
                path = folder / name
                path.write_bytes(data)
            if PurePosixPath(name).name == "debug.json":
                intake.texts[name] = _decode(data)
                continue
            if re.match(r"training_log_.*\.txt$", PurePosixPath(name).name) and "/" in name:
                fold_folders.add(str(PurePosixPath(name).parent))
            logs.append(name)
        intake.names.append(name)
        intake.texts[name] = _decode(data)
    # a fold folder is read as the CLI reads it (its training logs in order, its debug.json noted)
    inside = [log for log in logs if str(PurePosixPath(log).parent) in fold_folders
              and re.match(r"training_log_.*\.txt$|.*\.log$", PurePosixPath(log).name)]
    intake.request.logs = sorted(fold_folders) + [log for log in logs if log not in inside]
    if pasted.strip():
        if "\x00" in pasted[:65536]:
            raise IntakeError("the pasted text holds binary data (NUL bytes), not a log", 415)
        if len(pasted.encode("utf-8", errors="replace")) > budget:
            raise IntakeError(f"the pasted text is larger than {limit >> 20} MiB", 413)
        intake.request.log_texts["pasted.log"] = pasted
        intake.names.append("pasted.log")
        intake.texts["pasted.log"] = pasted
    if not intake.request.logs and not intake.request.log_texts and intake.request.bundle is None:
        if skipped:
            kinds = "a binary file" if len(skipped) == 1 else "binary files"
            raise IntakeError(f"{', '.join(skipped)}: {kinds}, not a log (nothing readable to diagnose)", 415)
        if empty:
            raise IntakeError(f"{', '.join(empty)}: empty (nothing to diagnose)")
        raise IntakeError("nothing to diagnose: paste a log, or choose log files or a bundle")
    intake.notes += [f"{name}: a binary file, not read" for name in skipped]
    intake.notes += [f"{name}: empty" for name in empty]
    return intake


def people(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """User names and home folders that appear in pasted paths (``/home/jdoe/...``): the log's author."""
    users: set[str] = set()
    homes: set[str] = set()
    for text in texts:
        for match in _HOME.finditer(text):
            user = match.group("user")
            if user.lower() not in {"user", "shared", "public", "runner", "root", "ubuntu", "jovyan", "admin"}:
                users.add(user)
                homes.add(match.group(0))
    return users, homes


def _head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of a file, decompressed when it is compressed."""
    with path.open("rb") as raw:
        magic = raw.read(6)
        raw.seek(0)
        opener = next((make for prefix, make in _OPENERS.items() if magic.startswith(prefix)), None)
        try:
            return (opener(raw) if opener else raw).read(size)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
            raise IntakeError(f"{path}: a broken archive ({exc})") from None


def request_for_path(path: Path) -> DiagnosisRequest:
    """The request for one input named by its path (``diagnose batch``): a log, a compressed log, a fold or
    results folder, or a bundle (read, and checked, by the pipeline)."""
    from nnunet_doctor.probes.log.reader import check_readable

    check_readable(path, str(path))
    if path.is_dir():
        return DiagnosisRequest(logs=[str(path)], offline=True)
    head = _head(path)
    if _binary(head):
        raise IntakeError(f"{path}: a binary file, not a log", 415)
    if head.lstrip().startswith(b"{") and _BUNDLE_SCHEMA.encode() in head:
        return DiagnosisRequest(bundle=path, offline=True)
    return DiagnosisRequest(logs=[str(path)], offline=True)


def redact(intake: Intake, folder: Path) -> Redactor:
    """Replace what identifies a person in every input before it is diagnosed or kept (the existing redaction,
    :mod:`~nnunet_doctor.redaction`, taught the log author's name from its paths): files are rewritten, and
    renamed when their names identify someone; the request follows. Pseudonyms keep nnU-Net's naming grammar,
    so the rules see what they would have seen, and a stored input gives its stored report again."""
    from .redaction import Redactor, Sensitive

    users, homes = people(intake.texts.values())
    redactor = Redactor(Sensitive(users=users, homes=homes))
    if len(intake.texts) > 1:  # what one input names is replaced in all of them (text() learns its own text)
        redactor.learn_all(list(intake.texts.values()) + list(intake.texts))
    request, renamed, texts = intake.request, {}, {}
    for name, text in intake.texts.items():
        new_name = redactor.text(name)
        new_text = _redact_json(redactor, text) if name.endswith(".json") else None
        new_text = redactor.text(text) if new_text is None else new_text
        texts[new_name] = new_text
        if name in request.log_texts:
            del request.log_texts[name]
            request.log_texts[new_name] = new_text
            continue
        source, target = folder / name, folder / new_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(new_text, encoding="utf-8")
        if target != source:
            source.unlink()
            renamed[name] = new_name
        if request.bundle == source:
            request.bundle = target
    request.logs = [renamed.get(entry) or redactor.text(entry) for entry in request.logs]
    intake.texts = texts
    intake.names = [renamed.get(name) or redactor.text(name) for name in intake.names]
    intake.notes = [redactor.text(note) for note in intake.notes]
    return redactor


def _redact_json(redactor: Redactor, text: str) -> str | None:
    """A JSON document (a bundle, debug.json) redacted value by value, so it stays valid JSON; None if not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return json.dumps(redactor.value(document), indent=1, ensure_ascii=False)
