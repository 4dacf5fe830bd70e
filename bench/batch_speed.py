#!/usr/bin/env python3
"""``diagnose batch`` over 1000 logs against 1000 separate ``diagnose`` runs, measured side by side.

    .venv/bin/python bench/batch_speed.py [--inputs 1000] [--sample 40]

The inputs are the real nnU-Net logs of tests/fixtures/logs/real/, copied round-robin into a temporary folder
(1000 files). ``diagnose batch FOLDER`` diagnoses all of them in one process; the separate runs are
``diagnose --offline --log FILE --format json``, one process each, as a support script calling the CLI per
ticket would. By default a sample of ``--sample`` separate runs (every n-th input, run interleaved with nothing
else) is timed and scaled to the full count (``--sample 0``: run all of them); the script says which. It also
checks that both give the same ranked causes for every input it ran separately. Goal: batch >= 20x faster.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = REPO / "tests" / "fixtures" / "logs" / "real"
DIAGNOSE = str(Path(sys.executable).parent / "diagnose")
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _causes(report: dict) -> list[tuple[str, float]]:
    return [(cause["cause"], cause["certainty"]) for cause in report["causes"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=40, help="separate runs to time (0: all)")
    args = parser.parse_args()
    logs = sorted(REAL_LOGS.glob("*.log"))
    folder = Path(tempfile.mkdtemp(prefix="batch-speed-"))
    try:
        inputs = []
        for index in range(args.inputs):
            target = folder / f"ticket_{index:05d}_{logs[index % len(logs)].name}"
            shutil.copy(logs[index % len(logs)], target)
            inputs.append(target)
        subprocess.run([DIAGNOSE, "--offline", "--log", str(inputs[0])], capture_output=True, env=ENVIRONMENT)  # warm caches

        started = time.perf_counter()
        batch = subprocess.run([DIAGNOSE, "batch", str(folder)], capture_output=True, text=True, env=ENVIRONMENT)
        batch_seconds = time.perf_counter() - started
        lines = [json.loads(line) for line in batch.stdout.splitlines()]
        assert batch.returncode == 0 and len(lines) == args.inputs, batch.stderr
        by_input = {line["input"]: _causes(line["report"]) for line in lines}

        count = args.inputs if args.sample <= 0 else min(args.sample, args.inputs)
        step = max(1, args.inputs // count)
        chosen = inputs[::step][:count]
        times, disagreements = [], 0
        for path in chosen:
            started = time.perf_counter()
            single = subprocess.run([DIAGNOSE, "--offline", "--log", str(path), "--format", "json"],
                                    capture_output=True, text=True, env=ENVIRONMENT)
            times.append(time.perf_counter() - started)
            disagreements += _causes(json.loads(single.stdout)) != by_input[str(path)]
        separate_seconds = sum(times) * args.inputs / len(chosen)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    how = "all run" if len(chosen) == args.inputs else f"{len(chosen)} sampled (every {step}th input), scaled to {args.inputs}"
    print(f"inputs: {args.inputs} real nnU-Net logs ({len(logs)} distinct, round-robin), cpu count {os.cpu_count()}")
    print(f"diagnose batch, one process:          {batch_seconds:8.1f} s   ({1000 * batch_seconds / args.inputs:6.1f} ms per input)")
    print(f"separate diagnose runs ({how}):")
    print(f"                                      {separate_seconds:8.1f} s   ({1000 * statistics.mean(times):6.1f} ms per run, "
          f"median {1000 * statistics.median(times):.0f} ms)")
    print(f"speed-up: {separate_seconds / batch_seconds:.1f}x (goal >= 20x); ranked causes differ on "
          f"{disagreements}/{len(chosen)} inputs run both ways")
    return 0 if disagreements == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
