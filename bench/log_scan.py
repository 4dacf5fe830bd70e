"""Scanning a 1 GiB nnU-Net-style log for the rule pack's signatures, next to ``grep -E -f`` with the same ones.

The anchor is GNU grep given every signature of the rule pack in one pattern file: each signature's literal
anchors, plus its regular expression translated to POSIX ERE where that is possible (named groups and
``\\d``/``\\s``/``\\w`` rewritten; multi-line and case-insensitive ones keep their anchors only), counting
matching lines (``grep -E -c -f``). Ours is the log probe's scanner with the same signatures: one pass of the
multi-pattern prefilter over 8 MiB blocks, then the regex/fuzzy confirmation on candidate lines only, giving
the ``match.<id>`` records. Also measured: the whole log probe (every reader: exceptions, training log,
commands, machine), and the other prefilter engines on a slice. Medians of ``--runs`` interleaved runs; peak
memory is the scanning process's maximum resident set size.

    .venv/bin/python bench/log_scan.py                 # generates bench/out/nnunet_1g.log (about 30 s) once
    .venv/bin/python bench/log_scan.py --size 200M --runs 3
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from log_corpus import generate, parse_size  # noqa: E402

#: the measured program, run in a fresh interpreter so that its peak memory is its own
_SCAN = r"""
import json, resource, sys, time
from pathlib import Path
from nnunet_doctor.pipeline import load_pack
from nnunet_doctor.probes.base import FactSink, LogSource, ProbeContext
from nnunet_doctor.probes.log import LogProbe
from nnunet_doctor.probes.log.matches import SignatureReader
from nnunet_doctor.probes.log.reader import open_inputs
from nnunet_doctor.probes.log.scanner import Scanner
mode, engine, path, limit = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
pack = load_pack([])
source = LogSource(str(path), path)
started = time.perf_counter()
if mode == "signatures":
    reader = SignatureReader(pack.signatures)
    scanner = Scanner([reader], context_lines=pack.signatures.max_window, engine=engine or None)
    log = open_inputs(source)[0]
    if limit:
        opened = log.open
        log.open = lambda: __import__("io").BytesIO(opened().read(limit))
    scanner.scan(log)
    found = sum(len(records) for records in reader.matches.values())
    used = scanner.engine
else:
    sink = FactSink(pack.vocabulary, "log")
    LogProbe().collect(ProbeContext(pack.vocabulary, pack.signatures, [source], offline=True), sink)
    found = sum(len(f.value) for f in sink.facts if f.name.startswith("match.") and isinstance(f.value, list))
    used = next(f.value for f in sink.facts if f.name == "log.scan_engine")
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "matches": found, "engine": used,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
_CLASS_ESCAPES = {r"\d": "0-9", r"\w": "[:alnum:]_", r"\s": "[:space:]"}
_ESCAPES = {r"\d": "[0-9]", r"\D": "[^0-9]", r"\w": "[[:alnum:]_]", r"\W": "[^[:alnum:]_]", r"\s": "[[:space:]]",
            r"\S": "[^[:space:]]"}


