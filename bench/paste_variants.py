#!/usr/bin/env python3
"""How the diagnosis holds up when a log is pasted the way users paste it: cut, wrapped, truncated, mid-run.

    .venv/bin/python bench/paste_variants.py /work/shared/benchmark/dev.jsonl [--only VARIANT] [--jobs 2]

For every log-sufficient case of a benchmark corpus (``score.py``'s format: ``log``, ``causes``, ``files``) the
script derives, with code, the variants below, and diagnoses each as ``score.py`` does (``diagnose --log FILE
--offline --format json`` in a temporary folder holding the case's files; rank of the first accepted cause):

- ``last_error``: only the final error line(s): the last exception line (``XError: ...``, else the last line that
  names an error) and the lines of its message that follow it, up to a blank line or a new traceback;
- ``cut_traceback``: the log up to its last traceback's final exception line, that line and what follows left out
  (only logs with a traceback frame before their final exception line);
- ``wrapped``: every line longer than 80 characters cut into lines of 80, as a terminal copy does (only logs with
  such a line);
- ``truncated``: the final error line (as in ``last_error``) cut to its first 60 % of characters, the rest of the
  log unchanged;
- ``no_context``: the log without its first half of lines (only logs of at least two lines).

A variant equal to the log itself is not counted. Figure: top-1 and top-3 of each variant over the cases where
it applies; anchor, in the same run: top-1 and top-3 of the unmodified logs of those same cases.

A miss is a case whose accepted causes are not the variant's first. It is marked ``lost`` (information lost)
when the variant keeps none of the log lines that the unmodified log's report gave as evidence of the accepted
cause (a wrapped line counts as kept): the variant no longer holds what the diagnosis rested on, and a human
expert would ask for more too. It is marked ``cut`` when the only evidence line left is the truncated one: part
of it is gone, and whether the rest still names the cause is for the reader of the listing to judge. The other
misses (``MISS``) are the doctor's to fix.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

WRAP = 80
TRUNCATE = 0.6
#: an exception line as Python prints it (``RuntimeError: ...``, ``torch.cuda.OutOfMemoryError: ...``, ``Killed``)
_EXCEPTION = re.compile(r"^\s*(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|AssertionError|Killed)\b"
                        r"(?::|$)")
#: a line that names an error when no exception line is there (nnU-Net v1 prints, shell messages)
_ERROR_WORDS = re.compile(r"error|exception|fail|killed|not found|cannot|can't|could not|no such|invalid|"
                          r"unable|missing|out of memory", re.I)
_FRAME = re.compile(r'^\s*File ["<]|^\s*Traceback \(most recent call last\)|^-*> ?\d+ |^\s*\d+ ')


@dataclass(frozen=True)
class Variant:
    """A derived paste: its text, for each of its lines the original line (1-based) it comes from, and the
    original lines it keeps only in part."""

    text: str
    origin: tuple[int, ...]
    cut: frozenset[int] = frozenset()


def _error_line(lines: list[str]) -> int | None:
    """Index of the final error line: the last exception line, else the last line naming an error."""
    for pattern in (_EXCEPTION, _ERROR_WORDS):
        found = [i for i, line in enumerate(lines) if (pattern.match(line) if pattern is _EXCEPTION
                                                      else pattern.search(line))]
        if found:
            return found[-1]
    return None


def _keep(lines: list[str], indices: list[int]) -> Variant:
    return Variant("\n".join(lines[i] for i in indices), tuple(i + 1 for i in indices))


def last_error(lines: list[str]) -> Variant | None:
    at = _error_line(lines)
    if at is None:
        return None
    end = at + 1
    while end < len(lines) and end - at < 5 and lines[end].strip() and not _FRAME.match(lines[end]):
        end += 1
    return _keep(lines, list(range(at, end)))


def cut_traceback(lines: list[str]) -> Variant | None:
    at = _error_line(lines)
    if at is None or not _EXCEPTION.match(lines[at]) or not any(_FRAME.match(line) for line in lines[:at]):
        return None
    return _keep(lines, list(range(at)))


def wrapped(lines: list[str]) -> Variant | None:
    if all(len(line) <= WRAP for line in lines):
        return None
    out: list[str] = []
    origin: list[int] = []
    for number, line in enumerate(lines, 1):
        pieces = [line[i:i + WRAP] for i in range(0, len(line), WRAP)] or [""]
        out += pieces
        origin += [number] * len(pieces)
    return Variant("\n".join(out), tuple(origin))


def truncated(lines: list[str]) -> Variant | None:
    at = _error_line(lines)
    if at is None:
        return None
    cut = lines[:at] + [lines[at][:int(len(lines[at]) * TRUNCATE)]] + lines[at + 1:]
    return Variant("\n".join(cut), tuple(range(1, len(lines) + 1)), frozenset({at + 1}))


def no_context(lines: list[str]) -> Variant | None:
    if len(lines) < 2:
        return None
    return _keep(lines, list(range(len(lines) // 2, len(lines))))


VARIANTS: dict[str, Callable[[list[str]], Variant | None]] = {
    "last_error": last_error, "cut_traceback": cut_traceback, "wrapped": wrapped, "truncated": truncated,
    "no_context": no_context}


def diagnose(command: list[str], log: str, files: dict[str, str], timeout: float = 60.0) -> dict:
    """The JSON report of ``command --log FILE --offline --format json``, run as score.py runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pasted.log"
        path.write_text(log, encoding="utf-8")
        for relative, text in files.items():
            target = Path(tmp) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([*command, "--log", str(path), "--offline", "--format", "json"],
                                  capture_output=True, text=True, timeout=timeout, cwd=tmp)
            return json.loads(done.stdout)
        except (subprocess.TimeoutExpired, ValueError):
            return {"causes": []}


