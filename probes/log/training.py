"""nnU-Net's training log: the configuration it trained with, every epoch's figures, and what they show.

Reads ``training_log_*.txt`` (or the same lines echoed on the console) of nnU-Net v2, and the per-epoch lines
of nnU-Net v1. nnU-Net v2 writes (``nnUNetTrainer.py`` 1009-1017, 1169-1193)::

    2025-03-05 09:07:05.010100: Epoch 0
    2025-03-05 09:07:05.010200: Current learning rate: 0.01
    2025-03-05 09:09:40.100000: train_loss 0.0183
    2025-03-05 09:09:40.100100: val_loss -0.3111
    2025-03-05 09:09:40.100200: Pseudo dice [np.float32(0.6733), np.float32(0.6204)]
    2025-03-05 09:09:40.100300: Epoch time: 155.09 s
    2025-03-05 09:09:40.100400: Yayy! New best EMA pseudo Dice: 0.6468

and, before the first epoch, ``Configuration name: 3d_fullres`` followed by the configuration dict actually
used (batch and patch size, spacing, network) and the global plans dict (dataset, plans name, planner).
nnU-Net v1 writes ``epoch:  0``, ``train loss : -0.12``, ``validation loss: -0.2``, ``Average global foreground
Dice: [0.5, 0.3]``, ``lr: 0.00999``, ``This epoch took 120.3 s``.

From the epochs it derives: the first epoch with a NaN loss, classes whose pseudo Dice stays 0, the typical
epoch-to-epoch swing of the mean Dice, the train/validation loss gap, epoch times against their median, and
whether the log stops in the middle of an epoch without an error (a killed process).
"""
from __future__ import annotations

import ast
import json
import math
import re
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.patterns import regex
from nnunet_doctor.engine.sources import LOG
from nnunet_doctor.engine.values import parse_number, parse_number_list

from ..base import FactSink
from .scanner import FastLane, Line, Sighting

#: epochs whose pseudo Dice must all be 0 before a class counts as stuck, and the window for swings and gaps
RECENT_EPOCHS = 10
#: epochs kept (the last ones): nnU-Net trains 1000 by default; bounds memory on endless logs
MAX_EPOCHS = 10000
SLOW_EPOCH_FACTOR = 2.0

_RESULTS_PATH = re.compile(r"(?P<dataset>Dataset\d{3}_[^/\\]+)[/\\](?P<trainer>[^/\\]+?)__(?P<plans>[^/\\]+?)__"
                           r"(?P<configuration>[^/\\]+)[/\\]fold_(?P<fold>\w+)")
_NUMPY_CALL = re.compile(r"\b(?:np\.\w+|array)\((?P<inner>[^()]*?)(?:,\s*dtype=[\w.]+)?\)")
_V2_VALUE = rb"[-+\w.()]+"
#: nnU-Net v2's epoch lines as they stand in nearly every log (timestamp, no colours, no redraws), read from the raw
#: bytes by the scanner's fast lane; the captures are those of the line-by-line patterns below. Values hold no space
#: or colon, so no such line can hold another pattern's text.
_V2_EPOCH_LINE = re.compile(
    rb"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?: )?"
    rb"(?:Epoch (?P<epoch>\d{1,9})|Current learning rate: (?P<lr>%(v)s)|train_loss (?P<train_loss>%(v)s)"
    rb"|val_loss (?P<val_loss>%(v)s)|Pseudo dice \[(?P<dice>%(v)s(?:, ?%(v)s)*)\]|Epoch time: (?P<epoch_time>%(v)s) s"
    rb"|Yayy! New best EMA pseudo Dice: (?P<best>%(v)s)) *\r?" % {b"v": _V2_VALUE})


