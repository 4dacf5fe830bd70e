#!/usr/bin/env python3
"""What the API-drift resolver adds to a log-only diagnosis, next to its anchor.

    .venv/bin/python bench/api_drift.py [--runs 7]

Interleaved fresh processes, medians:
  - anchor ``python -c "import yaml, jinja2, click, lark, rapidfuzz"`` (what a log-only diagnosis cannot avoid);
  - ``diagnose --offline --log`` on a one-line log the resolver never looks at (the index stays unread);
  - the same on ``TypeError: resize_segmentation() got an unexpected keyword argument 'cval'`` (the index and the
    change table are read and searched);
  - loading the index alone, in-process (``api_index.load()``).
Goal: both diagnoses within 2x the anchor; the difference between them is the resolver's whole cost.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANCHOR = [sys.executable, "-c", "import yaml, jinja2, click, lark, rapidfuzz"]
LOAD = [sys.executable, "-c", "import time; t = time.perf_counter(); from nnunet_doctor.rules import api_index; "
        "api_index.load(); print(time.perf_counter() - t)"]
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENVIRONMENT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    diagnose = str(Path(sys.executable).parent / "diagnose")
    with tempfile.TemporaryDirectory() as folder:
        quiet, drift = Path(folder) / "quiet.log", Path(folder) / "drift.log"
        quiet.write_text("RuntimeError: Could not find a dataset with the ID 4.\n")
        drift.write_text("TypeError: resize_segmentation() got an unexpected keyword argument 'cval'\n")
        cases = {"anchor: import yaml, jinja2, click, lark, rapidfuzz": ANCHOR,
                 "diagnose, error the resolver skips": [diagnose, "--offline", "--log", str(quiet)],
                 "diagnose, API-drift error (index read)": [diagnose, "--offline", "--log", str(drift)]}
        for command in cases.values():
            _seconds(command)  # warm caches and bytecode
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, command in cases.items():
                times[name].append(_seconds(command))
    load = statistics.median(float(subprocess.run(LOAD, capture_output=True, text=True, check=True).stdout)
                             for _ in range(3))
    anchor = statistics.median(times[next(iter(cases))])
    print(f"{args.runs} interleaved runs, medians")
    for name, values in times.items():
        print(f"{name:<55} {statistics.median(values) * 1000:7.0f} ms   ratio {statistics.median(values) / anchor:.2f}")
    print(f"{'api_index.load() in-process (import + gunzip + JSON)':<55} {load * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
