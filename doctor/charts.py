"""The training charts of the HTML report: matplotlib figures rendered to inline SVG (no file, no network).

Imported only when an HTML report shows a training log: a log-only diagnosis in the terminal never loads
matplotlib. Each run gets one figure of three panels sharing the epoch axis: train and validation loss,
pseudo Dice per class with nnU-Net's EMA, and the learning rate; the events found (NaN loss, Dice collapse,
resume, causes pointing into an epoch) are marked as vertical lines on every panel.
"""
from __future__ import annotations

import io
import re
from typing import Any

#: colours of the events on the charts, by kind
EVENT_COLOURS = {"nan": "#c62828", "collapse": "#c62828", "cause": "#ef6c00", "resumed": "#1565c0",
                 "restarted": "#1565c0"}
_XML_HEADER = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _points(epochs: list[Any], values: list[Any]) -> tuple[list[Any], list[Any]]:
    pairs = [(e, v) for e, v in zip(epochs, values) if e is not None and v is not None]
    return [e for e, _ in pairs], [v for _, v in pairs]


def run_chart(run: dict[str, Any], title: str) -> str:
    """One run's figure as an ``<svg>`` element."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    series = run["series"]
    epochs = series["epoch"]
    figure = Figure(figsize=(9, 7.2), layout="constrained")
    loss, dice, lr = figure.subplots(3, 1, sharex=True, height_ratios=[3, 3, 1.4])
    for name, label, colour in (("train_loss", "train loss", "#1565c0"), ("val_loss", "validation loss", "#ef6c00")):
        x, y = _points(epochs, series[name])
        if x:
            loss.plot(x, y, label=label, color=colour, linewidth=1.4)
    loss.set_ylabel("loss")
    loss.set_title(title, fontsize=11, loc="left")
    for index, values in enumerate(series["dice"]):
        x, y = _points(epochs, values)
        if x:
            name = next((c["name"] for c in run["classes"] if c["class"] == index + 1), f"class {index + 1}")
            dice.plot(x, y, label=f"pseudo Dice {name}", linewidth=1, alpha=0.75)
    x, y = _points(epochs, series["ema"])
    if x:
        dice.plot(x, y, label="EMA pseudo Dice", color="black", linewidth=2)
    dice.set_ylabel("pseudo Dice")
    dice.set_ylim(0, 1)
    x, y = _points(epochs, series["lr"])
    if x:
        lr.plot(x, y, color="#6a1b9a", linewidth=1.2)
    lr.set_ylabel("learning rate")
    lr.set_xlabel("epoch")
    lr.xaxis.set_major_locator(MaxNLocator(integer=True))
    for event in run["events"]:
        if isinstance(event.get("epoch"), int):
            for axis in (loss, dice, lr):
                axis.axvline(event["epoch"], color=EVENT_COLOURS.get(event["kind"], "#ef6c00"), linestyle="--",
                             linewidth=1)
            loss.annotate(event["text"], (event["epoch"], 1), xycoords=("data", "axes fraction"), fontsize=8,
                          rotation=90, va="top", ha="right", color=EVENT_COLOURS.get(event["kind"], "#ef6c00"))
    for axis in (loss, dice, lr):
        axis.grid(True, alpha=0.3)
    for axis in (loss, dice):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8, loc="best")
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _XML_HEADER.sub("", buffer.getvalue(), count=1)


def training_charts(training: dict[str, Any]) -> list[dict[str, str]]:
    """One chart per run: ``{"title", "svg"}``; empty when matplotlib is not installed (the tables remain)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    import matplotlib as mpl

    charts = []
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nnunet-doctor", "font.size": 9}):
        for run in training["runs"]:
            if not run["series"]["epoch"]:
                continue
            title = f"fold {run['fold']}" if run["fold"] is not None else ", ".join(run["files"])
            charts.append({"title": title, "svg": run_chart(run, title)})
    return charts
