"""Reading whatever was pasted: encodings, line ends, colours, progress bars, archives, binary data, huge lines,
empty input, folders and streams - always with the input's own line numbers."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnunet_doctor.engine.errors import InputError
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.probes.base import LogSource
from nnunet_doctor.probes.log.reader import BLOCK_BYTES, MAX_LINE_BYTES, check_readable, clean_line, numbered_lines

from .conftest import HEALTHY_LOGS, read_logs

OOM = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"


def test_crlf_colours_and_progress_bars_read_as_the_terminal_showed_them(read_text) -> None:
    log = read_text(
        "Preprocessing cases:  10%|#   | 1/10\rRuntimeError: CUDA out of memory. (overwritten)\rPreprocessing cases: 100%|####| 10/10\r\n"
        "\x1b[31mRuntimeError: Could not find a dataset with the ID 4.\x1b[0m\r\n")
    # an error that a progress bar drew over is still an error: kept in front of the bar's last state
    [oom] = log["match.cuda_oom"]
    assert oom["text"] == "RuntimeError: CUDA out of memory. (overwritten)  Preprocessing cases: 100%|####| 10/10"
    exception = log["log.exceptions"][-1]
    assert (exception["line"], exception["text"]) == (2, "RuntimeError: Could not find a dataset with the ID 4.")


def test_an_ansi_code_inside_an_anchor_does_not_hide_it(read_text) -> None:
    log = read_text("RuntimeError: CUDA out of \x1b[1mmemory\x1b[0m. Tried to allocate 2.00 GiB\n")
    assert log.lines("match.cuda_oom") == [1]


def test_invalid_utf8_is_replaced_never_a_crash(read_text) -> None:
    log = read_text(b"caf\xe9 \xff\xfe\n" + OOM.encode() + b"\n")
    assert log.lines("match.cuda_oom") == [2]
    assert clean_line(b"caf\xe9") == "caf\ufffd"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_logs_from_powershell_are_transcoded(read_text, encoding: str) -> None:
    log = read_text(f"ok\r\n{OOM}\r\n".encode(encoding))
    assert log.lines("match.cuda_oom") == [2]
    assert any("UTF-16" in finding for finding in log.findings)


def test_a_utf8_byte_order_mark_is_dropped(read_text) -> None:
    log = read_text(b"\xef\xbb\xbfRuntimeError: boom\n")
    assert [e["type"] for e in log["log.exceptions"]] == ["RuntimeError"]


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_compressed_logs_are_read_transparently(read_text, compress) -> None:
    log = read_text(compress(f"line\n{OOM}\n".encode()), name="train.log.gz")
    assert log.lines("match.cuda_oom") == [2] and log["log.line_count"] == 2


def test_a_truncated_archive_is_read_up_to_the_break_and_said_so(read_text) -> None:
    data = gzip.compress((OOM + "\n" + "x" * 200_000 + "\n").encode())
    log = read_text(data[: len(data) // 2], name="cut.log.gz")
    assert log.lines("match.cuda_oom") == [1]
    assert any("reading stopped early" in finding for finding in log.findings)


def test_empty_input(read_text) -> None:
    log = read_text(b"")
    assert log["log.line_count"] == 0 and log["log.exceptions"] == [] and "log.root_exception" not in log


def test_a_last_line_without_a_line_break_is_read(read_text) -> None:
    assert read_text(OOM).lines("match.cuda_oom") == [1]


def test_binary_garbage_is_skipped_and_reported_with_its_lines(read_text) -> None:
    garbage = bytes(range(256)) * 40 + b"\nCUDA out of memory\x00\x01\n"  # a blob that happens to hold an anchor
    log = read_text(b"start\n" + garbage + OOM.encode() + b"\n")
    assert log["match.cuda_oom"][-1]["line"] == log["log.line_count"]
    assert [m["line"] for m in log["match.cuda_oom"]] == [log["log.line_count"]]
    [note] = [finding for finding in log.findings if "binary data" in finding]
    assert "pasted.log:2-" in note


def test_a_line_longer_than_the_limit_is_cut_and_line_numbers_stay_right(read_text) -> None:
    huge = b"x" * (MAX_LINE_BYTES + BLOCK_BYTES + 17)  # spans several reads
    log = read_text(b"first\n" + huge + b"\n" + OOM.encode() + b"\n")
    assert log.lines("match.cuda_oom") == [3]
    assert any("longer than" in finding for finding in log.findings)


def test_a_progress_bar_redrawn_beyond_the_limit_keeps_its_last_state(read_text) -> None:
    bar = b"".join(b"\rPredicting: %7d%%" % i for i in range((MAX_LINE_BYTES + BLOCK_BYTES) // 20))
    log = read_text(bar + b"\rRuntimeError: CUDA out of memory. Tried to allocate 1 GiB\n")
    assert log.lines("match.cuda_oom") == [1]
    assert not any("longer than" in finding for finding in log.findings)


def test_a_fold_folder_reads_its_training_logs_and_debug_json(pack: RulePack) -> None:
    log = read_logs(pack, HEALTHY_LOGS / "fold_0")
    [name] = log["log.files"]
    assert name.endswith(".txt") and "training_log_" in name
    assert log["training.trainer"] == "nnUNetTrainer_tiny" and log["training.num_epochs"] == 4


def test_training_logs_of_a_folder_are_read_in_time_order(tmp_path: Path, pack: RulePack) -> None:
    fold = tmp_path / "fold_0"
    fold.mkdir()
    (fold / "training_log_2024_10_1_08_00_00.txt").write_text("2024-10-01 08:00:01.000000: Epoch 7 \n")
    (fold / "training_log_2024_9_30_08_00_00.txt").write_text("2024-09-30 08:00:01.000000: Epoch 3 \n")
    log = read_logs(pack, fold)
    assert [e["epoch"] for e in log["training.epochs"]] == [3, 7]


def test_standard_input_is_streamed_in_blocks(pack: RulePack) -> None:
    class CountingStream(io.RawIOBase):
        def __init__(self, data: bytes):
            self.data, self.reads = io.BytesIO(data), []

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            self.reads.append(len(buffer))
            return len(chunk)

    data = b"noise line\n" * (3 * BLOCK_BYTES // 11) + OOM.encode() + b"\n"
    stream = CountingStream(data)
    log = read_logs(pack, LogSource("<stdin>", stream=io.BufferedReader(stream)))
    assert log.lines("match.cuda_oom") == [3 * BLOCK_BYTES // 11 + 1]
    assert max(stream.reads) <= BLOCK_BYTES and len(stream.reads) > 3


def test_numbered_lines_quotes_every_line_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\ntwo 1%\rtwo 100%\n\x1b[2mthree\x1b[0m")
    assert list(numbered_lines(LogSource("a.log", path))) == [("a.log", 1, "one"), ("a.log", 2, "two 100%"),
                                                               ("a.log", 3, "three")]


def test_inputs_that_cannot_be_read_are_one_error_naming_them(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^missing\.log: no such file or folder$"):
        check_readable(tmp_path / "missing.log", "missing.log")
    empty_folder = tmp_path / "fold_9"
    empty_folder.mkdir()
    with pytest.raises(InputError, match=r"^fold_9: folder has no training_log_\*\.txt"):
        check_readable(empty_folder, "fold_9")
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match=r"^broken\.log\.gz: cannot read log"):
        check_readable(broken, "broken.log.gz")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked.log"
    locked.write_text("x")
    locked.chmod(0)
    with pytest.raises(InputError, match=r"^locked\.log: not readable \(permission denied\)$"):
        check_readable(locked, "locked.log")


# https://github.com/MIC-DKFZ/nnUNet/issues/2868, as a terminal copy hard-wraps it at 80 columns
WRAPPED_LABELS = (
    "Error: Unexpected labels found in file /teamspace/studios/this_studio/nnUNet_raw\n"
    "_data/Dataset123_CTSpine1K/labelsTr/1.3.6.1.4.1.9328.50.4.0175.nii.gz\n"
    "Expected: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,\n"
    " 20, 21, 22, 23, 24]\n"
    "Found: [ 0. 17. 18. 19. 20. 21. 22. 23. 24. 25.]")


def test_a_paste_wrapped_at_80_columns_is_read_as_the_lines_it_was_cut_from(read_text) -> None:
    log = read_text(WRAPPED_LABELS)
    [labels] = log["match.unexpected_labels"]  # its window reads Expected and Found: the joined lines stay next to it
    assert labels["line"] == 2
    assert labels["text"].endswith("this_studio/nnUNet_raw_data/Dataset123_CTSpine1K/labelsTr/1.3.6.1.4.1.9328.50.4.0175.nii.gz")
    assert log["log.line_count"] == 5  # every line keeps its number


def test_a_wrapped_code_line_is_still_code_under_its_frame(read_text) -> None:
    # https://github.com/MIC-DKFZ/nnUNet/issues/2589: the import line a traceback quotes, wrapped, then cut there
    log = read_text(
        '  File "/home/runner/sct_0.0/python/envs/venv_sct/lib/python3.9/site-packages/nn\n'
        'unetv2/preprocessing/cropping/cropping.py", line 5, in <module>\n'
        "    from acvl_utils.cropping_and_padding.bounding_boxes import get_bbox_from_mas\n"
        "k, crop_to_bbox,\n")
    assert log["catalog.frame_code"] == [{"file": log["log.files"][0], "line": 2, "code":
                                          "from acvl_utils.cropping_and_padding.bounding_boxes import "
                                          "get_bbox_from_mask, crop_to_bbox,"}]


@pytest.mark.parametrize("text", [
    # tqdm fills the terminal's width: a bar of 80 columns is not a wrapped line
    "Extracting dataset fingerprint:  60%|######    | 3/5 [00:03<00:02,  1.01s/it]\nnext line of the run\n",
    # lines of one width that repeat their words with other numbers are lines of their own
    "2024-05-01 09:00:10.000000: train_loss -0.8123 val_loss -0.8031 Pseudo dice 0.91 0.1\n"
    "2024-05-01 09:00:11.000000: train_loss -0.8124 val_loss -0.8032 Pseudo dice 0.92 0.2\n",
    "x" * 100 + "\nshort\n",  # one line of 100 columns says nothing of a wrap
])
def test_lines_that_only_look_wrapped_are_left_alone(text: str) -> None:
    from nnunet_doctor.probes.log.reader import unwrap, wrap_width

    width = wrap_width(text.encode())
    assert not width or unwrap(text.encode(), width) == text.encode()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a" * 80, "b" * 80, "tail", "", "Traceback (most recent call last):", "x" * 40]),
                max_size=40), st.integers(1, 300), st.integers(1, 300))
def test_a_wrapped_stream_is_joined_the_same_whatever_its_reads(lines: list[str], chunk: int, size: int) -> None:
    from nnunet_doctor.probes.log import reader

    data = "\n".join(lines).encode() + b"\n"
    width = reader.wrap_width(data)

    class Trickle(io.BytesIO):  # a pipe: every read returns at most ``chunk`` bytes
        def read(self, wanted: int = -1, /) -> bytes:
            return super().read(min(chunk, wanted) if wanted >= 0 else chunk)

    stream, read = reader._Unwrapped(Trickle(data)), b""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "_FIRST_READ", 64)  # the wrap is decided on the first 64 bytes; later reads held back
        while piece := stream.read(size):
            read += piece
    head = reader.wrap_width(data[:64])
    assert read == (reader.unwrap(data, head) if head else data)
    assert read.count(b"\n") == data.count(b"\n") and width >= 0
