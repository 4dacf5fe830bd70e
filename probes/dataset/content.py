"""The content profile of one case: what its voxels look like, in numbers that can be compared across cases.

Computed in the worker that already holds the case's arrays (:mod:`.measure`), cached with the rest of the
measurement, and judged only later against the other cases (:mod:`.profiles`). Every intensity a profile keeps
about the *inside* of a label is a **rank** within the case's own body (0 = darkest body voxel, 1 = brightest),
so it does not change when a case is rescaled or shifted in value; the raw percentiles are kept separately for the
intensity-scale and drift checks.

What is sampled (docs/performance.md): percentiles come from an even sample of at most 20 000 voxels per channel;
label positions, the shift and mirror search and the fingerprint use a grid of at most ``GRID`` voxels per axis
(every n-th voxel); label sizes and the voxel hash use every voxel.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> image = rng.normal(100.0, 5.0, (40, 40, 30)); label = np.zeros((40, 40, 30), np.uint8)
>>> image[:, :, :3] = -1000.0                      # air below the body
>>> label[5:15, 10:20, 10:20] = 1; image[5:15, 10:20, 10:20] += 60.0   # a bright organ on the left
>>> profile = case_content([image], label, lr_axis=0)
>>> organ = profile["labels"]["1"]
>>> round(organ["ranks"][0][1], 2), organ["outside_body"]      # median inside: among the brightest body voxels
(0.99, 0.0)
>>> round(organ["moved"]["mirror"][0][1], 2)                   # mirrored onto the right side: ordinary body
0.5
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Sequence

GRID = 48  # voxels per axis (at most) of the grid positions and the shift/mirror search use
FINGERPRINT = 8  # blocks per axis of the fingerprint
_SAMPLE = 20_000  # voxels per channel for percentiles
_LABEL_SAMPLE = 5_000  # grid voxels per label for its intensity ranks
_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
_SHIFTS = (1, 2, 3, 4, 6, 8, 11, 16)  # grid voxels, along each axis and both ways (up to a third of the grid)
_MOVED_SAMPLE = 500  # label voxels a shifted or mirrored label is judged on
_BODY_LEVEL = 0.05  # without air-like background, body = brighter than p01 + 5 % of (p99 - p01) of channel 0
_MAX_LABELS = 16


def case_content(images: Sequence[Any], label: Any | None, lr_axis: int | None = None) -> dict[str, Any]:
    """Profile of one case. ``images`` and ``label`` are arrays in header axis order (x, y, z), all the same shape;
    ``lr_axis`` is the array axis that runs left-right (None: unknown, no mirror test)."""
    import numpy as np

    first = images[0]
    out: dict[str, Any] = {"hash": _voxel_hash(images), "shape": list(first.shape)}
    samples = [_finite(np.asarray(image).ravel(order="K")[::max(1, image.size // _SAMPLE)]) for image in images]
    if not samples[0].size:
        return out
    raw = [[float(v) for v in np.percentile(s, _PERCENTILES)] if s.size else None for s in samples]
    step = tuple(max(1, math.ceil(n / GRID)) for n in first.shape)
    grid = [np.asarray(image[tuple(slice(None, None, s) for s in step)], dtype=np.float32) for image in images]
    body = _body(np, grid, samples, raw)
    body_sorted = [np.sort(_every(g[body & np.isfinite(g)], _SAMPLE)) for g in grid]
    out["channels"] = [{"raw": r, "body": [float(v) for v in np.percentile(b, (5, 25, 50, 75, 95))] if b.size else None}
                       for r, b in zip(raw, body_sorted)]
    out["body_fraction"] = float(body.mean())
    out["fingerprint"] = _fingerprint(grid[0], out["channels"][0]["body"])
    if label is None or label.shape != first.shape:
        return out
    out["labels"] = _labels(np, grid, body, body_sorted, label, step, lr_axis)
    return out


def _body(np: Any, grid: list[Any], samples: list[Any], raw: list[Any]) -> Any:
    """The body on the grid: voxels above the air threshold of any channel that has air, holes filled (a dark organ
    inside the body is body); without air in any channel, everything above the darkest values of channel 0."""
    masks = []
    for image, sample, percentiles in zip(grid, samples, raw):
        threshold = _air_threshold(np, sample, percentiles[0], percentiles[-1]) if percentiles else None
        if threshold is not None:
            masks.append(image > threshold)
    if masks:
        body = np.logical_or.reduce(masks)
        try:
            from scipy.ndimage import binary_fill_holes

            body = binary_fill_holes(body)
        except ImportError:
            pass
    else:
        low, high = raw[0][0], raw[0][-1]
        body = grid[0] > low + _BODY_LEVEL * (high - low)
    if body.sum() < 0.05 * body.size:
        body[:] = True
    return body


def _air_threshold(np: Any, sample: Any, low: float, high: float) -> float | None:
    """The intensity above air (or scanner background): Otsu's split when its darker class is air-like (near the
    darkest values, far below the rest), moved down to 4 standard deviations above the air; None without air."""
    span = high - low
    if span <= 0:
        return None
    counts, edges = np.histogram(np.clip(sample, low, high), bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    total = weight[-1]
    first = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = first / weight
        mean_high = (first[-1] - first) / (total - weight)
        between = weight * (total - weight) * (mean_low - mean_high) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    cut = int(np.argmax(between))
    air_like = (mean_low[cut] - low < 0.1 * span and mean_high[cut] - mean_low[cut] > 0.25 * span
                and 0.05 < weight[cut] / total < 0.95)
    if not air_like:
        return None
    air = sample[sample <= edges[cut + 1]]
    return float(min(edges[cut + 1], air.mean() + 4 * air.std()))


def _every(values: Any, most: int) -> Any:
    """An even sample of at most ``most`` of ``values`` (flat)."""
    return values.ravel()[:: max(1, values.size // most)]


def _finite(values: Any) -> Any:
    import numpy as np

    values = values.astype(np.float64)
    return values[np.isfinite(values)]


def _voxel_hash(images: Sequence[Any]) -> str:
    """Same voxels, same shape and type -> same hash (a re-saved copy of a case gives the same hash)."""
    import numpy as np

    digest = hashlib.sha1()  # the fastest of hashlib here (hardware-accelerated); not a security use
    for image in images:
        flat = np.ascontiguousarray(np.asarray(image).ravel(order="K"))
        digest.update(f"{flat.dtype.str}{image.shape}".encode())
        digest.update(memoryview(flat).cast("B"))  # type: ignore[arg-type]
    return digest.hexdigest()


def _fingerprint(grid: Any, body: list[float] | None) -> list[float]:
    """Channel 0 as FINGERPRINT**3 block means in the body's own units ((v - median) / (p95 - p5)), for near copies."""
    import numpy as np

    scale = (body[4] - body[0]) if body and body[4] > body[0] else 1.0
    centre = body[2] if body else 0.0
    values = np.nan_to_num((grid - centre) / scale)
    for axis in range(values.ndim):
        edges = np.linspace(0, values.shape[axis], FINGERPRINT + 1).astype(int)[:-1]
        edges = np.unique(edges)
        sums = np.add.reduceat(values, edges, axis=axis)
        counts = np.diff(np.append(edges, values.shape[axis])).reshape([-1 if a == axis else 1 for a in range(values.ndim)])
        values = sums / counts
    return [float(v) for v in np.round(values.ravel(), 3)]


