"""The scanner's shortcuts change nothing but speed: with fast lanes and retired anchors a log gives exactly the
facts that a line-by-line reading of every candidate line gives."""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnunet_doctor.engine.facts import Record
from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.probes.base import FactSink, LogSource, ProbeContext
from nnunet_doctor.probes.log import LogProbe
from nnunet_doctor.probes.log.catalog import MAX_ERROR_LINES, MAX_LINES, CatalogReader
from nnunet_doctor.probes.log.matches import MAX_MATCHES, SignatureReader
from nnunet_doctor.probes.log.reader import LogInput
from nnunet_doctor.probes.log.run import RunReader
from nnunet_doctor.probes.log.scanner import ENGINES, FastLane, Line, Scanner
from nnunet_doctor.probes.log.training import TrainingReader


class _LineByLine(LogProbe):
    shortcuts = False


def _facts(probe: LogProbe, pack: RulePack, path: Path) -> list[tuple[str, str]]:
    """Every fact of the log probe as (name, repr of its value and provenance): NaN compares equal to NaN."""
    sink = FactSink(pack.vocabulary, "log")
    probe.collect(ProbeContext(pack.vocabulary, pack.signatures, [LogSource(path.name, path)], offline=True), sink)
    assert not sink.problems
    plain = [(fact.name, repr((_plain(fact.value), fact.provenance))) for fact in sink.facts]
    return plain + [("note", repr(note)) for note in sink.notes]


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [(dict(item.fields), item.provenance) if isinstance(item, Record) else item for item in value]
    return value


_STAMPS = st.sampled_from(["2025-03-05 09:07:05.010100: ", "2025-03-05 09:07:05: ", "", "loss: ", "[rank0] "])
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda x: f"{x:.4f}"),
    st.floats(-2, 2, width=32).map(lambda x: f"np.float32({x:.4f})"),
    st.sampled_from(["nan", "-inf", "np.float64(nan)", "0.0183", "1e-05", "-0.3111", "x1", "1.2.3", ")"]))
_DICE = st.lists(_NUMBERS, min_size=1, max_size=3).map(", ".join) | st.sampled_from(["", "0.5 0.2", "a: b"])
_V2_BODIES = st.one_of(
    st.integers(0, 1200).map(lambda n: f"Epoch {n}"),
    _NUMBERS.map(lambda v: f"Current learning rate: {v}"),
    _NUMBERS.map(lambda v: f"train_loss {v}"),
    _NUMBERS.map(lambda v: f"val_loss {v}"),
    _DICE.map(lambda v: f"Pseudo dice [{v}]"),
    _NUMBERS.map(lambda v: f"Epoch time: {v} s"),
    _NUMBERS.map(lambda v: f"Yayy! New best EMA pseudo Dice: {v}"),
    st.sampled_from(["Epoch 0 of 1000", "train_loss 0.1 0.2", "Epoch time: 1.0 seconds", "Training done."]))
_ENDINGS = st.sampled_from(["", "", " ", " ", "  ", "\r", " \r", "\r\x1b[0m"])
#: nnU-Net v2 epoch lines as written, and the variants that must leave the fast lane (colours, redraws, prefixes)
_V2_LINES = st.builds(lambda stamp, body, colour, end: f"{stamp}{colour}{body}{end}", _STAMPS, _V2_BODIES,
                      st.sampled_from(["", "", "", "", "\x1b[32m", "12%|#  | 1/8\r"]), _ENDINGS)
_OTHER_LINES = st.sampled_from([
    "", "epoch:  3", "train loss : -0.12", "validation loss: -0.2", "Average global foreground Dice: [0.5, 0.3]",
    "lr: 0.00999", "This epoch took 120.3 s", "Configuration name: 3d_fullres", "2025-03-05 10:00:00: Training done.",
    "Traceback (most recent call last):",
    '  File "/home/u/venv/lib/python3.10/site-packages/nnunetv2/run/run_training.py", line 53, in run',
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB",
    "Exception in background worker 2:", "sending off prediction to background worker for resampling and export",
    "RuntimeError: One or more background workers are no longer alive.", "perform_everything_on_device: True",
    "Predicting hippocampus_017:", "Preprocessing cases:  50%|#####     | 2/4 [00:01<00:01,  1.50it/s]",
    "/home/u/venv/lib/python3.10/site-packages/torch/optim/lr_scheduler.py:62: UserWarning: deprecated, please",
    "$ nnUNetv2_train 4 3d_fullres 0", "Epoch 0", "2025-03-05 09:07:05: Epoch 0 Dataset004_Hippocampus"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_V2_LINES, _V2_LINES, _V2_LINES, _OTHER_LINES), max_size=60), st.sampled_from(["\n", "\r\n"]))
