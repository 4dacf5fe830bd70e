"""Wall time of ``diagnose --offline --log`` on a 1 MB nnU-Net-style log, next to its anchor.

The anchor is ``python -c "import yaml, jinja2, click, lark, rapidfuzz"``: the libraries a log-only
diagnosis cannot avoid. Goal: diagnose at most twice the anchor (no heavy import, compiled rule pack and
prefilter taken from the cache; modules run from bytecode as in an installed package). Both commands run
interleaved, ``--runs`` times (median and min, wall and CPU time); the first diagnose run (which may build the caches and write
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
#: the anchor's wall time, median and min
ANCHOR_WALL: list[float] = []


def _seconds(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENVIRONMENT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(" ".join(command), []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def _figures(command: list[str], times: list[float]) -> dict[str, float]:
    """Wall and CPU seconds of a command's runs: median and min of each."""
    cpu = CPU[" ".join(command)]
    return {"wall": statistics.median(times), "wall min": min(times), "CPU": statistics.median(cpu),
            "CPU min": min(cpu)}


def _line(name: str, figures: dict[str, float], anchor: dict[str, float] | None = None) -> str:
    """Median (min) of wall and CPU time, and (but for the anchor) their ratios to the anchor's."""
    text = f"{name:<62} " + "   ".join(f"{kind} {figures[kind] * 1000:4.0f} ({figures[kind + ' min'] * 1000:4.0f}) ms"
                                        for kind in ("wall", "CPU"))
    if anchor is not None:
        text += "   ratio " + ", ".join(f"{kind} {figures[kind] / anchor[kind]:.2f} "
                                        f"({figures[kind + ' min'] / anchor[kind + ' min']:.2f})"
                                        for kind in ("wall", "CPU")) + " (goal <= 2)"
    return text


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
    CPU.clear()  # the first run is reported apart
    anchor_times, diagnose_times, catalog_times = [], [], []
    for _ in range(args.runs):
        anchor_times.append(_seconds(ANCHOR))
        diagnose_times.append(_seconds(diagnose))
        catalog_times.append(_seconds(catalog))
    size = args.log.stat().st_size
    print(f"log: {args.log} ({size / 2**20:.2f} MiB), {args.runs} interleaved runs: median (min); on a shared "
          f"machine read the CPU time (user + system): waiting for a core is not the command's")
    anchor = _figures(ANCHOR, anchor_times)
    print(_line("anchor  python -c 'import yaml, jinja2, click, lark, rapidfuzz'", anchor))
    print(_line("diagnose --offline --log, the 1 MB log (warm caches)", _figures(diagnose, diagnose_times), anchor))
    print(_line("diagnose --offline --log, one-line unexplained error (catalog)", _figures(catalog, catalog_times),
                anchor))
    print(f"diagnose, first run of this session (may build the caches)  {first * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
