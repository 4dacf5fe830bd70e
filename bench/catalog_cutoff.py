#!/usr/bin/env python3
"""Where the catalog's fuzzy cutoff sits: the healthy corpus below it, cut error messages above it.

    .venv/bin/python bench/catalog_cutoff.py [--sample 400]

Figure: the best fuzzy score (rapidfuzz partial_ratio, as :meth:`MessageCatalog.find` computes it) of any line of
the healthy corpus (rules/corpus/healthy: successful runs) against an error message of the catalog (raise, assert,
warning), looked up with no cutoff at all. Anchor, in the same run: the scores of cut error messages, i.e. a
sample of the catalog's own error messages with values filled in, truncated on the right to 70% and wrapped
(cut on the left) to the last 70%, as terminals and pastes cut them; the share of them that the cutoff keeps.
:data:`rules.catalog.FUZZY_CUTOFF` must lie above the figure (no false alarm) and keep most of the anchor.
"""
from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

from nnunet_doctor.rules.catalog import FUZZY_CUTOFF, MessageCatalog

HEALTHY = Path(__file__).resolve().parents[1] / "rules" / "corpus" / "healthy"


def _best_problem_score(catalog: MessageCatalog, line: str, entry: int | None = None) -> tuple[float, str]:
    """Best score of ``line`` against an error message (only ``entry`` when given), with no cutoff."""
    found = [m for m in catalog.find(line, cutoff=0.0) if m.entry.problem and (entry is None or m.entry.index == entry)]
    best = max(found, key=lambda m: m.score, default=None)
    return (best.score, best.entry.text[:80]) if best is not None else (0.0, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=400, help="cut error messages in the anchor")
    args = parser.parse_args()
    catalog = MessageCatalog.load()
    worst = (0.0, "", "")
    lines = 0
    for path in sorted(p for p in HEALTHY.rglob("*") if p.is_file() and p.suffix != ".json"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if len(line.strip()) < 8:
                continue
            lines += 1
            score, message = _best_problem_score(catalog, line)
            if score < 100 and score > worst[0]:  # an exact match is the message itself, not a fuzzy one
                worst = (score, line.strip()[:80], message)
    print(f"healthy corpus: {lines} lines; best fuzzy score against an error message {worst[0]:.1f}")
    print(f"  line    {worst[1]!r}\n  message {worst[2]!r}")
    errors = [e for e in catalog if e.problem and "\n" not in e.template and len(e.example()) >= 60]
    sample = random.Random(0).sample(errors, min(args.sample, len(errors)))
    scores = []
    for entry in sample:
        text = entry.example("nnUNetTrainer_250epochs")
        cut = int(len(text) * 0.7)
        scores += [_best_problem_score(catalog, text[:cut], entry.index)[0],
                   _best_problem_score(catalog, text[-cut:], entry.index)[0]]
    kept = sum(score >= FUZZY_CUTOFF for score in scores) / len(scores)
    print(f"anchor: {len(scores)} cut error messages; median score {statistics.median(scores):.1f}; "
          f"{kept:.1%} reach the cutoff {FUZZY_CUTOFF:.0f}")
    return 0 if worst[0] < FUZZY_CUTOFF else 1


if __name__ == "__main__":
    raise SystemExit(main())