def ere_patterns(pack_dirs: list[Path]) -> list[str]:
    """One ERE per anchor and per translatable regex of every signature of the rule pack."""
    from nnunet_doctor.pipeline import load_pack

    patterns: list[str] = []
    for signature in load_pack(pack_dirs).signatures:
        patterns += [re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", anchor) for anchor in signature.anchors]
        if signature.regex is not None and not signature.window and not signature.ignore_case:
            translated = _to_ere(signature.regex.source)
            if translated and _grep_accepts(translated):
                patterns.append(translated)
    return patterns


def _to_ere(pattern: str) -> str | None:
    if "(?i" in pattern or "\\n" in pattern or "(?=" in pattern or "(?!" in pattern:
        return None
    pattern = pattern.replace("(?P<", "(?<")
    pattern = re.sub(r"\(\?<\w+>", "(", pattern).replace("(?:", "(")
    pattern = re.sub(r"([*+?}])\?", r"\1", pattern)  # lazy quantifiers: ERE has only greedy ones

    def in_class(match: re.Match[str]) -> str:
        body = match.group(0)
        for escape, replacement in _CLASS_ESCAPES.items():
            body = body.replace(escape, replacement)
        return body

    pattern = re.sub(r"\[(?:\\.|[^\]\\])*\]", in_class, pattern)
    for escape, replacement in _ESCAPES.items():
        pattern = pattern.replace(escape, replacement)
    return None if "(?" in pattern else pattern


def _grep_accepts(pattern: str) -> bool:
    """grep compiles it, and it does not match an empty line (which would make every line match)."""
    return subprocess.run(["grep", "-E", "-e", pattern], input=b"\n", capture_output=True).returncode == 1


def _grep(patterns_file: Path, log: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(["grep", "-E", "-c", "-f", str(patterns_file), str(log)], capture_output=True, text=True)
    return time.perf_counter() - started, int(done.stdout.strip() or 0)


def _ours(mode: str, engine: str, log: Path, limit: int = 0) -> dict[str, float]:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _SCAN, mode, engine, str(log), str(limit)], capture_output=True,
                          text=True, env=environment, check=True)
    result = json.loads(done.stdout)
    result["wall"] = time.perf_counter() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slice", default="64M", help="bytes of the log for the slower fallback engines")
    args = parser.parse_args()
    size = parse_size(args.size)
    log = HERE / "out" / f"nnunet_{args.size.lower()}.log"
    if not log.exists() or log.stat().st_size < size:
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        events = generate(log, size)
        print(f"generated {log} with {events} error events in {time.perf_counter() - started:.0f} s")
    patterns = ere_patterns([])
    patterns_file = HERE / "out" / "signatures.ere"
    patterns_file.write_text("\n".join(patterns) + "\n", encoding="utf-8")
    mib = log.stat().st_size / 2**20
    subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache for everyone
    grep_times, ours_times, probe_times, peaks, probe_peaks = [], [], [], [], []
    grep_lines = matches = 0
    engine = ""
    for _ in range(args.runs):
        seconds, grep_lines = _grep(patterns_file, log)
        grep_times.append(seconds)
        scan = _ours("signatures", "", log)
        ours_times.append(scan["seconds"])
        peaks.append(scan["peak_mib"])
        matches, engine = int(scan["matches"]), str(scan["engine"])
        probe = _ours("probe", "", log)
        probe_times.append(probe["seconds"])
        probe_peaks.append(probe["peak_mib"])
    grep_s, ours_s, probe_s = (statistics.median(t) for t in (grep_times, ours_times, probe_times))
    print(f"log: {log} ({mib:.0f} MiB), {len(patterns)} grep patterns from the rule pack's signatures, "
          f"{args.runs} interleaved runs, medians")
    print(f"grep -E -c -f (anchor)          {grep_s:7.2f} s  {mib / grep_s:7.0f} MiB/s  {grep_lines} lines")
    print(f"our scanner, signatures ({engine})  {ours_s:7.2f} s  {mib / ours_s:7.0f} MiB/s  {matches} matches  "
          f"peak {max(peaks):.0f} MiB   speed-up vs grep {grep_s / ours_s:.2f}x (goal >= 1, aim 2)")
    print(f"whole log probe (all readers)   {probe_s:7.2f} s  {mib / probe_s:7.0f} MiB/s  peak {max(probe_peaks):.0f} MiB")
    limit = parse_size(args.slice)
    slice_mib = min(limit, log.stat().st_size) / 2**20
    for fallback in ("re2", "python"):
        scan = _ours("signatures", fallback, log, limit)
        print(f"  fallback engine {fallback:<9} on the first {slice_mib:.0f} MiB: {slice_mib / scan['seconds']:7.0f} MiB/s  "
              f"peak {scan['peak_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
