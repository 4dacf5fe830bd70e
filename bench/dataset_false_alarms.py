"""False alarms and detections of the content checks (probes/dataset/profiles.py), over many random datasets.

Clean datasets: tests/probes/dataset/dataset_synthetic.py's anatomy generator (bodies, organs, lesions; random sizes,
positions, fields of view), CT and two-channel MR, isotropic and strongly anisotropic, uniform and heterogeneous,
10 training and 2 test cases each, one per seed and configuration. A false alarm is a dataset where any cause
reaches medium certainty (the threshold of the report's "found"). Faulty datasets: every silent fault of
dataset_faults.py (3 of 10 cases) on the same seeds; a detection is the fault's cause ranked first.

Usage (figures go to docs/performance.md, "Content checks"):
    .venv/bin/python bench/dataset_false_alarms.py --seeds 10
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "probes" / "dataset"))

from dataset_faults import SILENT_FAULTS  # noqa: E402
from dataset_support import Roots, ranking  # noqa: E402
from dataset_synthetic import Anatomy, write_anatomy  # noqa: E402

from nnunet_doctor.engine.certainty import FOUND_THRESHOLD  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=100, help="seeds the tests do not use")
    parser.add_argument("--no-faults", action="store_true", help="clean datasets only (the false-alarm rate)")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    base = Path(tempfile.mkdtemp(prefix="false_alarms_"))
    started = time.perf_counter()
    try:
        alarms: Counter[str] = Counter()
        runs = 0
        for seed, modality, anisotropic, heterogeneous in itertools.product(seeds, ["CT", "MR"], [False, True],
                                                                            [False, True]):
            roots = Roots(base / f"clean_{seed}_{modality}_{anisotropic}_{heterogeneous}")
            write_anatomy(roots.raw, Anatomy(modality=modality, anisotropic=anisotropic, heterogeneous=heterogeneous,
                                             seed=seed, test_cases=2))
            found = [cause for cause, certainty in ranking(roots.diagnose("2")) if certainty >= FOUND_THRESHOLD]
            runs += 1
            if found:
                alarms[f"{modality} anisotropic={anisotropic} heterogeneous={heterogeneous}: {', '.join(found)}"] += 1
            shutil.rmtree(roots.base)
        print(f"clean datasets: {runs}; with a cause at medium certainty or above: {sum(alarms.values())} "
              f"({100 * sum(alarms.values()) / runs:.1f} %)")
        for what, count in alarms.most_common():
            print(f"  {count:3d}  {what}")
        print(f"faulty datasets (3 of 10 cases), fault ranked first, over {args.seeds} seeds:")
        for fault in () if args.no_faults else SILENT_FAULTS:
            hits = 0
            misses: Counter[str] = Counter()
            for seed in seeds:
                roots = Roots(base / f"fault_{seed}")
                spec = dataclasses.replace(fault.spec, seed=seed)
                fault.inject(write_anatomy(roots.raw, spec), roots.raw)  # type: ignore[arg-type]
                ranked = ranking(roots.diagnose("2"))
                if ranked and ranked[0][0] == fault.cause and ranked[0][1] >= FOUND_THRESHOLD:
                    hits += 1
                else:
                    misses[ranked[0][0] if ranked else "nothing"] += 1
                shutil.rmtree(roots.base)
            detail = f"  (else: {', '.join(f'{k} x{v}' for k, v in misses.items())})" if misses else ""
            print(f"  {hits:3d}/{args.seeds}  {fault.name} -> {fault.cause}{detail}")
        print(f"({time.perf_counter() - started:.0f} s)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