class _Epoch:
    """One epoch as the log reports it (filled line by line)."""

    def __init__(self, number: int, line: int, file: str):
        self.number, self.line, self.file, self.last_line = number, line, file, line
        self.lr: float | None = None
        self.train_loss: float | None = None
        self.val_loss: float | None = None
        self.dice: list[float] | None = None
        self.epoch_time: float | None = None
        self.new_best = False
        self.best_ema: float | None = None

    def record(self) -> Record:
        fields = {"epoch": self.number, "lr": self.lr, "train_loss": self.train_loss, "val_loss": self.val_loss,
                  "dice": self.dice, "mean_dice": _mean(self.dice), "epoch_time": self.epoch_time,
                  "new_best": self.new_best, "best_ema": self.best_ema, "line": self.line, "file": self.file}
        return Record(fields, Provenance(LOG, self.file, (self.line, max(self.line, self.last_line)),
                                         f"epoch {self.number}"))


class TrainingReader:
    def __init__(self) -> None:
        self.epochs: deque[_Epoch] = deque(maxlen=MAX_EPOCHS)
        self._completed = 0
        self._first_nan: _Epoch | None = None
        self.settings: dict[str, Sighting] = {}
        self._done_line: int | None = None
        epoch = self._epoch_value
        # anchor, the pattern a line holding it is read with (compiled when first needed), what it says
        self._patterns: list[tuple[str, str, Callable[[re.Match[str], Line], None]]] = [
            ("Epoch ", r"(?:^|: )Epoch (\d{1,9})$", self._start_epoch),
            ("epoch: ", r"(?:^|: )epoch:\s+(\d{1,9})$", self._start_epoch),
            ("Current learning rate", r"Current learning rate: (\S+)", epoch("lr")),
            ("train_loss", r"(?:^|: )train_loss (\S+)$", epoch("train_loss")),
            ("val_loss", r"(?:^|: )val_loss (\S+)$", epoch("val_loss")),
            ("Pseudo dice", r"Pseudo dice \[(.*)\]", self._dice),
            ("Epoch time", r"Epoch time: (\S+) s", epoch("epoch_time")),
            ("New best EMA pseudo Dice", r"New best EMA pseudo Dice: (\S+)", self._best),
            ("train loss :", r"train loss : (\S+)", epoch("train_loss")),
            ("validation loss", r"validation loss: (\S+)", epoch("val_loss")),
            ("Average global foreground Dice", r"Average global foreground Dice: \[(.*)\]", self._dice),
            ("lr: ", r"(?:^|: )lr: (\S+)$", epoch("lr")),
            ("This epoch took", r"This epoch took (\S+) s", epoch("epoch_time")),
            ("Configuration name:", r"Configuration name: (\S+)", self._configuration),
            ("These are the global plan.json settings", r"global plan\.json settings", self._plans),
            ("Desired fold for training", r"Desired fold for training: (\S+)", self._set("fold")),
            ("split has", r"split has (\d{1,12}) training and (\d{1,12}) validation cases", self._split),
            ("Using device:", r"Using device: (\S+)", self._set("device")),
            ("Using torch.compile", r"Using torch\.compile", self._flag("compile")),
            ("Training done.", r"(?:^|: )Training done\.$", self._done),
            ("Mean Validation Dice", r"Mean Validation Dice:\s+(\S+)", self._validation),
            ("unpacking dataset", r"unpacking dataset", self._flag("unpacks_dataset")),
        ]
        self._by_anchor = {anchor: (pattern, handle) for anchor, pattern, handle in self._patterns}
        self._lane: dict[str, Callable[[str, int, str], None]] = {
            "epoch": self._new_epoch, "dice": self._dice_value, "best": self._best_value,
            **{name: self._epoch_field(name) for name in ("lr", "train_loss", "val_loss", "epoch_time")}}

    # -- reading -----------------------------------------------------------------------------------------

    def anchors(self) -> Iterable[tuple[str, bool]]:
        return [(anchor, False) for anchor, _, _ in self._patterns]

    def on_line(self, line: Line) -> None:
        for anchor in line.hits:
            pattern, handle = self._by_anchor[anchor]
            match = regex(pattern).search(line.text)
            if match:
                handle(match, line)
                return

    def fast_lane(self) -> FastLane:
        return FastLane(_V2_EPOCH_LINE, self._take)

    def _take(self, match: re.Match[bytes], number: int, file: str) -> None:
        name = match.lastgroup
        assert name is not None
        self._lane[name](match.group(name).decode("ascii"), number, file)

    def end_input(self, name: str, lines: int) -> None:
        pass

    def note_path(self, path: Path) -> None:
        """Dataset, trainer, plans, configuration and fold from a results folder path, when it is one."""
        match = _RESULTS_PATH.search(str(path))
        if match:
            for key, value in match.groupdict().items():
                self.settings.setdefault(key, Sighting(value, 0, str(path)))

    def read_debug(self, debug: dict[str, str], path: Path) -> None:
        """What ``debug.json`` (the trainer's attributes, written at the start of training) says about the run."""
        for key, name in (("num_epochs", "num_epochs"), ("num_iterations_per_epoch", "iterations_per_epoch"),
                          ("batch_size", "batch_size"), ("device", "device"), ("fold", "fold"),
                          ("configuration_name", "configuration"), ("network", "network")):
            if key in debug:
                self.settings.setdefault(name, Sighting(str(debug[key]), 0, str(path)))
        for key in ("log_file", "output_folder"):
            if key in debug:
                self.note_path(Path(str(debug[key])))

    def _current_epoch(self, field: str, number: int, file: str) -> _Epoch:
        """The epoch a value belongs to. A pasted excerpt without "Epoch N" headers starts a new epoch whenever a value
        repeats; such epochs are numbered on from the previous one (from 0 in order of appearance)."""
        if not self.epochs or getattr(self.epochs[-1], field) is not None:
            epoch = self.epochs[-1].number + 1 if self.epochs else 0
            self.epochs.append(_Epoch(epoch, number, file))
        return self.epochs[-1]

    def _epoch_value(self, name: str) -> Callable[[re.Match[str], Line], None]:
        field = self._epoch_field(name)

        def handle(match: re.Match[str], line: Line) -> None:
            field(match.group(1), line.number, line.file)
        return handle

    def _epoch_field(self, name: str) -> Callable[[str, int, str], None]:
        def handle(text: str, number: int, file: str) -> None:
            epoch, value = self._current_epoch(name, number, file), _number(text)
            if name in ("val_loss", "epoch_time") and epoch.val_loss is None and epoch.epoch_time is None:
                self._completed += 1
            setattr(epoch, name, value)
            epoch.last_line = number
            if name.endswith("loss") and value is not None and not math.isfinite(value) and self._first_nan is None:
                self._first_nan = epoch
        return handle

    def _start_epoch(self, match: re.Match[str], line: Line) -> None:
        self._new_epoch(match.group(1), line.number, line.file)

    def _new_epoch(self, text: str, number: int, file: str) -> None:
        self.epochs.append(_Epoch(int(text), number, file))

    def _dice(self, match: re.Match[str], line: Line) -> None:
        self._dice_value(match.group(1), line.number, line.file)

    def _dice_value(self, text: str, number: int, file: str) -> None:
        epoch = self._current_epoch("dice", number, file)
        epoch.dice = parse_number_list(text)
        epoch.last_line = number

    def _best(self, match: re.Match[str], line: Line) -> None:
        self._best_value(match.group(1), line.number, line.file)

    def _best_value(self, text: str, number: int, file: str) -> None:
        if self.epochs:
            self.epochs[-1].new_best = True
            self.epochs[-1].best_ema = parse_number(text)
            self.epochs[-1].last_line = number

    def _set(self, name: str) -> Callable[[re.Match[str], Line], None]:
        def handle(match: re.Match[str], line: Line) -> None:
            self.settings[name] = Sighting(match.group(1), line.number, line.file)
        return handle

    def _flag(self, name: str) -> Callable[[re.Match[str], Line], None]:
        def handle(match: re.Match[str], line: Line) -> None:
            self.settings[name] = Sighting(True, line.number, line.file)
        return handle

    def _split(self, match: re.Match[str], line: Line) -> None:
        self.settings["train_cases"] = Sighting(int(match.group(1)), line.number, line.file)
        self.settings["val_cases"] = Sighting(int(match.group(2)), line.number, line.file)

    def _done(self, match: re.Match[str], line: Line) -> None:
        self._done_line = line.number

    def _validation(self, match: re.Match[str], line: Line) -> None:
        self.settings["validation_dice"] = Sighting(parse_number(match.group(1)), line.number, line.file)

    def _configuration(self, match: re.Match[str], line: Line) -> None:
        self.settings["configuration"] = Sighting(match.group(1), line.number, line.file)
        following = line.following(1)
        config = _literal(following[0]) if following else None
        if not isinstance(config, dict):
            return
        where = (line.number + 1, line.file)
        for key, name in (("batch_size", "batch_size"), ("patch_size", "patch_size"), ("spacing", "spacing"),
                          ("data_identifier", "data_identifier")):
            if key in config:
                self.settings[name] = Sighting(config[key], *where)
        architecture = config.get("architecture")
        network = architecture.get("network_class_name") if isinstance(architecture, dict) else config.get("UNet_class_name")
        if isinstance(network, str):
            self.settings["network"] = Sighting(network.rsplit(".", 1)[-1], *where)

    def _plans(self, match: re.Match[str], line: Line) -> None:
        following = line.following(1)
        plans = _literal(following[0]) if following else None
        if not isinstance(plans, dict):
            return
        where = (line.number + 1, line.file)
        for key, name in (("dataset_name", "dataset"), ("plans_name", "plans"), ("experiment_planner_used", "planner")):
            if isinstance(plans.get(key), str):
                self.settings[name] = Sighting(plans[key], *where)

    # -- facts ---------------------------------------------------------------------------------------------
    def facts(self, sink: FactSink, errors: list[tuple[str, int]]) -> None:
        """Write the training facts; ``errors`` are (file, line) of the exceptions in the logs."""
        self._settings(sink)
        if not self.epochs:
            return
        sink.add("training.epochs", [epoch.record() for epoch in self.epochs])
        last = self.epochs[-1]
        where: dict[str, Any] = {"file": last.file, "lines": (last.line, max(last.line, last.last_line))}
        sink.add("training.epochs_completed", self._completed, **where)
        sink.add("training.last_epoch", last.number, **where)
        sink.add("training.finished", self._done_line is not None, **where)
        error_after = any(file == last.file and number >= last.line for file, number in errors)
        stopped = self._done_line is None and not error_after and last.epoch_time is None and last.val_loss is None
        sink.add("training.stopped_mid_epoch", stopped, **where)
        nan = self._first_nan
        if nan is not None:
            sink.add("training.nan_loss_epoch", nan.number, file=nan.file, lines=(nan.line, nan.last_line))
        self._dice_facts(sink)
        self._loss_facts(sink)
        self._time_facts(sink)

    def _settings(self, sink: FactSink) -> None:
        types = {"batch_size": int, "patch_size": list, "spacing": list, "train_cases": int, "val_cases": int,
                 "num_epochs": int, "iterations_per_epoch": int, "compile": bool, "unpacks_dataset": bool,
                 "validation_dice": float}
        for name, setting in sorted(self.settings.items()):
            value = setting.value
            wanted = types.get(name, str)
            if wanted is list:
                if not isinstance(value, (list, tuple)):
                    continue
                value = [int(v) if name == "patch_size" else float(v) for v in value]
            elif wanted is int:
                number = parse_number(str(value))
                if number is None or not math.isfinite(number):
                    continue
                value = int(number)
            elif wanted is float:
                if value is None:
                    continue
            elif wanted is str:
                value = str(value)
            lines = (setting.line, setting.line) if setting.line else None
            sink.add(f"training.{name}", value, file=setting.file, lines=lines)

    def _dice_facts(self, sink: FactSink) -> None:
        with_dice = [e for e in self.epochs if e.dice]
        if not with_dice:
            return
        recent = with_dice[-RECENT_EPOCHS:]
        classes = min(len(e.dice or []) for e in recent)
        stuck = [c + 1 for c in range(classes) if all((e.dice or [])[c] == 0 for e in recent)]
        where: dict[str, Any] = {"file": recent[0].file, "lines": (recent[0].line, recent[-1].last_line)}
        sink.add("training.dice_epochs", len(with_dice), **where)
        sink.add("training.dice_zero_classes", stuck, **where)
        means = [m for m in (_mean(e.dice) for e in with_dice[-5 * RECENT_EPOCHS:]) if m is not None]
        if len(means) >= 3:
            swings = [abs(b - a) for a, b in zip(means, means[1:])]
            sink.add("training.dice_swing", _median(swings), **where)

    def _loss_facts(self, sink: FactSink) -> None:
        pairs = [(e.train_loss, e.val_loss, e) for e in self.epochs
                 if e.train_loss is not None and e.val_loss is not None
                 and math.isfinite(e.train_loss) and math.isfinite(e.val_loss)]
        if len(pairs) < 2 * RECENT_EPOCHS:
            return
        recent, earlier = pairs[-RECENT_EPOCHS:], pairs[:-RECENT_EPOCHS]
        where: dict[str, Any] = {"file": recent[0][2].file, "lines": (recent[0][2].line, recent[-1][2].last_line)}
        sink.add("training.loss_gap", _average(v - t for t, v, _ in recent), **where)
        sink.add("training.val_loss_rise", _average(v for _, v, _ in recent) - min(v for _, v, _ in earlier),
                 **where)

    def _time_facts(self, sink: FactSink) -> None:
        timed = [e for e in self.epochs if e.epoch_time is not None and math.isfinite(e.epoch_time)]
        if not timed:
            return
        median = _median(e.epoch_time for e in timed if e.epoch_time is not None)
        last = timed[-1]
        where: dict[str, Any] = {"file": last.file, "lines": (last.line, last.last_line)}
        sink.add("training.epoch_time_median", median, **where)
        sink.add("training.epoch_time_last", last.epoch_time, **where)
        slow = [e.number for e in timed if median > 0 and (e.epoch_time or 0) > SLOW_EPOCH_FACTOR * median]
        sink.add("training.slow_epochs", slow, **where)