def test_the_facts_of_a_log_are_those_of_a_line_by_line_reading(pack: RulePack, tmp_path: Path, lines: list[str],
                                                                newline: str) -> None:
    path = tmp_path / "console.log"
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    assert _facts(LogProbe(), pack, path) == _facts(_LineByLine(), pack, path)


@settings(max_examples=60, deadline=None)
@given(st.lists(_V2_LINES, min_size=1, max_size=30), st.sampled_from(ENGINES))
def test_epoch_lines_read_from_raw_bytes_give_the_epochs_of_decoded_lines(lines: list[str], engine: str) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    epochs = []
    for shortcuts in (True, False):
        reader = TrainingReader()
        Scanner([reader], engine=engine, shortcuts=shortcuts).scan(LogInput("t.log", lambda: io.BytesIO(data)))
        epochs.append(repr([(vars(epoch)) for epoch in reader.epochs]))
    assert epochs[0] == epochs[1]


class _CountingTraining(TrainingReader):
    """The training reader, counting the lines its fast lane takes."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[int] = []

    def fast_lane(self) -> FastLane:
        lane = super().fast_lane()

        def take(match: re.Match[bytes], number: int, file: str) -> None:
            self.taken.append(number)
            lane.take(match, number, file)
        return lane._replace(take=take)


def test_a_real_training_log_takes_the_fast_lane_and_reads_alike(pack: RulePack) -> None:
    from .conftest import HEALTHY_LOGS

    log = sorted((HEALTHY_LOGS / "fold_0").glob("training_log_*.txt"))[0]
    reader = _CountingTraining()
    Scanner([reader]).scan(LogInput(log.name, lambda: log.open("rb")))
    assert len(reader.taken) >= 5 * len(reader.epochs) > 0
    assert _facts(LogProbe(), pack, log) == _facts(_LineByLine(), pack, log)


class _Spending:
    """A reader that needs its anchor for its first ``wanted`` lines only."""

    def __init__(self, wanted: int):
        self.wanted, self.seen = wanted, []  # type: list[int]

    def anchors(self) -> list[tuple[str, bool]]:
        return [("Error", False)]

    def on_line(self, line: Line) -> None:
        self.seen.append(line.number)

    def spent(self) -> list[str]:
        return ["Error"] if len(self.seen) >= self.wanted else []

    def end_input(self, name: str, lines: int) -> None:
        pass


def test_a_spent_anchor_leaves_the_prefilter_once_no_reader_needs_it() -> None:
    data = b"".join(b"RuntimeError: %d\nok\n" % n for n in range(40))
    for engine in ENGINES:
        early, late = _Spending(3), _Spending(10)
        Scanner([early, late], engine=engine, block_bytes=64).scan(LogInput("x.log", lambda: io.BytesIO(data)))
        # each is told of the lines of the block in which it had enough, and of no later block
        assert 3 <= len(early.seen) < 10 <= len(late.seen) < 20
        assert late.seen == list(range(1, 2 * len(late.seen), 2))


def test_full_readers_retire_their_anchors_and_read_what_they_read_without_retiring(pack: RulePack) -> None:
    lines = ["perform_everything_on_device: True", "Predicting case_001:", "RuntimeError: CUDA error: device-side "
             "assert triggered", "UserWarning: this is deprecated, please update", "Dataset004_Hippocampus"]
    count = max(MAX_MATCHES, MAX_LINES + MAX_ERROR_LINES) + 50
    data = "".join(f"{lines[n % len(lines)]}\n" for n in range(count * len(lines))).encode()
    results = []
    for shortcuts in (True, False):
        readers = (SignatureReader(pack.signatures), CatalogReader(pack.signatures), RunReader())
        Scanner(readers, context_lines=pack.signatures.max_window, block_bytes=4096, shortcuts=shortcuts).scan(
            LogInput("x.log", lambda: io.BytesIO(data)))
        signatures, catalog, run = readers
        results.append((repr(signatures.matches), catalog.lines, run.stages, repr(run.dataset_name)))
        assert (signatures.spent() != []) and catalog.spent() and run.spent()
    assert results[0] == results[1]
