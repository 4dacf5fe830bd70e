#!/usr/bin/env python3
"""How long `diagnose` with no arguments (the environment check) takes, with its anchors measured in the same run.

    .venv/bin/python bench/doctor_startup.py [--rounds 5]

Runs, interleaved round by round, as fresh processes (wall time, warm caches):
  - anchor `python -c pass`: the interpreter alone;
  - anchor `python -c "import torch"`: what any tool that looks at torch pays at least once;
  - anchor `nnUNetv2_train -h`: nnU-Net's own start-up;
  - `diagnose` in this environment (torch installed: the GPU probe imports it in a subprocess);
  - `diagnose` in a second environment without torch (bench/out/venv-notorch, created on first use with the
    core dependencies only), and `python -c pass` there.
Prints the median, min and max of each. Targets: well under 2 s without torch, a few seconds with it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NO_TORCH = REPO / "bench" / "out" / "venv-notorch"


def _no_torch_venv() -> Path:
    python = NO_TORCH / "bin" / "python"
    if not python.exists():
        print(f"creating {NO_TORCH} (core dependencies only, no torch) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(NO_TORCH)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"), "-e", str(REPO)],
                       check=True)
    check = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "True", "the no-torch environment has torch"
    return NO_TORCH / "bin"


def _time(command: list[str], environ: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, timeout=300)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    no_torch = _no_torch_venv()
    environ = {key: value for key, value in os.environ.items() if not key.startswith("nnUNet_")}
    environ["PATH"] = os.pathsep.join([str(BIN), environ.get("PATH", "")])
    cases = {
        "anchor: python -c pass": [str(BIN / "python"), "-c", "pass"],
        "anchor: python -c 'import torch'": [str(BIN / "python"), "-c", "import torch"],
        "anchor: nnUNetv2_train -h": [str(BIN / "nnUNetv2_train"), "-h"],
        "diagnose (torch installed)": [str(BIN / "diagnose")],
        "anchor: python -c pass (no-torch venv)": [str(no_torch / "python"), "-c", "pass"],
        "diagnose (no torch)": [str(no_torch / "diagnose")],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for command in cases.values():  # one warm-up run each
        _time(command, environ)
    for _ in range(args.rounds):
        for name, command in cases.items():
            times[name].append(_time(command, environ))
    print(f"{'command':<42} {'median':>8} {'min':>8} {'max':>8}   ({args.rounds} interleaved rounds, seconds)")
    for name, values in times.items():
        print(f"{name:<42} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
