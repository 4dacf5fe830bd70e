"""The report: a plain, versioned document built from a diagnosis, rendered by Jinja2 templates.

:func:`build_report` computes everything a template shows (ranks, marks, bands, evidence lines); the
templates in ``reports_templates/`` only lay it out. The same document, serialised, is the JSON output;
its schema is documented in ``docs/report-format.md`` and versioned by ``schema_version``.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from nnunet_doctor import __version__
from nnunet_doctor.engine.certainty import certainty_band, is_found
from nnunet_doctor.engine.chaining import Firing
from nnunet_doctor.engine.diagnosis import Evidence, RankedCause, UnknownThatMattered, record_text
from nnunet_doctor.engine.evaluation import UNKNOWN
from nnunet_doctor.engine.facts import Fact, Provenance, Record, Unknown
from nnunet_doctor.engine.versions import Version
from nnunet_doctor.engine.wording import human

from .output import FORMATS
from .pipeline import DiagnosisResult

if TYPE_CHECKING:
    import jinja2

SCHEMA = "nnunet-doctor/report"
SCHEMA_VERSION = 1
MARKS = {"high": "✗", "medium": "!", "low": "·"}
STYLES = {"high": "red", "medium": "yellow", "low": "dim"}


def jsonable(value: Any) -> Any:
    if value is UNKNOWN or isinstance(value, Unknown):
        return None
    if isinstance(value, Version):
        return str(value)
    if isinstance(value, Record):
        return jsonable(dict(value.fields))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _source(provenance: Provenance | None) -> dict[str, Any]:
    return provenance.to_json() if provenance else {"source": "unknown"}


#: case record fields about the label file (the evidence then names labelsTr/<label>, not the first image)
_LABEL_FIELDS = frozenset({"label", "has_label", "label_shape", "label_spacing", "label_mismatch",
                           "label_mismatch_detail", "label_values", "unexpected_labels", "label_float",
                           "foreground_fraction", "class_fractions", "swapped_labels"})
#: how a case field reads in evidence: the wrong value in words (``unexpected 3``)
_CASE_WORDS: dict[str, str] = {
    "unexpected_labels": "unexpected {}", "label_values": "found {}", "label_float": "non-integer label values",
    "swapped_labels": "labels {} look exchanged", "swapped_channels": "channels {} look swapped",
    "nonfinite": "{} NaN or infinite voxels", "missing_channels": "missing {}", "extra_channels": "extra {}",
    "has_label": "label file present: {}", "foreground_fraction": "foreground {} of the voxels",
    "label_mismatch_detail": "{}", "channel_mismatch_detail": "{}", "spacing_outlier": "{}",
}
_FIELD = re.compile(r"\.\s*([A-Za-z_]\w*)")


def _case_evidence(fields: dict[str, Any], read: set[str]) -> tuple[str, str]:
    """(file, words) for a dataset case record: the file that holds the fault and the values the rules read."""
    shown = [name for name in fields if name in read and name not in ("id", "images", "label", "channels")
             and fields[name] not in (None, [], "")]
    label_fault = any(name in _LABEL_FIELDS for name in shown)
    images = [str(image) for image in fields.get("images") or []]
    folder = "imagesTs" if any("imagesTs" in image for image in images) else "imagesTr"
    if label_fault and fields.get("label"):
        file = f"labelsTr/{fields['label']}"
    elif images:
        file = ", ".join(image if "/" in image else f"{folder}/{image}" for image in images)
    else:
        file = str(fields.get("id", ""))
    words = []
    for name in shown:
        value = fields[name]
        if name == "label_float" and value is not True:
            continue
        if name in _CASE_WORDS:
            words.append(_CASE_WORDS[name].format(human(value)))
        else:
            words.append(f"{name.replace('_', ' ')} {human(value)}")
    return file, f"{fields.get('id', '')}: {'; '.join(words)}" if words else str(fields.get("id", ""))


def measured(value: Any, unit: str | None) -> str:
    """A value in words with the unit its fact declares in the vocabulary.

    >>> measured(1800.0, "MiB"), measured([0.8, 0.8, 3.0], "mm"), measured(None, "s")
    ('1800 MiB', '0.8, 0.8, 3 mm', 'unknown')
    """
    words = human(value)
    return f"{words} {unit}" if unit and words and words != "unknown" else words


def _evidence(item: Evidence, read: set[str], vocabulary: Any) -> dict[str, Any]:
    text, where = item.text, item.provenance.describe()
    value = item.value
    spec = vocabulary.specs.get(item.name) if vocabulary is not None and item.name is not None else None
    if item.kind == "fact" and isinstance(value, dict) and "id" in value and ("images" in value or "label" in value):
        file, text = _case_evidence(value, read)
        where = f"{item.provenance.source.label} {file}"
    elif item.kind == "fact" and item.name is not None and not isinstance(value, dict):
        what = spec.description if spec is not None else item.name
        text = f"{what}: {measured(value, spec.unit if spec is not None else None)}"
    elif item.kind == "fact" and isinstance(value, dict) and text.startswith(tuple(f"{k}=" for k in value)):
        units = {name: field.unit for name, field in spec.fields.items()} if spec is not None else {}
        text = ", ".join(f"{human(k)}: {measured(v, units.get(k))}" for k, v in value.items()
                         if v is not None and k not in ("line", "file"))
    out: dict[str, Any] = {"kind": item.kind, "text": text, "source": _source(item.provenance), "where": where}
    if item.kind == "log":
        out["file"] = item.provenance.file
        out["line"] = item.provenance.lines[0] if item.provenance.lines else None
    if item.name is not None:
        out["name"] = item.name
    if item.value is not None:
        out["value"] = jsonable(item.value)
    return out


def _fact_entry(fact: Fact, witnesses: list[Record]) -> dict[str, Any]:
    """A fact as the report shows it; a collection is summarised by its size and the items that matched."""
    source = _source(fact.provenance)
    if isinstance(fact.value, list) and fact.value and isinstance(fact.value[0], Record):
        matched = [{"text": record_text(record), "where": (record.provenance or fact.provenance).describe()}
                   for record in witnesses]
        display = f"{len(fact.value)} item{'s' if len(fact.value) != 1 else ''}"
        if matched:
            display += "; matched: " + "; ".join(f"{m['where']}: {m['text']}" for m in matched[:5])
        return {"value": {"items": len(fact.value), "matched": matched}, "source": source, "display": display}
    value = jsonable(fact.value)
    return {"value": value, "source": source,
            "display": f"{json.dumps(value, ensure_ascii=False)} ({fact.provenance.describe()})"}


def _explanation(firing: Firing) -> dict[str, Any]:
    rule = firing.rule
    witnesses = firing.evaluation.witnesses
    return {
        "rule": rule.id, "title": rule.title, "certainty": rule.certainty, "status": rule.status,
        "origin": rule.origin, "condition": " ".join(rule.when.text.split()),
        "bindings": {name: jsonable(record) for name, record in firing.bindings.items()},
        "trace": [{"condition": text, "value": jsonable(value)} for text, value in firing.evaluation.trace],
        "facts": {name: _fact_entry(fact, witnesses.get(name, []))
                  for name, fact in sorted(firing.evaluation.facts_used.items())},
        "asserted": {fact.name: jsonable(fact.value) for fact in firing.asserted},
    }


def _title(cause: RankedCause, catalog: Any) -> str:
    """One title per cause: the catalog's words for it (the rule's title for a cause a site added without them)."""
    entry = catalog.get(cause.cause) if catalog is not None else None
    text = entry.description if entry is not None and entry.description else cause.best.rule.title
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.isalpha() and first.islower() else text


def _cause(rank: int, cause: RankedCause, pack: Any = None) -> dict[str, Any]:
    best = cause.best
    band = certainty_band(cause.certainty)
    read = {name for firing in cause.supporting for name in _FIELD.findall(firing.rule.when.text)}
    vocabulary = getattr(pack, "vocabulary", None)
    return {
        "rank": rank, "cause": cause.cause, "rule": best.rule.id, "title": _title(cause, getattr(pack, "catalog", None)),
        "finding": best.rule.title,
        "description": cause.description, "phase": cause.phase, "severity": best.rule.severity,
        "certainty": round(cause.certainty, 4), "band": band, "mark": MARKS[band], "style": STYLES[band],
        "lowered": cause.lowered, "status": best.rule.status, "fix": best.fix, "references": list(best.rule.references),
        "evidence": [_evidence(item, read, vocabulary) for item in cause.evidence],
        "rules": [{"rule": f.rule.id, "certainty": f.certainty, "effect": "supports"} for f in cause.supporting]
        + [{"rule": f.rule.id, "certainty": f.certainty, "effect": "weakens"} for f in cause.weakening],
        "explanation": [_explanation(f) for f in cause.supporting + cause.weakening],
    }


#: the input a probe reads, in the user's words: (input, what to give when it is missing, when it was given)
_INPUTS: dict[str, tuple[str, str]] = {
    "log": ("log", "the log given does not show it: the complete console output of the failing command, or the "
                   "fold folder (training_log_*.txt and debug.json), would"),
    "dataset": ("dataset", "the dataset given could not be read for it"),
    "preprocessed": ("dataset", "the dataset's preprocessed data could not be read for it"),
    "rules": ("dataset", "nothing given names the dataset"),
    "results": ("results", "the results folder given does not show it"),
    "environment": ("machine", "this shell does not show it"),
    "gpu": ("machine", "this machine does not show it"),
    "system": ("machine", "this machine does not show it"),
    "installation": ("machine", "this Python environment does not show it"),
}


def _given(request: Any) -> dict[str, bool]:
    return {"log": bool(request.logs or request.log_texts), "dataset": request.dataset is not None,
            "results": request.results is not None,
            "machine": request.bundle is not None or not request.offline}


def _unknown_inputs(unknowns: list[UnknownThatMattered], pack: Any = None,
                    given: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """The unknowns grouped by what would settle them: one entry per missing input, most checks first.

    ``ask`` says it in the user's words, without fact names; for an input that was given it says what the input
    lacks instead of asking for it again.
    """
    specs = pack.vocabulary.specs if pack is not None else {}
    given = given or {}
    groups: dict[str, list[UnknownThatMattered]] = {}
    for unknown in unknowns:
        groups.setdefault(unknown.settled_by or "no probe establishes it", []).append(unknown)
    out = []
    for settled_by, members in groups.items():
        rules = sorted({rule for member in members for rule in member.rules})
        reasons = sorted({member.reason for member in members if member.reason})
        spec = specs.get(members[0].fact)
        probe = spec.probe if spec is not None else ""
        kind, lacking = _INPUTS.get(probe, ("", ""))
        was_given = bool(given.get(kind))
        ask = (lacking + (f" ({'; '.join(reasons)})" if reasons else "")) if was_given and lacking else \
            settled_by + (f" ({'; '.join(reasons)})" if reasons else "")
        out.append({"settled_by": settled_by, "facts": [member.fact for member in members], "rules": len(rules),
                    "causes": sorted({cause for member in members for cause in member.causes}), "reasons": reasons,
                    "input": kind or "other", "given": was_given, "ask": ask})
    return sorted(out, key=lambda group: (group["given"], -group["rules"], group["settled_by"]))


#: how each input is named to the user
INPUT_NAMES = {"log": "a log (--log)", "dataset": "the dataset (--dataset)", "results": "the trained model (--results)",
               "machine": "the machine and shell that run nnU-Net (diagnose there, or --bundle)", "other": "other"}


def _to_settle(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unknown-input groups merged by input: what each input would settle, in the user's words."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        entry = merged.setdefault(group["input"], {"input": group["input"], "name": INPUT_NAMES[group["input"]],
                                                   "given": group["given"], "asks": [], "rules": 0, "causes": []})
        if group["ask"] not in entry["asks"]:
            entry["asks"].append(group["ask"])
        entry["rules"] += group["rules"]
        entry["causes"] = sorted(set(entry["causes"]) | set(group["causes"]))
    return sorted(merged.values(), key=lambda entry: (entry["given"], -entry["rules"]))


# -- the training at a glance -------------------------------------------------------------------------------------
#: sparkline blocks, lowest first
_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 40


def sparkline(values: list[Any], points: int = SPARK_POINTS) -> str:
    """A series as a line of block characters (gaps as spaces), resampled to at most ``points`` characters.

    >>> sparkline([0.1, 0.3, 0.5, 0.7, 0.9])
    '▁▃▅▆█'
    """
    if len(values) > points:
        step = len(values) / points
        values = [values[min(len(values) - 1, int(i * step))] for i in range(points)]
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(" " if not (isinstance(v, (int, float)) and math.isfinite(v))
                   else _BLOCKS[min(len(_BLOCKS) - 1, int((v - low) / span * (len(_BLOCKS) - 1) + 0.5))]
                   for v in values)


def _trend(values: list[Any]) -> str:
    """falling / rising / flat: the mean of the last fifth against the first fifth of the series."""
    finite = [v for v in values if v is not None]
    if len(finite) < 2:
        return "too short"
    part = max(1, len(finite) // 5)
    first, last = sum(finite[:part]) / part, sum(finite[-part:]) / part
    scale = max(abs(first), abs(last), 1e-9)
    if abs(last - first) / scale < 0.05:
        return "flat"
    return "falling" if last < first else "rising"


def _last(values: list[Any]) -> Any:
    return next((v for v in reversed(values) if v is not None), None)


def _fact_value(facts: Any, name: str) -> Any:
    fact = facts.get(name) if facts is not None else None
    return fact.value if fact is not None and fact.known else None


def _class_names(facts: Any) -> dict[int, str]:
    labels = _fact_value(facts, "dataset_json.labels")
    names: dict[int, str] = {}
    if isinstance(labels, dict):
        for name, value in labels.items():
            if isinstance(value, int) and value > 0 and name != "ignore":
                names[value] = str(name)
    return names


def _training(facts: Any, causes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The training runs in the logs: per run its series, per class the best and last pseudo Dice, events."""
    from nnunet_doctor.probes.log.training import training_runs

    epochs = _fact_value(facts, "training.epochs")
    if not epochs:
        return None
    records = [dict(record.fields) if isinstance(record, Record) else dict(record) for record in epochs]
    names = _class_names(facts)
    runs = []
    for run in training_runs(records):
        series = run["series"]
        done = sum(1 for t, v in zip(series["train_loss"], series["val_loss"]) if t is not None or v is not None)
        classes = []
        for index, values in enumerate(series["dice"]):
            finite = [(v, e) for v, e in zip(values, series["epoch"]) if v is not None]
            if not finite:
                continue
            best, best_epoch = max(finite, key=lambda pair: pair[0])
            classes.append({"class": index + 1, "name": names.get(index + 1, f"class {index + 1}"),
                            "best": round(best, 4), "best_epoch": best_epoch, "last": round(finite[-1][0], 4)})
        emas = [(v, e) for v, e in zip(series["ema"], series["epoch"]) if v is not None]
        best_ema = max(emas, key=lambda pair: pair[0]) if emas else None
        events = list(run["events"]) + _rule_events(run, records, causes)
        epoch_times = [v for v in series["epoch_time"] if v is not None]
        runs.append({
            "fold": run["fold"], "files": run["files"], "epochs": done,
            "first_epoch": series["epoch"][0] if series["epoch"] else None,
            "last_epoch": series["epoch"][-1] if series["epoch"] else None,
            "ema": {"best": best_ema[0] if best_ema else None, "best_epoch": best_ema[1] if best_ema else None,
                    "last": _last(series["ema"])},
            "classes": classes,
            "loss": {"train_last": _last(series["train_loss"]), "val_last": _last(series["val_loss"]),
                     "train_trend": _trend(series["train_loss"]), "val_trend": _trend(series["val_loss"])},
            "epoch_time": {"median": round(sorted(epoch_times)[len(epoch_times) // 2], 2) if epoch_times else None,
                           "last": epoch_times[-1] if epoch_times else None},
            "lr": {"first": next((v for v in series["lr"] if v is not None), None), "last": _last(series["lr"])},
            "spark": {"train_loss": sparkline(series["train_loss"]), "val_loss": sparkline(series["val_loss"]),
                      "ema": sparkline(series["ema"])},
            "events": sorted(events, key=lambda e: e["epoch"] if isinstance(e.get("epoch"), int) else -1),
            "series": series,
        })
    planned = _fact_value(facts, "training.num_epochs")
    finished = _fact_value(facts, "training.finished")
    stopped = _fact_value(facts, "training.stopped_mid_epoch")
    validation = _fact_value(facts, "training.validation_dice")
    setting = {name: _fact_value(facts, f"training.{name}") for name in
               ("dataset", "trainer", "plans", "configuration", "fold", "device", "network", "batch_size",
                "patch_size")}
    run_name = "__".join(str(setting[k]) for k in ("trainer", "plans", "configuration") if setting.get(k))
    if len(runs) > 1:
        setting["fold"] = ", ".join(str(run["fold"]) for run in runs)
    parts = [str(setting["dataset"]) if setting.get("dataset") else "", run_name,
             f"fold {setting['fold']}" if setting.get("fold") is not None else "",
             f"on {setting['device']}" if setting.get("device") else "", str(setting.get("network") or ""),
             f"batch {setting['batch_size']}" if setting.get("batch_size") else "",
             "patch " + "×".join(str(v) for v in setting["patch_size"]) if setting.get("patch_size") else ""]
    headline = _training_headline(runs, planned, finished, stopped, validation, causes)
    return {"headline": headline, "ok": headline["ok"], "curves": any(run["epochs"] for run in runs),
            "planned_epochs": planned, "finished": finished,
            "stopped_mid_epoch": stopped, "validation_dice": validation,
            "setting": {k: (human(v) if isinstance(v, list) else v) for k, v in setting.items() if v is not None},
            "run": ", ".join(part for part in parts if part),
            "runs": runs}


def _rule_events(run: dict[str, Any], records: list[dict[str, Any]], causes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The causes whose log evidence falls inside an epoch of this run, as events on its timeline."""
    spans = [(r.get("file"), r.get("line") or 0, r.get("epoch")) for r in records if str(r.get("file")) in run["files"]]
    events = []
    for cause in causes:
        if cause["band"] == "low" or cause["severity"] == "info":
            continue
        for item in cause["evidence"]:
            file, lines = item["source"].get("file"), item["source"].get("lines")
            if file not in run["files"] or not lines:
                continue
            epoch = None
            for span_file, line, number in spans:
                if span_file == file and line <= lines[0]:
                    epoch = number
            if epoch is not None:
                events.append({"epoch": epoch, "kind": "cause", "cause": cause["cause"],
                               "text": f"{cause['cause']} (line {lines[0]})"})
                break
    return events


def _training_headline(runs: list[dict[str, Any]], planned: Any, finished: Any, stopped: Any, validation: Any,
                       causes: list[dict[str, Any]]) -> dict[str, Any]:
    """One sentence that answers "is my training OK?", and whether it is."""
    problems = [e["text"] for run in runs for e in run["events"] if e["kind"] in ("nan", "collapse")]
    training_causes = [c for c in causes if c["phase"] == "training" and c["band"] != "low" and c["severity"] != "info"]
    if not finished:  # a run that did not finish: whatever stopped it (a crash, the OOM killer) counts too
        training_causes += [c for c in causes if c not in training_causes and c["band"] != "low"
                            and c["severity"] == "error"]
    epochs = sum(run["epochs"] for run in runs)
    last = max((run["last_epoch"] for run in runs if run["last_epoch"] is not None), default=None)
    count = last + 1 if planned and last is not None else epochs
    progress = f"{count} of {planned} epochs" if planned else f"{epochs} epoch{'s' if epochs != 1 else ''}"
    state = "finished" if finished else ("stopped in the middle of an epoch" if stopped else
                                         "stopped" if training_causes else "not finished (yet)")
    ema = [(run["fold"], run["ema"]["last"]) for run in runs if run["ema"]["last"] is not None]
    if len(ema) > 1:
        dice = "; EMA pseudo Dice " + ", ".join(f"{value:.4f} (fold {fold})" for fold, value in ema)
    else:
        dice = f"; EMA pseudo Dice {ema[0][1]:.4f}" if ema else ""
    if validation is not None:
        dice += f"; final validation Dice {validation:.4f}"
    ok = not problems and not any(c["band"] == "high" or c["phase"] != "training" for c in training_causes)
    if not epochs:
        verdict, mark = "Training: no epoch completed in the log", "·"
    elif ok and training_causes:
        verdict, mark = "Training looks healthy, with warnings", "!"
    elif ok:
        verdict, mark = "Training looks healthy" if finished else "Training looks healthy so far", "✓"
    else:
        verdict, mark = "Training has problems", "✗"
    detail = "; ".join(problems + ([f"see {', '.join(c['cause'] for c in training_causes)}"] if training_causes else []))
    text = f"{verdict}: {progress}, {state}{dice}" + (f". {detail[:1].upper()}{detail[1:]}." if detail else ".")
    if not epochs:
        text = f"{verdict}" + (f" (it stops inside epoch {last})." if stopped and last is not None else ".")
    return {"ok": ok, "mark": mark, "style": {"✓": "green", "✗": "red", "!": "yellow"}.get(mark, "dim"),
            "text": text}


_AREAS = (("environment", "Environment and installation", "machine"), ("data", "Dataset", "dataset"),
          ("training", "Training", "log"), ("inference", "Inference", "log"))


def _incomplete(probe_reports: Any) -> list[dict[str, Any]]:
    """The probes that could not finish (crashed or timed out), each with the input it reads and the areas it
    checks: what they would have found is unknown, so those areas are never shown as healthy."""
    from nnunet_doctor.probes.runner import PROBES

    needs = {entry.name: entry.needs for entry in PROBES}
    out = []
    for report in probe_reports:
        if report.status != "failed":
            continue
        kind = needs.get(report.name, "other")
        detail = report.detail if len(report.detail) <= 200 else report.detail[:199] + "…"
        out.append({"probe": report.name, "input": kind, "detail": detail,
                    "areas": [title for _, title, area_needs in _AREAS
                              if area_needs == kind or (kind == "results" and area_needs == "dataset")]})
    return out


def _checklist(causes: list[dict[str, Any]], given: dict[str, bool], training: dict[str, Any] | None,
               incomplete: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per area, like ``flutter doctor``: ✗ a likely cause, ! a possible one, ✓ checked and clean,
    ? not checked (and the input that would check it) or not checked to the end (a probe crashed)."""
    out = []
    for phase, title, needs in _AREAS:
        found = [c for c in causes if c["phase"] == phase and is_found(c["certainty"])]
        checked = given.get(needs, False) or (phase == "data" and given.get("results", False))
        crashed = [entry for entry in incomplete if title in entry["areas"]]
        if found:
            mark = "✗" if any(c["band"] == "high" for c in found) else "!"
            text = ", ".join(c["cause"] for c in found)
        elif crashed:
            mark = "?"
            text = "not checked to the end: " + "; ".join(f"the {entry['probe']} probe crashed ({entry['detail']})"
                                                          for entry in crashed)
        elif checked:
            mark = "✓"
            text = training["headline"]["text"] if phase == "training" and training else "nothing wrong found"
        else:
            mark = "?"
            text = f"not checked: give {INPUT_NAMES[needs]}"
        out.append({"area": title, "mark": mark, "style": {"✗": "red", "!": "yellow", "✓": "green"}.get(mark, "dim"),
                    "text": text})
    return out


# -- versions (like torch.utils.collect_env) -------------------------------------------------------------------------
#: the rows of the versions block: (shown name, distribution names in install.packages / log.packages)
VERSION_ROWS = (("nnunetv2", ("nnunetv2", "nnunet")), ("torch", ("torch",)), ("torchvision", ("torchvision",)),
                ("numpy", ("numpy",)), ("SimpleITK", ("simpleitk",)), ("batchgenerators", ("batchgenerators",)),
                ("batchgeneratorsv2", ("batchgeneratorsv2",)), ("acvl_utils", ("acvl-utils", "acvl_utils")),
                ("dynamic_network_architectures", ("dynamic-network-architectures", "dynamic_network_architectures")))


def _where(fact: Fact | None, bundle: Any) -> str:
    if fact is None:
        return ""
    provenance = fact.provenance
    if provenance.source.is_log:
        return provenance.describe()
    return f"bundle {bundle}" if bundle is not None else "this machine"


def _versions(facts: Any, request: Any) -> list[dict[str, Any]]:
    """Package, Python, OS, GPU and driver versions with where each came from; unknown ones say so."""
    bundle = getattr(request, "bundle", None)
    rows: list[dict[str, Any]] = []
    packages = facts.get("install.packages") if facts is not None else None
    installed: dict[str, Any] = {}
    if packages is not None and packages.known and isinstance(packages.value, list):
        for record in packages.value:
            fields = record.fields if isinstance(record, Record) else record
            name = str(fields.get("name", "")).lower().replace("_", "-")
            installed[name] = fields.get("version") if fields.get("installed") else "not installed"
    logged: dict[str, tuple[str, Fact]] = {}
    in_log = facts.get("log.packages") if facts is not None else None
    if in_log is not None and in_log.known and isinstance(in_log.value, list):
        for record in in_log.value:
            if record.fields.get("version"):
                logged.setdefault(str(record.fields["name"]).lower().replace("_", "-"),
                                  (str(record.fields["version"]), Fact("log.packages", None, record.provenance)))
    for shown, names in VERSION_ROWS:
        value, source = None, ""
        for name in names:
            key = name.lower().replace("_", "-")
            if key in installed:
                value, source = installed[key], _where(packages, bundle)
                break
            if key in logged:
                value, source = logged[key][0], _where(logged[key][1], bundle)
                break
        if value is None and shown in ("nnunetv2", "torch"):
            fact = facts.get("nnunet.version" if shown == "nnunetv2" else "torch.version")
            if fact is not None and fact.known:
                value, source = str(fact.value), _where(fact, bundle)
        if shown == "torch" and value is not None:
            build = facts.get("torch.cuda_build")
            if build is not None and build.known and build.value:
                value = f"{value} (CUDA {build.value})"
            elif _fact_value(facts, "torch.cuda_built") is False:
                value = f"{value} (CPU-only build)"
            elif facts.get("log.torch_build") is not None and facts.get("log.torch_build").known:
                value = f"{value} (build {facts.get('log.torch_build').value})"
        rows.append({"name": shown, "value": None if value is None else str(value), "source": source})
    python = facts.get("python.version")
    rows.append({"name": "Python", "value": str(python.value) if python is not None and python.known else None,
                 "source": _where(python, bundle)})
    system = facts.get("system.os_release") or facts.get("system.os") or facts.get("log.os")
    os_value = str(system.value) if system is not None and system.known else None
    machine = _fact_value(facts, "system.machine")
    if os_value and machine:
        os_value += f" ({machine})"
    rows.append({"name": "OS", "value": os_value, "source": _where(system, bundle)})
    gpus = facts.get("nvidia_smi.gpus") or facts.get("gpu") or facts.get("log.gpus")
    gpu_value = None
    if gpus is not None and gpus.known and isinstance(gpus.value, list):
        gpu_names = [str(r.fields.get("name")) + (f" ({human(r.fields['total_mib'] / 1024, digits=3)} GiB)"
                                                   if r.fields.get("total_mib") else "")
                     for r in gpus.value if r.fields.get("name")]
        gpu_value = ", ".join(gpu_names) if gpu_names else "none visible"
    rows.append({"name": "GPU", "value": gpu_value, "source": _where(gpus, bundle)})
    driver = facts.get("nvidia_smi.driver_version")
    cuda = _fact_value(facts, "nvidia_smi.cuda_version")
    driver_value = str(driver.value) if driver is not None and driver.known else None
    if driver_value and cuda:
        driver_value += f" (supports CUDA {cuda})"
    if driver_value is None and _fact_value(facts, "nvidia_smi.present") is False:
        driver_value = "no nvidia-smi on PATH"
        driver = facts.get("nvidia_smi.present")
    rows.append({"name": "NVIDIA driver", "value": driver_value, "source": _where(driver, bundle)})
    cudnn = facts.get("torch.cudnn_version")
    cudnn_value = str(cudnn.value) if cudnn is not None and cudnn.known else None
    if cudnn_value is None and _fact_value(facts, "torch.cuda_built") is False:
        cudnn_value, cudnn = "none (CPU-only PyTorch)", facts.get("torch.cuda_built")
    rows.append({"name": "cuDNN", "value": cudnn_value, "source": _where(cudnn, bundle)})
    return rows


def build_report(result: DiagnosisResult, top: int | None = None) -> dict[str, Any]:
    diagnosis = result.diagnosis
    request = result.request
    pack = diagnosis.pack
    causes = [_cause(index + 1, cause, pack) for index, cause in enumerate(diagnosis.causes)]
    shown = causes[:top] if top else causes
    used: dict[str, Any] = {}
    for cause in diagnosis.causes:
        for firing in cause.supporting + cause.weakening:
            for name, fact in firing.evaluation.facts_used.items():
                used[name] = _fact_entry(fact, firing.evaluation.witnesses.get(name, []))
    found = any(is_found(cause["certainty"]) for cause in causes)
    facts = diagnosis.facts
    given = _given(request)
    unknown_inputs = _unknown_inputs(diagnosis.unknowns, pack, given)
    training = _training(facts, causes)
    incomplete = _incomplete(result.probe_reports)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "tool": {"name": "nnunet-doctor", "version": __version__},
        "rule_pack": {"version": pack.version, "rules": len(pack.rules), "signatures": len(pack.signatures),
                      "sources": pack.sources, "disabled": sorted(pack.disabled), "algebra": diagnosis.algebra},
        "inputs": {"logs": [("<stdin>" if log == "-" else log) for log in request.logs] + list(request.log_texts),
                   "dataset": request.dataset,
                   "results": str(request.results) if request.results else None, "offline": request.offline,
                   "bundle": str(request.bundle) if request.bundle else None},
        "summary": {"found": found, "causes": len(causes), "shown": len(shown),
                    "top": shown[0]["cause"] if shown else None, "unexplained": result.unexplained is not None,
                    "incomplete": bool(incomplete)},
        "incomplete": incomplete,
        "unexplained": result.unexplained.to_json() if result.unexplained is not None else None,
        "causes": shown,
        "training": training,
        "checklist": _checklist(causes, given, training, incomplete),
        "versions": _versions(facts, request),
        "unknowns": [{"fact": u.fact, "settled_by": u.settled_by, "reason": u.reason, "rules": list(u.rules),
                      "causes": list(u.causes)} for u in diagnosis.unknowns],
        "unknown_inputs": unknown_inputs,
        "to_settle": _to_settle(unknown_inputs),
        "findings": [{"source": str(f.source), "message": f.message, "severity": f.severity} for f in diagnosis.findings],
        "probes": [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 3), "detail": r.detail}
                   for r in result.probe_reports],
        "facts": dict(sorted(used.items())),
    }