def _rank(report: dict, accepted: set[str]) -> int | None:
    ranked = [cause["cause"] for cause in report.get("causes", [])]
    return next((i + 1 for i, cause in enumerate(ranked) if cause in accepted), None)


def _evidence_lines(report: dict, accepted: set[str]) -> set[int]:
    """Log lines the report gives as evidence of its best-ranked accepted cause."""
    cause = next((c for c in report.get("causes", []) if c["cause"] in accepted), None)
    if cause is None:
        return set()
    return {item["line"] for item in cause.get("evidence", []) if item.get("kind") == "log" and item.get("line")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cmd", default="diagnose", help="command to run (default: diagnose)")
    parser.add_argument("--only", choices=list(VARIANTS), action="append", help="variants to run (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="diagnoses at a time")
    args = parser.parse_args()
    command = shlex.split(args.cmd)
    cases = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [c for c in cases if c.get("log_sufficient", True) and c.get("causes")]
    names = args.only or list(VARIANTS)

    jobs: list[tuple[str, str, str]] = []  # (case id, variant name or "", text)
    derived: dict[tuple[str, str], Variant] = {}
    for case in cases:
        jobs.append((case["id"], "", case["log"]))
        lines = case["log"].splitlines()
        for name in names:
            variant = VARIANTS[name](lines)
            if variant is not None and variant.text.strip() and variant.text != "\n".join(lines):
                derived[case["id"], name] = variant
                jobs.append((case["id"], name, variant.text))
    by_id = {case["id"]: case for case in cases}
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        reports = dict(zip([(i, n) for i, n, _ in jobs],
                           pool.map(lambda job: diagnose(command, job[2], by_id[job[0]].get("files") or {}), jobs)))

    print(f"{len(cases)} log-sufficient cases; anchor: the unmodified logs of the same cases, in this run")
    print(f"{'variant':<14} {'n':>3}  {'top1':>5} {'top3':>5}   anchor {'top1':>5} {'top3':>5}   "
          f"misses (lost, cut)")
    listing: list[str] = []
    for name in names:
        ids = [case["id"] for case in cases if (case["id"], name) in derived]
        if not ids:
            print(f"{name:<14} {0:>3}")
            continue
        hit1 = hit3 = anchor1 = anchor3 = lost = cut = 0
        for case_id in ids:
            accepted = set(by_id[case_id]["causes"])
            original, report = reports[case_id, ""], reports[case_id, name]
            rank, anchor = _rank(report, accepted), _rank(original, accepted)
            hit1, hit3 = hit1 + (rank == 1), hit3 + (rank is not None and rank <= 3)
            anchor1, anchor3 = anchor1 + (anchor == 1), anchor3 + (anchor is not None and anchor <= 3)
            if rank != 1:
                variant = derived[case_id, name]
                evidence = _evidence_lines(original, accepted)
                kept = evidence & set(variant.origin)
                mark = "MISS" if not evidence or kept - variant.cut else ("cut" if kept else "lost")
                lost += mark == "lost"
                cut += mark == "cut"
                got = ",".join(c["cause"] for c in report.get("causes", [])[:3]) or "(nothing)"
                listing.append(f"  {name:<14} {case_id:<22} {mark:<5} rank {rank or '-'}  "
                               f"want {','.join(by_id[case_id]['causes'])}  got {got}")
        n = len(ids)
        print(f"{name:<14} {n:>3}  {hit1 / n:>5.3f} {hit3 / n:>5.3f}   anchor {anchor1 / n:>5.3f} {anchor3 / n:>5.3f}"
              f"   {n - hit1} ({lost}, {cut})")
    if listing:
        print("misses (lost: no evidence line of the accepted cause is left; cut: only the truncated one is):")
        print("\n".join(listing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
