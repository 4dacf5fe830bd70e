"""From measurements to case records: geometry compared with nnU-Net's tolerances, labels against dataset.json,
and the dataset-wide summaries rules reason with (orientation, median spacing, per-class sizes, swapped items).

>>> from .dataset_json import parse_dataset_json
>>> from .layout import CaseFiles, Layout
>>> info = parse_dataset_json('{"labels": {"background": 0, "liver": 1}, "channel_names": {"0": "CT"}}')
>>> geometry = {"ndim": 3, "shape": [4, 4, 4], "spacing": [1.0, 1.0, 1.0], "origin": [0, 0, 0],
...             "direction": [1, 0, 0, 0, 1, 0, 0, 0, 1], "components": 1, "pixel_type": "uint8"}
>>> result = {"headers": {"imagesTr/a_0000.nii.gz": geometry, "labelsTr/a.nii.gz": dict(geometry, shape=[4, 4, 3])},
...           "voxels": {"errors": {}, "channels": [None], "label": {"counts": {"0": 40, "1": 4, "255": 4},
...                      "total": 48, "float": False, "nonfinite": 0, "distinct": 3}}}
>>> layout = Layout(pathlib.Path("."), cases=[CaseFiles("a", ["imagesTr/a_0000.nii.gz"], "labelsTr/a.nii.gz")])
>>> record = describe(layout, info, {"train/a": result}).cases[0]
>>> record["label_mismatch"], record["label_mismatch_detail"], record["unexpected_labels"]
(['shape'], 'shape: image (4, 4, 4), label (4, 4, 3)', [255.0])
"""
from __future__ import annotations

import math
import pathlib  # noqa: F401  (used by the doctest)
import statistics
from collections import Counter
from typing import Any, Mapping

from msgspec import Struct, field

from .consistency import swapped_items
from .dataset_json import DatasetJson
from .headers import Geometry, close, orientation
from .layout import CaseFiles, FileIssue, Layout

#: the largest label value whose share of the voxels is measured (a uint16 label image's range)
MAX_LABEL_VALUE = 65_535
OUTLIER_FACTOR = 5.0  # a case whose spacing differs from the median by this factor: units mixed up?


class CaseFacts(Struct):
    cases: list[dict[str, Any]] = field(default_factory=list)
    test_cases: list[dict[str, Any]] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)
    orientation: str | None = None
    spacing_median: list[float] | None = None
    shape_median: list[float] | None = None
    anisotropy: float | None = None
    classes: list[dict[str, Any]] | None = None


def task_key(role: str, case: CaseFiles) -> str:
    return f"{role}/{case.id}"


def describe(layout: Layout, info: DatasetJson, measured: Mapping[str, dict[str, Any]]) -> CaseFacts:
    facts = CaseFacts()
    foreground = _foreground_labels(info)
    profiles: dict[str, tuple[list[Any], list[Any]]] = {}
    for case in layout.cases:
        result = measured.get(task_key("train", case))
        if result is None:
            continue
        record, channel_profile, label_profile = _case_record(case, result, info, foreground, facts.issues)
        facts.cases.append(record)
        profiles[case.id] = (channel_profile, label_profile)
    for case in layout.test_cases:
        result = measured.get(task_key("test", case))
        if result is not None:
            facts.test_cases.append(_test_record(case, result, facts.issues))
    _summarise(facts)
    if any(record.get("label_values") is not None for record in facts.cases):
        _mark_swaps(facts.cases, profiles, foreground)
        facts.classes = _classes(facts.cases, info, foreground)
    return facts


def _foreground_labels(info: DatasetJson) -> list[int]:
    return [v for v in (info.expected_labels or []) if v != 0 and v != info.ignore_label]


def _geometries(rels: list[str], headers: Mapping[str, Any], folder: str, case: str,
                issues: list[FileIssue]) -> list[tuple[str, Geometry]]:
    out = []
    for rel in rels:
        header = headers.get(rel, {})
        if "error" in header:
            if not header["error"].startswith("empty file"):  # the listing already reported empty files
                issues.append(FileIssue(folder, rel.rsplit("/", 1)[-1], "unreadable", case, header["error"]))
            continue
        out.append((rel, Geometry.from_json(header)))
    return out


def _differences(a: Geometry, b: Geometry) -> list[str]:
    if a.shape != b.shape:
        return ["shape"] + (["spacing"] if len(a.spacing) != len(b.spacing) or not close(a.spacing, b.spacing) else [])
    return [name for name, x, y in (("spacing", a.spacing, b.spacing), ("origin", a.origin, b.origin),
                                    ("direction", a.direction, b.direction)) if not close(x, y)]


