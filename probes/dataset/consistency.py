"""Finding cases whose items look swapped: channels (T1 and T2 exchanged) or label values (liver and tumour).

Each case gives one feature vector per item (per channel, or per foreground label). The reference profile of
item i is the median of item i over all cases; a case whose items match the reference far better in another
order than in their own is reported with the positions that look exchanged. Features are scaled by their
spread within an item across cases, so "far better" means many times the ordinary variation between cases.
It needs at least four cases with complete profiles; with fewer it says nothing.

>>> t1, t2 = [0.2, 0.9], [0.8, 0.1]
>>> profiles = {"a": [t1, t2], "b": [[0.21, 0.88], [0.79, 0.12]], "c": [t1, t2], "d": [[0.19, 0.91], t2], "e": [t2, t1]}
>>> swapped_items(profiles)
{'e': [0, 1]}
"""
from __future__ import annotations

import itertools
import statistics
from typing import Mapping, Sequence

MIN_CASES = 4
_NOISE_FLOOR = 0.02  # features are ratios around 0..1: smaller differences are noise
_MAX_ITEMS = 6  # permutations of more items are not tried


def swapped_items(profiles: Mapping[str, Sequence[Sequence[float] | None]]) -> dict[str, list[int]]:
    """Case id -> positions whose content looks like another position's; only cases that look swapped."""
    complete: dict[str, list[list[float]]] = {}
    for case, items in profiles.items():
        present = [list(item) for item in items if item is not None]
        if present and len(present) == len(items) and all(v == v for item in present for v in item):  # no NaN
            complete[case] = present
    counts = {len(items) for items in complete.values()}
    if len(complete) < MIN_CASES or len(counts) != 1:
        return {}
    n = counts.pop()
    if not 2 <= n <= _MAX_ITEMS:
        return {}
    features = len(next(iter(complete.values()))[0])
    reference = [[statistics.median(items[i][f] for items in complete.values()) for f in range(features)]
                 for i in range(n)]
    scale = [[max(statistics.median(abs(items[i][f] - reference[i][f]) for items in complete.values()) * 1.4826,
                  _NOISE_FLOOR) for f in range(features)] for i in range(n)]

    def cost(items: list[list[float]], order: Sequence[int]) -> float:
        return sum(((items[order[i]][f] - reference[i][f]) / scale[i][f]) ** 2 for i in range(n) for f in range(features))

    identity = tuple(range(n))
    out: dict[str, list[int]] = {}
    for case, items in complete.items():
        own = cost(items, identity)
        best = min(itertools.permutations(range(n)), key=lambda order: cost(items, order))
        moved = [i for i in range(n) if best[i] != i]
        if moved and own > 25.0 * len(moved) and cost(items, best) * 4 < own:
            out[case] = moved
    return out
