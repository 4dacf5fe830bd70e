"""Wall time of ``diagnose --offline --log`` on a 1 MB nnU-Net-style log, next to its anchor.

The anchor is ``python -c "import yaml, jinja2, click, lark, rapidfuzz"``: the libraries a log-only
diagnosis cannot avoid. Goal: diagnose at most twice the anchor (no heavy import, compiled rule pack and
prefilter taken from the cache; modules run from bytecode as in an installed package). Both commands run
interleaved, medians of ``--runs`` runs; the first diagnose run (which may build the caches and write
bytecode) is reported apart. A third command measures the message catalog's cost: a one-line paste of an error that no
rule explains (the catalog is loaded, every line looked up, the nearest messages ranked) -- its start-up must stay
within the same 2x.

    .venv/bin/python bench/log_diagnose.py            # generates bench/out/nnunet_1m.log if needed
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from log_corpus import generate  # noqa: E402

ANCHOR = [sys.executable, "-c", "import yaml, jinja2, click, lark, rapidfuzz"]


#: like an installed package, modules run from bytecode (pip compiles it at install time)
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
#: a cache of its own: diagnose runs of other checkouts (other rule packs) on this machine would evict its entries
ENVIRONMENT["NNUNET_DOCTOR_CACHE"] = str(HERE / "out" / "cache")
#: CPU seconds (user + system) of each command, by command: on a loaded machine wall time says little
CPU: dict[str, list[float]] = {}


def _seconds(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENVIRONMENT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(" ".join(command), []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def _cpu(command: list[str]) -> float:
    return statistics.median(CPU[" ".join(command)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, default=HERE / "out" / "nnunet_1m.log")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--format", default="json")
    args = parser.parse_args()
    if not args.log.exists():
        args.log.parent.mkdir(parents=True, exist_ok=True)
        generate(args.log, 1 << 20)
    diagnose = [str(Path(sys.executable).parent / "diagnose"), "--offline", "--log", str(args.log), "--format", args.format]
    paste = args.log.parent / "unexplained_paste.log"
    paste.write_text("AssertionError: image and seg do not have the same shape: (1, 512, 512), (1, 256, 256)\n",
                     encoding="utf-8")
    catalog = [*diagnose[:3], str(paste), *diagnose[4:]]
    first = _seconds(diagnose)
    anchor_times, diagnose_times, catalog_times = [], [], []
    for _ in range(args.runs):
        anchor_times.append(_seconds(ANCHOR))
        diagnose_times.append(_seconds(diagnose))
        catalog_times.append(_seconds(catalog))
    anchor, ours = statistics.median(anchor_times), statistics.median(diagnose_times)
    with_catalog = statistics.median(catalog_times)
    size = args.log.stat().st_size
    print(f"log: {args.log} ({size / 2**20:.2f} MiB), {args.runs} interleaved runs, medians")
    print(f"anchor  python -c 'import yaml, jinja2, click, lark, rapidfuzz'  {anchor * 1000:7.0f} ms")
    print(f"diagnose --offline --log (warm caches)                     {ours * 1000:7.0f} ms   ratio {ours / anchor:.2f} (goal <= 2)")
    print(f"diagnose --offline --log one-line unexplained error (catalog) {with_catalog * 1000:7.0f} ms   "
          f"ratio {with_catalog / anchor:.2f} (goal <= 2)")
    cpu_anchor = _cpu(ANCHOR)
    print(f"CPU seconds (user+system, medians): anchor {cpu_anchor:.3f}, diagnose 1 MB log {_cpu(diagnose):.3f} "
          f"(ratio {_cpu(diagnose) / cpu_anchor:.2f}), one-line error {_cpu(catalog):.3f} "
          f"(ratio {_cpu(catalog) / cpu_anchor:.2f})")
    print(f"diagnose, first run of this session (may build the caches)  {first * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