def _describe_difference(props: list[str], a: Geometry, b: Geometry, a_name: str, b_name: str) -> str:
    parts = []
    for prop in props:
        x, y = getattr(a, prop), getattr(b, prop)
        parts.append(f"{prop}: {a_name} {_fmt(x)}, {b_name} {_fmt(y)}")
    return "; ".join(parts)


def _fmt(values: tuple[Any, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + ")"


def _base(case: CaseFiles, geometries: list[tuple[str, Geometry]]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": case.id, "images": [rel.rsplit("/", 1)[-1] for rel in case.images],
        "channels": len(case.images) + len(case.extra_channels), "missing_channels": list(case.missing_channels),
        "extra_channels": list(case.extra_channels)}
    if geometries:
        first = geometries[0][1]
        sizes = [(n, s) for n, s in zip(first.shape, first.spacing) if n > 1] or list(zip(first.shape, first.spacing))
        smallest, largest = min(s for _, s in sizes), max(s for _, s in sizes)
        record.update(ndim=first.ndim, components=first.components, shape=list(first.shape),
                      spacing=[float(f"{s:.6g}") for s in first.spacing],
                      orientation=orientation(first.direction, first.ndim),
                      spacing_ratio=largest / smallest if smallest > 0 else None, largest_spacing=largest)
        differing: list[str] = []
        details: list[str] = []
        for rel, geometry in geometries[1:]:
            props = [p for p in _differences(first, geometry) if p not in differing]
            if props:
                differing += props
                details.append(_describe_difference(props, first, geometry, geometries[0][0].rsplit("/", 1)[-1],
                                                    rel.rsplit("/", 1)[-1]))
        record["channel_mismatch"] = differing
        record["channel_mismatch_detail"] = "; ".join(details)
    return record


def _case_record(case: CaseFiles, result: dict[str, Any], info: DatasetJson, foreground: list[int],
                 issues: list[FileIssue]) -> tuple[dict[str, Any], list[Any], list[Any]]:
    headers = result["headers"]
    geometries = _geometries(case.images, headers, "imagesTr", case.id, issues)
    record = _base(case, geometries)
    record["has_label"] = case.label is not None
    if case.label is not None:
        record["label"] = case.label.rsplit("/", 1)[-1]
        label = _geometries([case.label], headers, "labelsTr", case.id, issues)
        if label and geometries:
            geometry = label[0][1]
            props = _differences(geometries[0][1], geometry)
            record.update(label_shape=list(geometry.shape), label_spacing=[float(f"{s:.6g}") for s in geometry.spacing],
                          label_mismatch=props,
                          label_mismatch_detail=_describe_difference(props, geometries[0][1], geometry, "image", "label"))
    voxels = result.get("voxels")
    if voxels is None:
        return record, [], []
    for rel, message in voxels.get("errors", {}).items():
        folder, name = rel.rsplit("/", 1) if "/" in rel else ("", rel)
        issues.append(FileIssue(folder, name, "unreadable", case.id, message))
    channels = voxels.get("channels") or []
    nonfinite = sum(channel["nonfinite"] for channel in channels if channel)
    label = voxels.get("label")
    label_profile: list[Any] = []
    if label is not None:
        counts = {float(value): count for value, count in label["counts"].items()}
        total = label["total"] or 1
        expected = set(info.expected_labels) if info.expected_labels is not None else None
        values = sorted(counts)
        background = counts.get(0.0, 0) + (counts.get(float(info.ignore_label), 0) if info.ignore_label is not None else 0)
        # class shares by label value, up to the largest declared value that a label image can hold
        # ("tumour": 3000000000 in dataset.json is reported as not consecutive; a list that long is not built)
        top = max([0, *(v for v in info.expected_labels or [] if v <= MAX_LABEL_VALUE)])
        record.update(label_values=values, label_float=bool(label["float"]),
                      unexpected_labels=[v for v in values if v not in expected and v == int(v)]
                      if expected is not None else None,
                      foreground_fraction=(total - background - label["nonfinite"]) / total,
                      class_fractions=[counts.get(float(v), 0) / total for v in range(top + 1)])
        nonfinite += label["nonfinite"]
        label_profile = _label_profile(channels[0] if channels else None, counts, total, foreground)
    record["nonfinite"] = nonfinite
    channel_profile = [_channel_profile(channel, foreground) for channel in channels]
    return record, channel_profile, label_profile


def _test_record(case: CaseFiles, result: dict[str, Any], issues: list[FileIssue]) -> dict[str, Any]:
    record = _base(case, _geometries(case.images, result["headers"], "imagesTs", case.id, issues))
    return {key: record[key] for key in ("id", "channels", "missing_channels", "extra_channels", "ndim", "shape",
                                         "spacing", "orientation") if key in record}


def _scaled(value: float, stats: Mapping[str, Any]) -> float:
    spread = stats["p99"] - stats["p01"]
    return (value - stats["p01"]) / spread if spread > 0 else math.nan


def _channel_profile(stats: Mapping[str, Any] | None, foreground: list[int]) -> list[float] | None:
    """Intensity shape of one channel, invariant to scanner scaling: percentiles and label contrast in 0..1 units."""
    if not stats or "p99" not in stats or stats["p99"] <= stats["p01"]:
        return None
    means = stats.get("label_means", {})
    return [_scaled(stats["p50"], stats), _scaled(stats["mean"], stats)] + [
        _scaled(means[str(v)], stats) if str(v) in means else math.nan for v in foreground]


def _label_profile(channel: Mapping[str, Any] | None, counts: Mapping[float, int], total: int,
                   foreground: list[int]) -> list[Any]:
    """Per foreground label: its contrast in the first channel and its size (log10 of its share of the volume)."""
    means = (channel or {}).get("label_means", {})
    out: list[Any] = []
    for value in foreground:
        count = counts.get(float(value), 0)
        if not count or str(value) not in means or not channel or "p99" not in channel:
            out.append(None)
            continue
        out.append([_scaled(means[str(value)], channel), math.log10(count / total)])
    return out


def _mark_swaps(records: list[dict[str, Any]], profiles: Mapping[str, tuple[list[Any], list[Any]]],
                foreground: list[int]) -> None:
    channels = swapped_items({case: items[0] for case, items in profiles.items()})
    labels = swapped_items({case: items[1] for case, items in profiles.items()})
    for record in records:
        if record.get("label_values") is None:
            continue
        channel_profile, label_profile = profiles.get(record["id"], ([], []))
        record["swapped_channels"] = channels.get(record["id"], []) if channel_profile else None
        record["swapped_labels"] = [foreground[i] for i in labels.get(record["id"], [])] if label_profile else None


def _summarise(facts: CaseFacts) -> None:
    shaped = [record for record in facts.cases if "spacing" in record]
    if not shaped:
        return
    facts.orientation = Counter(record["orientation"] for record in shaped).most_common(1)[0][0]
    length = Counter(len(record["spacing"]) for record in shaped).most_common(1)[0][0]
    same = [record for record in shaped if len(record["spacing"]) == length]
    facts.spacing_median = [statistics.median(r["spacing"][axis] for r in same) for axis in range(length)]
    facts.shape_median = [float(statistics.median(r["shape"][axis] for r in same)) for axis in range(length)]
    facts.anisotropy = max((r["spacing_ratio"] for r in shaped if r["spacing_ratio"] is not None), default=None)
    if len(same) < 3:
        return
    for record in same:
        factors = [s / m for s, m in zip(record["spacing"], facts.spacing_median) if m > 0 and s > 0]
        worst = max(factors, key=lambda f: max(f, 1 / f), default=1.0)
        if max(worst, 1 / worst) >= OUTLIER_FACTOR:
            how = f"{worst:.3g} times larger" if worst > 1 else f"{1 / worst:.3g} times smaller"
            record["spacing_outlier"] = (f"spacing {_fmt(tuple(record['spacing']))} is {how} than the dataset's "
                                         f"median {_fmt(tuple(facts.spacing_median))}")


def _classes(records: list[dict[str, Any]], info: DatasetJson, foreground: list[int]) -> list[dict[str, Any]]:
    names = {label.values[0]: label.name for label in info.labels if len(label.values) == 1}
    measured = [r for r in records if r.get("class_fractions") is not None]
    total = len(measured)
    out = []
    for value in foreground:
        shares = [r["class_fractions"][value] for r in measured if 0 <= value < len(r["class_fractions"])]
        present = [share for share in shares if share > 0]
        out.append({"value": value, "name": names.get(value, str(value)), "cases": len(present),
                    "fraction": sum(shares) / total if total else 0.0,
                    "median_fraction": statistics.median(present) if present else 0.0})
    return out
