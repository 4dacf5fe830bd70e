"""Dataset checks against nnU-Net's own verify_dataset_integrity, side by side on the same dataset.

Writes a clean synthetic dataset of a few hundred cases (tests/probes/dataset/dataset_synthetic.py), then times,
interleaved and repeated, as a user would run them (fresh processes, imports included):

- nnU-Net:  verify_dataset_integrity(folder, JOBS)   (what --verify_dataset_integrity runs, JOBS worker processes)
- headers:  diagnose --dataset FOLDER --quick --no-cache -j JOBS   (dataset.json, names, geometry from headers)
- voxels:   diagnose --dataset FOLDER --no-cache -j JOBS           (plus label values, NaNs, fractions, swaps)
- cached:   diagnose --dataset FOLDER -j JOBS, a second run on the unchanged dataset (cache warm)

Usage (figures go to docs/performance.md, "Dataset checks"):
    .venv/bin/python bench/dataset_speed.py --cases 300 --jobs 2 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "probes" / "dataset"))

from dataset_synthetic import Spec, write_dataset  # noqa: E402

BIN = Path(sys.executable).parent
VERIFY = ("import sys; from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity; "
          "verify_dataset_integrity(sys.argv[1], int(sys.argv[2]))")


def timed(command: list[str], environ: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environ)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise SystemExit(f"{command[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--shape", type=int, nargs=3, default=[128, 128, 96], help="x y z voxels per case")
    parser.add_argument("--jobs", type=int, default=2, help="processes, the same for nnU-Net and diagnose")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dataset_bench_"))
    try:
        spec = Spec(name="Dataset900_Bench", cases=args.cases, shape=tuple(args.shape), image_dtype="int16")
        started = time.perf_counter()
        folder = write_dataset(base / "raw", spec)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"dataset: {args.cases} cases of {'x'.join(map(str, args.shape))} voxels, {size / 2**20:.0f} MiB "
              f"(written in {time.perf_counter() - started:.0f} s); {args.jobs} processes; {os.cpu_count()} cores; "
              f"median of {args.repeat} interleaved runs")
        environ = {**os.environ, "nnUNet_raw": str(base / "raw"), "nnUNet_preprocessed": str(base / "pre"),
                   "nnUNet_results": str(base / "res"), "NNUNET_DOCTOR_CACHE": str(base / "cache")}
        diagnose = [str(BIN / "diagnose"), "--dataset", "900", "--offline", "-j", str(args.jobs)]
        commands = {
            "nnU-Net verify_dataset_integrity": [sys.executable, "-c", VERIFY, str(folder), str(args.jobs)],
            "diagnose --quick (headers, names, dataset.json)": diagnose + ["--quick", "--no-cache"],
            "diagnose (with voxel checks)": diagnose + ["--no-cache"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        times["diagnose, second run (cache warm)"] = []
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(timed(command, environ))
            shutil.rmtree(base / "cache", ignore_errors=True)
            timed(diagnose, environ)  # fills the cache
            times["diagnose, second run (cache warm)"].append(timed(diagnose, environ))
        anchor = statistics.median(times["nnU-Net verify_dataset_integrity"])
        for name, values in times.items():
            median = statistics.median(values)
            ratio = "" if name.startswith("nnU-Net") else f"  {anchor / median:5.1f}x faster"
            print(f"{name:<50} {median:7.2f} s  ({median / args.cases * 1000:6.1f} ms/case){ratio}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
