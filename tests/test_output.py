"""Writing outputs (doctor/output.py): atomically onto regular files, into devices and pipes without replacing
them, never onto an input."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nnunet_doctor.engine.errors import InputError
from nnunet_doctor.output import write_output

pipes = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")


@pipes
def test_a_named_pipe_gets_the_text_and_stays_a_pipe(tmp_path: Path) -> None:
    """``-o`` onto a pipe a process reads (``-o >(gzip > r.gz)``): it used to be replaced by a regular file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    while not received and reader.is_alive():
        try:
            write_output("report text", fifo)
            break
        except InputError:  # the reader has not opened its end yet
            pass
    reader.join(10)
    assert received == [b"report text"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pipes
def test_a_named_pipe_nobody_reads_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a named pipe that no process reads"):
        write_output("report", fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_character_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    """``-o /dev/null`` as root replaced /dev/null with a regular file (os.replace onto a device). The test makes
    its own null device in a temporary folder; it needs the right to create device nodes (root)."""
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (OSError, AttributeError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", "-", "--offline", "-o", str(device)],
                          input="RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n", capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert os.stat(device).st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary file left beside it


def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "report.md"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "report.md"
    link.symlink_to(target)
    write_output("new", link)
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        write_output("report", tmp_path)


def test_a_regular_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    out.write_text("old", encoding="utf-8")
    out.chmod(0o640)
    write_output("new", out)
    assert out.read_text(encoding="utf-8") == "new" and stat.S_IMODE(out.stat().st_mode) == 0o640
