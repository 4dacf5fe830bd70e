"""Hostile and clumsy inputs, run through the real ``diagnose``: each ends within its bound, with a report or one
clear error line (exit 2), never a traceback or an internal error (exit 3), and leaves every input as it was.

The corpus is generated here (bombs and long lines would be megabytes in the repository); each case names the
bound it checks. docs/limits.md lists the bounds and what the user sees when one is hit.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnunet_doctor.engine.errors import InputError
from nnunet_doctor.pipeline import DiagnosisRequest, load_pack, run_diagnosis

#: seconds a single hostile input may take, start-up included (a bound, not a speed target)
BOUND = 90
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB (GPU 0; 11.91 GiB total capacity; "


def _diagnose(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nnunet_doctor", *args], input=stdin.decode("latin-1") if stdin else None,
                          capture_output=True, text=True, timeout=BOUND, cwd=cwd)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _triple_gz() -> bytes:
    data = gzip.compress(b"a" * (400 << 20), 9)
    return gzip.compress(gzip.compress(data, 9), 9)


def _bz2_multistream() -> bytes:
    stream = bz2.compress(b"\0" * (40 << 20), 9)
    return stream * 40  # 40 streams of 40 MiB each: 1.6 GiB from a few KB


def _long_lines() -> bytes:
    return b"\n".join([
        (OOM + "1" * 20000).encode(),
        b'File "' + b"x" * 30000 + b'site-packages/nnunetv2/run/run_training.py", line 1',
        b"a/" * 15000 + b"nnunetv2/training/x.py",
        b"NVIDIA " * 5000,
        b"Epoch " + b"9" * 30000,
        b"Pseudo dice [" + b"np.float32(0.5), " * 3000 + b"]",
        b"Traceback (most recent call last):",
        b"  " + b"File " * 6000,
        b"RuntimeError" + b"Error" * 6000,
    ]) + b"\n"


HOSTILE: dict[str, Callable[[], bytes]] = {
    "long_lines.log": _long_lines,
    "triple_nested.log.gz": _triple_gz,
    "multistream.log.bz2": _bz2_multistream,
    "binary_garbage.log": lambda: os.urandom(1 << 20),
    "truncated.log.gz": lambda: gzip.compress(("Epoch 1\n" * 200000).encode())[:5000],
    "corrupt.log.xz": lambda: lzma.compress(b"Epoch 1\n" * 1000)[:40] + b"\x00" * 200,
    "corrupt.log.bz2": lambda: b"BZh9" + os.urandom(3000),
    "utf32.log": lambda: (OOM + "10.92 GiB already allocated)\n").encode("utf-32"),
    "nul_bytes.log": lambda: b"Epoch 1\x00\x00\x00\nRuntimeError: x\x00\n",
    "only_newlines.log": lambda: b"\n" * 2_000_000,
    "empty.log": lambda: b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_log_ends_within_its_bound_without_a_traceback(tmp_path: Path, name: str) -> None:
    log = tmp_path / name
    log.write_bytes(HOSTILE[name]())
    before = _digest(log)
    done = _diagnose("--log", str(log), "--offline", "--format", "json", cwd=tmp_path)
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    if done.returncode == 2:
        assert done.stderr.startswith("diagnose: ") and len(done.stderr.strip().splitlines()) == 1
    else:
        assert json.loads(done.stdout)["incomplete"] == []  # no probe crashed (its area would be unknown)
    assert _digest(log) == before


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_at_once(tmp_path: Path, target: str) -> None:
    if not os.path.exists(target):
        pytest.skip(f"{target} does not exist here")
    done = _diagnose("--log", target, "--offline", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (2, f"diagnose: {target}: a device or socket, not a log file "
                                                         "(give a file, a folder, a pipe or '-')")


def test_a_symlink_loop_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "a.log").symlink_to(tmp_path / "b.log")
    (tmp_path / "b.log").symlink_to(tmp_path / "a.log")
    done = _diagnose("--log", str(tmp_path / "a.log"), "--offline", cwd=tmp_path)
    assert done.returncode == 2 and "a symbolic link that leads nowhere" in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_read_once_and_whole(tmp_path: Path) -> None:
    """``--log <(cat train.log)``: the first bytes used to be consumed by the readability check."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    text = OOM + "10.92 GiB already allocated; 18.88 MiB free; 11.04 GiB reserved in total by PyTorch)\n"

    def write() -> None:
        with fifo.open("w", encoding="utf-8") as handle:
            handle.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    done = _diagnose("--log", str(fifo), "--offline", "--format", "json", cwd=tmp_path)
    writer.join(5)
    report = json.loads(done.stdout)
    assert report["causes"][0]["cause"] == "train.gpu_oom"
    assert report["causes"][0]["evidence"][0]["line"] == 1