def _rank(sorted_values: Any, values: Any) -> list[float]:
    import numpy as np

    if not sorted_values.size or not values.size:
        return [math.nan, math.nan, math.nan]
    quartiles = np.percentile(values, (25, 50, 75))
    return [round(float(v), 4) for v in np.searchsorted(sorted_values, quartiles) / sorted_values.size]


def _labels(np: Any, grid: list[Any], body: Any, body_sorted: list[Any], label: Any, step: tuple[int, ...],
            lr_axis: int | None) -> dict[str, Any]:
    """Per label value present: size, position relative to the body, intensity ranks, and the ranks it would have
    after a left-right mirror or a shift (to tell a misplaced label from a differently-looking one)."""
    small = np.asarray(label[tuple(slice(None, None, s) for s in step)])
    present = (np.flatnonzero(np.bincount(small.ravel())) if small.dtype.kind in "ub" and small.dtype.itemsize <= 2
               else np.unique(small))
    values = [int(v) for v in present if v != 0 and v == int(v)][:_MAX_LABELS]
    body_coords = np.argwhere(body)
    low, high = body_coords.min(0), body_coords.max(0) + 1
    extent = np.maximum(high - low, 1)
    out: dict[str, Any] = {}
    for value in values:
        coords = np.argwhere(small == value)
        if len(coords) < 4:
            continue
        if len(coords) > _LABEL_SAMPLE:
            coords = coords[:: len(coords) // _LABEL_SAMPLE]
        entry: dict[str, Any] = {
            "grid_voxels": int((small == value).sum()), "body_voxels": int(body.sum()),
            "centroid": [round(float(v), 3) for v in (coords.mean(0) - low) / extent],
            "bbox": [[round(float(v), 3) for v in (coords.min(0) - low) / extent],
                     [round(float(v), 3) for v in (coords.max(0) + 1 - low) / extent]]}
        entry["ranks"], entry["outside_body"] = _inside(np, grid, body, body_sorted, coords)
        sample = coords[:: max(1, len(coords) // _MOVED_SAMPLE)]
        entry["moved"] = _moved(np, grid, body_sorted, sample, small.shape, step, lr_axis)
        out[str(value)] = entry
    return out


def _moved(np: Any, grid: list[Any], body_sorted: list[Any], coords: Any, shape: tuple[int, ...],
           step: tuple[int, ...], lr_axis: int | None) -> dict[str, list[list[float]]]:
    """Quartile ranks of each channel inside the label mirrored left-right ("mirror") and shifted ("axis:voxels",
    in voxels of the full image), all placements in one vectorised pass; shifts that move half the label off the
    image are left out, the rest is clamped to the border."""
    ndim = len(shape)
    offsets, keys = [], []
    for axis in range(ndim):
        for shift in _SHIFTS:
            for sign in (1, -1):
                offset = [0] * ndim
                offset[axis] = sign * shift
                offsets.append(offset)
                keys.append(f"{axis}:{sign * shift * step[axis]}")
    moved = coords[None, :, :] + np.asarray(offsets)[:, None, :]  # placements x voxels x axes
    limit = np.asarray(shape) - 1
    inside = ((moved >= 0) & (moved <= limit)).all(axis=2).mean(axis=1) >= 0.5
    moved = np.clip(moved[inside], 0, limit)
    keys = [key for key, keep in zip(keys, inside) if keep]
    if lr_axis is not None:
        mirrored = coords.copy()
        mirrored[:, lr_axis] = shape[lr_axis] - 1 - mirrored[:, lr_axis]
        moved = np.concatenate([mirrored[None], moved])
        keys.insert(0, "mirror")
    if not keys:
        return {}
    index = tuple(moved[..., axis] for axis in range(ndim))
    ranks = [np.round(np.searchsorted(ordered, np.percentile(image[index], (25, 50, 75), axis=1)) / max(ordered.size, 1),
                      4).T.tolist() for image, ordered in zip(grid, body_sorted)]  # per channel: placements x quartiles
    return {key: [channel[t] for channel in ranks] for t, key in enumerate(keys)}


def _inside(np: Any, grid: list[Any], body: Any, body_sorted: list[Any], coords: Any) -> tuple[list[list[float]], float]:
    """Quartile ranks of each channel inside the voxels ``coords``, and their share outside the body."""
    index = tuple(coords.T)
    return [_rank(s, g[index]) for g, s in zip(grid, body_sorted)], round(float(1.0 - body[index].mean()), 4)
