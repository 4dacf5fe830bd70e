"""Cross-case consistency of content profiles: the faults nnU-Net trains through without a word.

Each check compares one case with the rest of the dataset through robust statistics -- the median of the cases and
their spread (1.4826 x the median absolute deviation, with a floor so that a very uniform dataset does not turn
noise into findings) -- so that a minority of odd cases cannot move the reference. A case stands out when it lies
``OUTLIER`` spreads away from the median. Checks need ``MIN_CASES`` profiled cases; with fewer they say nothing.

- label alignment: a label whose inside looks unlike the same label elsewhere, and that looks right again after a
  left-right mirror or a shift (``mirrored``, ``shifted``), or that lies on background (``off_body``), or neither
  (``unlike``: weak on its own);
- label conventions: label k whose size and intensity are those of label j in the other cases (``label_convention``);
- intensity scale: a channel whose range or level is on another scale (``intensity_scale``);
- duplicates: the same voxels (``duplicate``), or a near copy (``near_duplicate``), under two case ids, within
  imagesTr or between imagesTr and imagesTs;
- drift: imagesTs (or a prediction's input) against the training cases' spacing, field of view and CT intensities
  (``drift``).

Every issue says, in words, which statistic stands out and the dataset's range for it.

>>> label = lambda rank, size: {"1": {"ranks": [[rank - 0.05, rank, rank + 0.05]], "grid_voxels": size,
...                                   "body_voxels": 10000, "outside_body": 0.0, "moved": {}}}
>>> cases = [Profiled(f"c{i}", "train", [f"imagesTr/c{i}_0000.nii.gz"], f"labelsTr/c{i}.nii.gz",
...                   {"labels": label(0.8 + i / 100, 900 + 10 * i)}) for i in range(8)]
>>> cases[3].content["labels"]["1"]["ranks"] = [[0.0, 0.02, 0.3]]; cases[3].content["labels"]["1"]["outside_body"] = 0.6
>>> [(i.kind, i.case, i.file) for i in content_issues(cases, {1: "liver"}, ["CT"])]
[('off_body', 'c3', 'labelsTr/c3.nii.gz')]
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Mapping, Sequence

from msgspec import Struct, field, structs

from .consistency import swapped_items

PROFILES_VERSION = 4  # part of the cache key of the findings: raise it when a check changes
MIN_CASES = 5
OUTLIER = 5.0  # spreads from the median: a case this far is unlike the others
FITS = 3.0  # spreads: a case this close looks like the others
_RANK_FLOOR = 0.03  # ranks are shares of the body's voxels: closer than 3 % is noise
_SIZE_FLOOR = 0.1  # log10 of a label's share of the body: 25 % larger or smaller is ordinary
_SCALE_FLOOR = math.log10(1.5)  # intensity ranges within 1.5x of each other are the same scale
_LEVEL_FLOOR = 0.05  # a level shift of 5 % of the intensity range is ordinary
_SPACING_FLOOR = math.log10(1.1)  # spacings or fields of view within 10 % are the same
_BEYOND = 1.25  # a test image drifts when it lies this factor beyond the most extreme training case (and is an outlier)
_NEAR_COPY = 0.1  # a pair 10x closer than the usual nearest neighbour is a near copy
_NAMED = ("x", "y", "z")


class Profiled(Struct):
    """One case with its content profile: role is train, test (imagesTs) or input (a prediction's -i folder)."""

    case: str
    role: str
    images: list[str]  # paths relative to the dataset folder (or absolute for a prediction's input)
    label: str | None
    content: Mapping[str, Any]
    spacing: list[float] | None = None
    shape: list[int] | None = None


class ContentIssue(Struct, frozen=True):
    kind: str
    case: str
    file: str
    statistic: str  # what stands out against what, in words
    score: float  # how many spreads from the dataset's median (inf for identical voxels)
    label: int | None = None
    channel: int | None = None
    other_case: str | None = None
    other_file: str | None = None
    repair: str | None = None  # what would make it fit (e.g. "shift by -16 voxels along x")

    def as_fields(self) -> dict[str, Any]:
        named = structs.asdict(self)
        return {name: value for name, value in named.items() if value is not None and name != "score"} | {
            "score": round(self.score, 1) if math.isfinite(self.score) else 999.0}


class _Reference(Struct):
    median: list[float]
    spread: list[float]
    low: list[float] = field(default_factory=list)  # the ordinary range: the cases within OUTLIER spreads
    high: list[float] = field(default_factory=list)

    def distance(self, values: Sequence[float]) -> float:
        terms = [((v - m) / s) ** 2 for v, m, s in zip(values, self.median, self.spread) if v == v]
        return math.sqrt(sum(terms) / len(terms)) if terms else 0.0


def _reference(rows: Sequence[Sequence[float]], floors: Sequence[float]) -> _Reference:
    columns = list(zip(*rows))
    median = [statistics.median(c) for c in columns]
    spread = [max(1.4826 * statistics.median(abs(v - m) for v in c), floor) for c, m, floor in zip(columns, median, floors)]
    ordinary = [[v for v in c if abs(v - m) <= OUTLIER * s] or [m] for c, m, s in zip(columns, median, spread)]
    return _Reference(median, spread, [min(c) for c in ordinary], [max(c) for c in ordinary])


def content_issues(cases: Sequence[Profiled], names: Mapping[int, str], channels: Sequence[str],
                   ct_channels: Iterable[int] = ()) -> list[ContentIssue]:
    """Every content issue of the dataset, strongest first within each kind."""
    train = [case for case in cases if case.role == "train" and case.content]
    others = [case for case in cases if case.role != "train" and case.content]
    issues: list[ContentIssue] = _channel_order(train, channels)
    swapped = {issue.case for issue in issues}
    labelled = [case for case in train if case.case not in swapped]  # their label statistics are in another order
    convention = _label_conventions(labelled, names)
    issues += convention
    issues += _alignment(labelled, names, {(i.case, i.label) for i in convention})
    issues += _intensity_scale(train, channels, set(ct_channels))
    issues += _duplicates(train, others)
    issues += _drift(train, others, channels, set(ct_channels))
    return issues


def _channel_order(train: Sequence[Profiled], channels: Sequence[str]) -> list[ContentIssue]:
    """Cases whose channel files look like other channels of the other cases: per channel, where each label's inside
    lies within the body's intensities (ranks: blind to each scanner's scaling)."""
    common = sorted(set.intersection(*(set(case.content.get("labels") or {}) for case in train))) if train else []
    profiles: dict[str, list[list[float] | None]] = {}
    for case in train:
        stats = case.content.get("channels") or []
        if len(stats) < 2 or not common:
            continue
        labels = case.content["labels"]
        profiles[case.case] = [[labels[value]["ranks"][c][1] for value in common] for c in range(len(stats))]
    issues = []
    by_case = {case.case: case for case in train}
    for case_id, moved in swapped_items(profiles).items():
        case = by_case[case_id]
        words = ", ".join(f"{case.images[i].rsplit('/', 1)[-1]} looks like channel {_channel_name(j, channels)}"
                          for i, j in zip(moved, moved[1:] + moved[:1]))
        issues.append(ContentIssue("channel_order", case_id, case.images[moved[0]],
                                   f"{words} of the other cases (where each label lies within the body's intensities)",
                                   OUTLIER, channel=moved[0]))
    return issues


def _channel_name(index: int, channels: Sequence[str]) -> str:
    return f"{index} ({channels[index]})" if index < len(channels) else str(index)


def _label_name(value: int, names: Mapping[int, str]) -> str:
    return f"label {value} ({names[value]})" if value in names else f"label {value}"


def _ranks(entry: Mapping[str, Any]) -> list[float]:
    return [float(v) for channel in entry["ranks"] for v in channel]


def _size(entry: Mapping[str, Any]) -> float:
    return math.log10(max(entry["grid_voxels"], 1) / max(entry["body_voxels"], 1))


def _by_label(train: Sequence[Profiled]) -> dict[int, list[tuple[Profiled, Mapping[str, Any]]]]:
    out: dict[int, list[tuple[Profiled, Mapping[str, Any]]]] = {}
    for case in train:
        for value, entry in (case.content.get("labels") or {}).items():
            out.setdefault(int(value), []).append((case, entry))
    return out


def _ordinal(number: int) -> str:
    """1 -> '1st', 43 -> '43rd', 11 -> '11th'."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _percentile_words(rank: float) -> str:
    return f"{_ordinal(round(100 * rank))} percentile"


def _label_convention_features(entry: Mapping[str, Any]) -> list[float]:
    return _ranks(entry) + [_size(entry)]


def _label_conventions(train: Sequence[Profiled], names: Mapping[int, str]) -> list[ContentIssue]:
    by_label = {value: items for value, items in _by_label(train).items() if len(items) >= MIN_CASES}
    if len(by_label) < 2:
        return []
    references = {}
    for value, items in by_label.items():
        rows = [_label_convention_features(entry) for _, entry in items]
        if len({len(r) for r in rows}) != 1:
            return []
        references[value] = _reference(rows, [_RANK_FLOOR] * (len(rows[0]) - 1) + [_SIZE_FLOOR])
    issues = []
    for value, items in by_label.items():
        for case, entry in items:
            features = _label_convention_features(entry)
            own = references[value].distance(features)
            if own <= OUTLIER:
                continue
            other, distance = min(((j, ref.distance(features)) for j, ref in references.items() if j != value),
                                  key=lambda item: item[1])
            if distance < FITS and distance * 3 < own:
                ref, mine = references[other], references[value]
                share = 10 ** features[-1] * 100
                statistic = (
                    f"{_label_name(value, names)} covers {share:.2g} % of the body with a median intensity at the "
                    f"{_percentile_words(features[1])} of the body's; in the other cases {_label_name(value, names)} "
                    f"covers {_share_range(mine)} at the {_rank_range(mine, 1)}, and {_label_name(other, names)} "
                    f"{_share_range(ref)} at the {_rank_range(ref, 1)}")
                issues.append(ContentIssue("label_convention", case.case, case.label or "", statistic, own, value,
                                           repair=f"{value} -> {other}", other_case=_label_name(other, names)))
    return sorted(issues, key=lambda i: -i.score)


def _share_range(ref: _Reference) -> str:
    return f"{10 ** ref.low[-1] * 100:.2g}-{10 ** ref.high[-1] * 100:.2g} %"


def _rank_range(ref: _Reference, index: int) -> str:
    """The ordinary range of a rank feature (the cases within OUTLIER spreads of the median)."""
    return f"{_ordinal(round(100 * ref.low[index]))}-{_percentile_words(ref.high[index])}"


def _alignment(train: Sequence[Profiled], names: Mapping[int, str], skip: set[tuple[str, int | None]]) -> list[ContentIssue]:
    issues = []
    for value, items in _by_label(train).items():
        if len(items) < MIN_CASES:
            continue
        rows = [_ranks(entry) for _, entry in items]
        if len({len(r) for r in rows}) != 1:
            continue
        ref = _reference(rows, [_RANK_FLOOR] * len(rows[0]))
        outside = _reference([[float(entry["outside_body"])] for _, entry in items], [0.02])
        for case, entry in items:
            if (case.case, value) in skip:
                continue
            features = _ranks(entry)
            own = ref.distance(features)
            if own <= OUTLIER:
                continue
            name = _label_name(value, names)
            seen = (f"{name}'s median intensity is at the {_percentile_words(features[1])} of the body's (middle half "
                    f"{_percentile_words(features[0])} to {_percentile_words(features[2])}); in the other cases "
                    f"{_rank_range(ref, 1)}")
            moved = {key: ref.distance([float(v) for c in ranks for v in c]) for key, ranks in entry.get("moved", {}).items()}
            best = min(moved, key=lambda key: moved[key]) if moved else None
            if best is not None and moved[best] < FITS and moved[best] * 3 < own:
                if best == "mirror":
                    kind, repair, moved_words = "mirrored", "mirror left-right", "mirrored left-right"
                else:
                    axis, offset = best.split(":")
                    kind, repair = "shifted", f"shift by {offset} voxels along {_NAMED[int(axis)]}"
                    moved_words = f"shifted by {offset} voxels along {_NAMED[int(axis)]}"
                statistic = f"{seen}; {moved_words}, it lies like the others"
                issues.append(ContentIssue(kind, case.case, case.label or "", statistic, own, value, repair=repair))
            elif float(entry["outside_body"]) > max(0.2, outside.median[0] + OUTLIER * outside.spread[0]):
                statistic = (f"{100 * float(entry['outside_body']):.0f} % of {name} lies on background (air), in the "
                             f"other cases {100 * outside.median[0]:.0f} %; {seen}")
                issues.append(ContentIssue("off_body", case.case, case.label or "", statistic, own, value))
            else:
                issues.append(ContentIssue("unlike", case.case, case.label or "", seen, own, value))
    return sorted(issues, key=lambda i: -i.score)


def _fmt(value: float) -> str:
    """A number as people write it: 0.283, 41, -1024, 3.1e+09."""
    return f"{value:.0f}" if 1000 <= abs(value) < 1e7 else f"{value:.3g}"


def _intensity_scale(train: Sequence[Profiled], channels: Sequence[str], ct: set[int]) -> list[ContentIssue]:
    """Cases whose channel spans another range (log of the 1st-99th percentile span) or, for channels normalized with
    dataset-wide statistics (CT), sits at another level (the body's median)."""
    issues = []
    count = min((len(case.content.get("channels") or []) for case in train), default=0)
    for channel in range(count):
        rows, owners = [], []
        for case in train:
            stats = case.content["channels"][channel]
            if stats.get("raw") and stats.get("body") and stats["raw"][-1] > stats["raw"][0]:
                rows.append([math.log10(stats["raw"][-1] - stats["raw"][0]), stats["body"][2]])
                owners.append(case)
        if len(rows) < MIN_CASES:
            continue
        scale = _reference([[r[0]] for r in rows], [_SCALE_FLOOR])
        typical = 10 ** scale.median[0]
        level = _reference([[r[1]] for r in rows], [_LEVEL_FLOOR * typical])
        name = channels[channel] if channel < len(channels) else str(channel)
        scores = []
        for log_range, middle in rows:
            z_scale = abs(log_range - scale.median[0]) / scale.spread[0]
            z_level = abs(middle - level.median[0]) / level.spread[0] if channel in ct else 0.0  # z-scored: range only
            scores.append(max(z_scale, z_level))
        ordinary = [case.content["channels"][channel] for case, score in zip(owners, scores) if score <= OUTLIER]
        if not ordinary:
            continue
        low = statistics.median(stats["raw"][0] for stats in ordinary)
        high = statistics.median(stats["raw"][-1] for stats in ordinary)
        middles = [stats["body"][2] for stats in ordinary]
        for case, score, (_, middle) in zip(owners, scores, rows):
            if score <= OUTLIER:
                continue
            raw = case.content["channels"][channel]["raw"]
            statistic = (f"channel {channel} ({name}) spans {_fmt(raw[0])} to {_fmt(raw[-1])} (1st to 99th percentile), "
                         f"body median {_fmt(middle)}; the other cases span {_fmt(low)} to {_fmt(high)} (medians), body "
                         f"median {_fmt(min(middles))} to {_fmt(max(middles))}")
            issues.append(ContentIssue("intensity_scale" if channel in ct else "intensity_scale_normalized", case.case,
                                       case.images[channel], statistic, score, channel=channel))
    return sorted(issues, key=lambda i: -i.score)


def _duplicates(train: Sequence[Profiled], others: Sequence[Profiled]) -> list[ContentIssue]:
    import numpy as np

    issues: list[ContentIssue] = []
    seen: dict[str, Profiled] = {}
    for case in [*train, *(case for case in others if case.role == "test")]:  # predicting a training case is fine
        digest = case.content.get("hash")
        if digest is None:
            continue
        first = seen.get(digest)
        if first is None:
            seen[digest] = case
            continue
        issues.append(ContentIssue("duplicate", case.case, case.images[0], f"{case.images[0]} holds the same voxels as "
                                   f"{first.images[0]} (identical voxel hash)", math.inf, other_case=first.case,
                                   other_file=first.images[0]))
    exact = {(i.case, i.other_case) for i in issues}
    prints = [case for case in train if len(case.content.get("fingerprint") or []) == 8 ** 3]
    if len(prints) < MIN_CASES:
        return issues
    matrix = _normalised(np, [case.content["fingerprint"] for case in prints])
    distance = 1.0 - matrix @ matrix.T
    np.fill_diagonal(distance, np.inf)
    nearest = distance.min(1)
    usual = float(np.median(nearest))
    for i, j in zip(*np.nonzero(np.triu(distance < _NEAR_COPY * usual, 1))):
        a, b = prints[j], prints[i]
        if (a.case, b.case) not in exact:
            issues.append(_near(a, b, float(distance[i, j]), usual))
    candidates = [case for case in others if case.role == "test" and len(case.content.get("fingerprint") or []) == 512]
    if candidates:
        tests = _normalised(np, [case.content["fingerprint"] for case in candidates])
        across = 1.0 - tests @ matrix.T
        for i, j in zip(*np.nonzero(across < _NEAR_COPY * usual)):
            if (candidates[i].case, prints[j].case) not in exact:
                issues.append(_near(candidates[i], prints[j], float(across[i, j]), usual))
    return issues


def _near(case: Profiled, other: Profiled, distance: float, usual: float) -> ContentIssue:
    return ContentIssue("near_duplicate", case.case, case.images[0],
                        f"{case.images[0]} is a near copy of {other.images[0]}: their downsampled images differ by "
                        f"{distance:.2g} (1 - correlation), while each case's nearest other case usually differs by "
                        f"{usual:.2g}", usual / max(distance, 1e-9), other_case=other.case, other_file=other.images[0])


def _normalised(np: Any, rows: list[list[float]]) -> Any:
    matrix = np.asarray(rows, dtype=np.float64)
    matrix = matrix - matrix.mean(1, keepdims=True)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _levels(stats: Mapping[str, Any]) -> list[float] | None:
    """1st percentile, the body's median and 99th percentile of a channel: where its intensities lie (CT: in HU)."""
    raw, body = stats.get("raw"), stats.get("body")
    return [float(raw[0]), float(body[2]), float(raw[-1])] if raw and body else None


def _geometry(case: Profiled) -> dict[str, list[float]] | None:
    """Spacing and field of view (mm) per axis of a 3-D case, when its header was read."""
    if not case.spacing or not case.shape or len(case.spacing) != 3 or len(case.shape) != 3:
        return None
    return {"spacing": [float(s) for s in case.spacing],
            "field of view": [n * float(s) for n, s in zip(case.shape, case.spacing)]}


def _drift(train: Sequence[Profiled], others: Sequence[Profiled], channels: Sequence[str], ct: set[int]) -> list[ContentIssue]:
    """Test or input cases whose spacing, field of view or CT intensities lie outside what the training cases hold."""
    geometries = [g for g in (_geometry(case) for case in train) if g is not None and min(g["spacing"]) > 0]
    if len(geometries) < MIN_CASES:
        return []
    references = {what: [[math.log10(v) for v in g[what]] for g in geometries] for what in ("spacing", "field of view")}
    issues = []
    for case in others:
        geometry = _geometry(case)
        if case.role == "train" or geometry is None:
            continue
        found = []
        worst = 0.0
        for what, rows in references.items():
            ref = _reference(rows, [_SPACING_FLOOR] * 3)
            values = geometry[what]
            z = [abs(math.log10(v) - m) / s if v > 0 else math.inf for v, m, s in zip(values, ref.median, ref.spread)]
            lows = [10 ** min(r[a] for r in rows) for a in range(3)]
            highs = [10 ** max(r[a] for r in rows) for a in range(3)]
            out = [a for a in range(3) if z[a] > OUTLIER and not lows[a] / _BEYOND <= values[a] <= highs[a] * _BEYOND]
            if out:
                worst = max([worst, *(z[a] for a in out)])
                found.append(f"{what} {' x '.join(_fmt(v) for v in values)} mm; training "
                             f"{' x '.join(f'{_fmt(lo)}-{_fmt(hi)}' for lo, hi in zip(lows, highs))} mm")
        for channel in sorted(ct):
            stats = case.content.get("channels") or []
            ref_rows = [row for row in (_levels(c.content["channels"][channel]) for c in train
                                        if len(c.content.get("channels") or []) > channel) if row is not None]
            mine = _levels(stats[channel]) if channel < len(stats) else None
            if mine is None or len(ref_rows) < MIN_CASES:
                continue
            typical = statistics.median(r[2] - r[0] for r in ref_rows)
            ref = _reference(ref_rows, [_LEVEL_FLOOR * typical] * 3)
            margin = (_BEYOND - 1) * typical
            lows, highs = [min(r[i] for r in ref_rows) for i in range(3)], [max(r[i] for r in ref_rows) for i in range(3)]
            level = max([0.0, *(abs(v - m) / s for v, m, s, lo, hi in zip(mine, ref.median, ref.spread, lows, highs)
                                if not lo - margin <= v <= hi + margin)])
            if level > OUTLIER:
                worst = max(worst, level)
                name = channels[channel] if channel < len(channels) else str(channel)
                found.append(f"channel {channel} ({name}) spans {_fmt(mine[0])} to {_fmt(mine[2])} (1st to 99th "
                             f"percentile), body median {_fmt(mine[1])}; training {_fmt(ref.median[0])} to "
                             f"{_fmt(ref.median[2])} (medians), body median {_fmt(lows[1])} to {_fmt(highs[1])}")
        if found:
            issues.append(ContentIssue("drift", case.case, case.images[0], "; ".join(found), worst))
    return sorted(issues, key=lambda i: -i.score)