@pytest.mark.parametrize("command", [["--log", "{log}", "--offline", "-o", "{log}"],
                                     ["collect", "--log", "{log}", "-o", "{log}"],
                                     ["--results", "{folder}", "--offline", "-o", "{folder}/report.txt"]])
def test_output_onto_an_input_is_refused_and_the_input_kept(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "fold_0"
    folder.mkdir()
    log = folder / "training_log_2025_1_1_00_00_00.txt"
    log.write_text(OOM + "x)\n", encoding="utf-8")
    before = _digest(log)
    args = [part.format(log=log, folder=folder) for part in command]
    done = _diagnose(*args, cwd=tmp_path)
    assert done.returncode == 2 and "is one of the inputs; refusing to overwrite it" in done.stderr
    assert _digest(log) == before
    assert not (folder / "report.txt").exists()


def test_a_report_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(OOM + "x)\n", encoding="utf-8")
    out = tmp_path / "report.json"
    done = _diagnose("--log", str(log), "--offline", "--format", "json", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 1
    json.loads(out.read_text(encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


# -- property-based: any bytes, any JSON -----------------------------------------------------------------------

_PACK = None


def _pack():  # type: ignore[no-untyped-def]
    global _PACK
    if _PACK is None:
        _PACK = load_pack([])
    return _PACK


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096) | st.text(max_size=2048).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_read_as_a_log_give_a_diagnosis(data: bytes) -> None:
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    result = run_diagnosis(DiagnosisRequest(logs=["-"], stdin=stream, offline=True), _pack())
    assert all(0.0 <= cause.certainty <= 1.0 for cause in result.diagnosis.causes)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                                       max_size=4), max_leaves=20)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["facts", "findings", "probes", "diagnosis", "tool", "rule_pack", "inputs",
                                        "log_excerpts", "redaction", "created"]), _JSON, max_size=6),
       st.lists(st.fixed_dictionaries({"name": st.sampled_from(["log.os", "gpu", "log.exceptions", "env.shell"])},
                                      optional={"value": _JSON, "provenance": _JSON, "unknown": _JSON}), max_size=3))
def test_any_json_read_as_a_bundle_is_a_bundle_or_an_input_error(tmp_path_factory: pytest.TempPathFactory,
                                                                  document: dict, facts: list) -> None:
    from nnunet_doctor.bundle import SCHEMA, read_bundle

    document = {**document, "schema": SCHEMA, "schema_version": 1}
    if facts:
        document["facts"] = facts
    path = tmp_path_factory.mktemp("bundle") / "bundle.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        read_bundle(path, _pack())
    except InputError as exc:
        assert str(exc).startswith(str(path))


@pytest.mark.parametrize("redirect", [">&-", "> /dev/full"])
def test_a_closed_or_full_standard_output_is_one_clear_error(tmp_path: Path, redirect: str) -> None:
    if "full" in redirect and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    log = tmp_path / "train.log"
    log.write_text(OOM + "x)\n", encoding="utf-8")
    done = subprocess.run(["bash", "-c", f'"$0" -m nnunet_doctor --log "$1" --offline {redirect}', sys.executable,
                           str(log)], capture_output=True, text=True, timeout=BOUND, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("diagnose: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