def read_debug_json(path: Path) -> dict[str, str] | None:
    """The trainer attributes nnU-Net dumps to ``fold_X/debug.json`` (all values are strings), or None."""
    try:
        debug = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    return {str(key): str(value) for key, value in debug.items()} if isinstance(debug, dict) else None


def _number(text: str) -> float | None:
    """A plain number as nnU-Net prints it, or any form ``parse_number`` reads (np.float32(...), nan)."""
    try:
        return float(text)
    except ValueError:
        return parse_number(text)


def _mean(values: list[float] | None) -> float | None:
    finite = [v for v in values or [] if math.isfinite(v)]
    return _average(finite) if finite else None


def _average(values: Iterable[float]) -> float:
    items = list(values)
    return math.fsum(items) / len(items)


def _median(values: Iterable[float]) -> float:
    items = sorted(values)
    middle = len(items) // 2
    return items[middle] if len(items) % 2 else (items[middle - 1] + items[middle]) / 2


def _literal(text: str) -> Any:
    """A Python literal as nnU-Net prints it (numpy 1 or 2 reprs included), or None.

    >>> _literal(" {'patch_size': (np.int64(16), np.int64(16)), 'spacing': array([1., 1.])} ")
    {'patch_size': (16, 16), 'spacing': [1.0, 1.0]}
    """
    cleaned = _NUMPY_CALL.sub(lambda m: m.group("inner"), text.strip())
    try:
        return ast.literal_eval(cleaned)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