_ANSI = {"red": "\x1b[31m", "yellow": "\x1b[33m", "green": "\x1b[32m", "dim": "\x1b[2m", "bold": "\x1b[1m"}
_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
#: width of terminal output when neither the terminal nor --width says
DEFAULT_WIDTH = 100
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&!])")


def markdown_text(value: Any) -> str:
    r"""Text as Markdown shows it literally: every character Markdown or HTML would read is escaped, newlines
    become spaces (no hard wraps outside code blocks).

    >>> print(markdown_text("nnUNetv2_train <Trainer>__<Plans> *all*"))
    nnUNetv2\_train \<Trainer\>\_\_\<Plans\> \*all\*
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def markdown_code(value: Any) -> str:
    """Inline code that survives any backticks inside it."""
    text = " ".join(str(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(value: Any) -> str:
    """A code fence longer than any run of backticks in ``value``."""
    longest = max((len(run) for run in re.findall(r"`{3,}", str(value))), default=0)
    return "`" * max(3, longest + 1)


def _visible(text: str) -> int:
    return len(_ANSI_CODE.sub("", text))


def wrap_line(line: str, width: int) -> list[str]:
    """``line`` folded at spaces to ``width`` columns (ANSI colours not counted), continuation lines indented two
    more; a word or path longer than the width stays whole on its own line.

    >>> wrap_line("    see /a/very/long/path and more words", 20)
    ['    see', '      /a/very/long/path', '      and more words']
    """
    if _visible(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    words = line[indent:].split(" ")
    lines: list[str] = []
    current = " " * indent
    start = len(current)
    for word in words:
        if _visible(current) > start and _visible(current) + 1 + _visible(word) > width:
            lines.append(current)
            current = " " * (indent + 2)
            start = len(current)
        current += ("" if _visible(current) == start else " ") + word
    lines.append(current)
    return lines


def wrap(text: str, width: int) -> str:
    r"""Terminal text folded to ``width``, except the command lines of a fix (indented under ``fix:``): a command
    folded at a space would become two commands when pasted, the second one made of whatever text follows (a file
    named ``a ;touch x; b.nii.gz``). A long command runs past the width; the terminal soft-wraps it.

    >>> print(wrap("  fix:\n    Move the files:\n      mv 'a ;touch x; b.nii.gz' 'c.nii.gz'", 30), end="")
      fix:
        Move the files:
          mv 'a ;touch x; b.nii.gz' 'c.nii.gz'
    """
    out: list[str] = []
    in_fix = False
    for line in text.rstrip("\n").split("\n"):
        plain = _ANSI_CODE.sub("", line)
        indent = len(plain) - len(plain.lstrip(" "))
        if plain.strip() and indent < 4:
            in_fix = plain.strip() == "fix:"
        if in_fix and indent >= 6:
            out.append(line.rstrip())
            continue
        out += [piece.rstrip() for piece in wrap_line(line, width)]
    return "\n".join(out) + "\n"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@lru_cache(maxsize=2)
def template_environment(autoescape: bool) -> jinja2.Environment:
    """The Jinja2 environment of the report templates (autoescaping for HTML)."""
    import jinja2

    from nnunet_doctor.engine.pack_cache import template_cache

    loader = jinja2.FileSystemLoader(str(resources.files("nnunet_doctor.reports_templates")))
    env = jinja2.Environment(loader=loader, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             bytecode_cache=template_cache("html" if autoescape else "text"))
    env.filters["json"] = _json
    env.filters["indent_block"] = lambda text, width=4: "\n".join(
        (" " * width + line) if line.strip() else "" for line in str(text).splitlines())
    env.filters["md"] = markdown_text
    env.filters["md_code"] = markdown_code
    env.filters["fence"] = fence
    env.filters["human"] = human
    env.filters["evidence_lines"] = lambda items: "\n".join(f"{item['where']}: {item['text']}" for item in items)
    env.tests["from_probe"] = _from_probe  # {% if finding.source is from_probe %}: a report's source, as written
    return env


def _from_probe(source: str) -> bool:
    """Whether a report's ``source`` (:class:`~nnunet_doctor.engine.sources.Source` as text) names a probe."""
    from nnunet_doctor.engine.sources import Source, SourceKind

    return Source.parse(source).kind is SourceKind.PROBE


def render(report: dict[str, Any], fmt: str, *, color: bool = False, verbose: bool = False,
           explain: bool = False, template_name: str | None = None, width: int | None = None) -> str:
    """Lay ``report`` out in ``fmt`` with its template (or with ``template_name``, e.g. the environment check);
    terminal output is folded to ``width`` columns."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "json" and template_name is None:
        return _json(report) + "\n"  # no layout to apply: no template to load, and no Jinja to import
    template = template_environment(fmt == "html").get_template(template_name or f"{fmt}.j2")

    def style(text: Any, name: str) -> str:
        return f"{_ANSI[name]}{text}\x1b[0m" if color and name in _ANSI else str(text)

    charts: list[dict[str, str]] = []
    if fmt == "html" and report.get("training"):
        from .charts import training_charts  # matplotlib: only for HTML

        charts = training_charts(report["training"])
    text = template.render(report=report, verbose=verbose, explain=explain, style=style, charts=charts)
    if fmt == "terminal" and template_name is None:  # the environment check (checkup.j2) lays out its own lines
        text = wrap(text, width or DEFAULT_WIDTH)
    return text
