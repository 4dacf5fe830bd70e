"""Inputs that used to be misread (issue: bad input of every kind), each with the exact input."""
from __future__ import annotations

import gzip
from pathlib import Path

from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis
from nnunet_doctor.probes.log.reader import clean_line

MODERN_OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity "
              "of 23.65 GiB of which 3.06 MiB is free. Including non-PyTorch memory, this process has 23.40 GiB memory "
              "in use.")


def _causes(path: Path) -> dict[str, float]:
    result = run_diagnosis(DiagnosisRequest(logs=[str(path)], offline=True))
    return {cause.cause: cause.certainty for cause in result.diagnosis.causes}


def test_a_modern_cuda_oom_is_not_also_host_memory(tmp_path: Path) -> None:
    """``torch.OutOfMemoryError`` contains ``MemoryError``: it used to add "host memory" at 0.80."""
    log = tmp_path / "oom.log"
    log.write_text(MODERN_OOM + "\n", encoding="utf-8")
    causes = _causes(log)
    assert max(causes, key=causes.get) == "train.gpu_oom"
    assert "sys.ram_exhausted" not in causes


def test_a_plain_memory_error_is_still_host_memory(tmp_path: Path) -> None:
    log = tmp_path / "ram.log"
    log.write_text("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nMemoryError\n",
                   encoding="utf-8")
    assert "sys.ram_exhausted" in _causes(log)


def test_utf32_is_read_as_text(tmp_path: Path) -> None:
    """UTF-32 used to be taken for UTF-16 and dropped."""
    log = tmp_path / "utf32.log"
    log.write_bytes((MODERN_OOM + "\n").encode("utf-32"))
    assert "train.gpu_oom" in _causes(log)


def test_garbage_from_a_damaged_gzip_concludes_nothing(tmp_path: Path) -> None:
    """The readable part of a damaged .gz is diagnosed; bytes after the damage are not (they were garbage
    that looked like a wrong path)."""
    data = gzip.compress(("Epoch 1\n" * 50000 + "RuntimeError: x\n").encode(), 9)
    log = tmp_path / "damaged.log.gz"
    log.write_bytes(data[:len(data) // 2] + bytes(reversed(data[len(data) // 2:])))
    causes = _causes(log)
    assert "env.path_wrong" not in causes


def test_an_error_drawn_over_by_a_progress_bar_is_kept() -> None:
    assert clean_line(b"Traceback (most recent call last):\r 12%|#  | 3/25\r100%|###| 25/25\n") == \
        "Traceback (most recent call last):  100%|###| 25/25"