# -- the training at a glance ----------------------------------------------------------------------------------
#: nnU-Net's EMA of the mean pseudo Dice (nnUNetTrainer.on_epoch_end): ema = 0.9 * ema + 0.1 * mean
EMA_WEIGHT = 0.9
_FOLD = re.compile(r"fold_(\w+)")


def training_runs(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs in ``training.epochs`` records (one per fold folder, or per log file), each with its series.

    Logs of one fold folder are one run in file name order (nnU-Net names them by start time), so a resumed
    training continues the series and shows as a ``resumed`` event; an epoch number that goes back inside one
    log is a ``restarted`` event.

    >>> runs = training_runs([{"epoch": 0, "train_loss": 0.8, "val_loss": 0.5, "dice": [0.1, 0.3], "lr": 0.01,
    ...                        "epoch_time": 30.0, "file": "fold_0/training_log_a.txt", "line": 3},
    ...                       {"epoch": 1, "train_loss": float("nan"), "val_loss": 0.4, "dice": [0.2, 0.5],
    ...                        "lr": 0.009, "epoch_time": 31.0, "file": "fold_0/training_log_a.txt", "line": 9}])
    >>> runs[0]["fold"], runs[0]["series"]["ema"], [e["kind"] for e in runs[0]["events"]]
    ('0', [0.2, 0.215], ['nan'])
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in epochs:
        file = str(record.get("file") or "")
        fold = _FOLD.search(file.replace("\\", "/").rsplit("/", 1)[0]) if "/" in file or "\\" in file else None
        groups.setdefault(fold.group(0) if fold else file, []).append(record)
    runs = []
    for key, records in groups.items():
        if len({r.get("file") for r in records}) > 1:
            records = sorted(records, key=lambda r: (str(r.get("file")), r.get("line") or 0))
        runs.append(_run(key, records))
    return runs


def _run(key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    series: dict[str, list[Any]] = {"epoch": [], "train_loss": [], "val_loss": [], "mean_dice": [], "ema": [],
                                    "lr": [], "epoch_time": []}
    dice: list[list[float | None]] = []
    events: list[dict[str, Any]] = []
    ema: float | None = None
    previous: dict[str, Any] | None = None
    for record in records:
        number = record.get("epoch")
        if previous is not None and isinstance(number, int) and isinstance(previous.get("epoch"), int):
            if number <= previous["epoch"]:
                kind = "resumed" if record.get("file") != previous.get("file") else "restarted"
                events.append({"epoch": number, "kind": kind, "text": f"{kind} at epoch {number}",
                               "file": record.get("file"), "line": record.get("line")})
            elif record.get("file") != previous.get("file"):
                events.append({"epoch": number, "kind": "resumed", "text": f"resumed at epoch {number}",
                               "file": record.get("file"), "line": record.get("line")})
        values = [_finite(v) for v in record.get("dice") or []]
        finite = [v for v in values if v is not None]
        mean = _average(finite) if finite else None
        if mean is not None:
            ema = mean if ema is None else EMA_WEIGHT * ema + (1 - EMA_WEIGHT) * mean
        for name in ("train_loss", "val_loss"):
            value = record.get(name)
            if isinstance(value, float) and not math.isfinite(value) and not any(e["kind"] == "nan" for e in events):
                events.append({"epoch": number, "kind": "nan", "text": f"{name} is NaN at epoch {number}",
                               "file": record.get("file"), "line": record.get("line")})
        series["epoch"].append(number)
        series["train_loss"].append(_finite(record.get("train_loss")))
        series["val_loss"].append(_finite(record.get("val_loss")))
        series["mean_dice"].append(None if mean is None else round(mean, 4))
        series["ema"].append(None if ema is None or mean is None else round(ema, 4))
        series["lr"].append(_finite(record.get("lr")))
        series["epoch_time"].append(_finite(record.get("epoch_time")))
        dice.append(values)
        previous = record
    classes = max((len(values) for values in dice), default=0)
    series["dice"] = [[values[c] if c < len(values) else None for values in dice] for c in range(classes)]
    collapse = _collapse(series["epoch"], series["mean_dice"])
    if collapse is not None:
        events.append(collapse)
    return {"key": key, "files": sorted({str(r.get("file")) for r in records}),
            "fold": (_FOLD.search(key).group(1) if _FOLD.search(key) else None),  # type: ignore[union-attr]
            "series": series, "events": sorted(events, key=lambda e: (e["epoch"] if isinstance(e["epoch"], int) else -1))}


def _collapse(epochs: list[Any], means: list[float | None]) -> dict[str, Any] | None:
    """The first epoch whose mean pseudo Dice falls below a third of the best so far (after reaching 0.3)."""
    best = 0.0
    for number, mean in zip(epochs, means):
        if mean is None:
            continue
        if best >= 0.3 and mean < best / 3:
            return {"epoch": number, "kind": "collapse",
                    "text": f"pseudo Dice collapsed at epoch {number} ({mean:.2f}, best {best:.2f})"}
        best = max(best, mean)
    return None


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
