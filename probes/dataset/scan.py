"""Measuring many cases: from the cache where files are unchanged, else in worker processes, with a progress bar.

``jobs`` is the number of processes (1: measure in this process; 0: one per CPU core); a header-only scan of
fewer than 2000 cases stays in this process, where it is faster. Results come back in the order of the tasks
whatever the number of processes.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Mapping

from .cache import CaseCache, FileKey
from .measure import CaseTask, measure_case
from .progress import Progress


#: a header takes ~0.1 ms: below this many cases starting worker processes costs more than it saves
_HEADERS_PER_PROCESS = 2000


def worker_count(jobs: int) -> int:
    return max(1, os.cpu_count() or 1) if jobs <= 0 else jobs


def measure_all(tasks: Mapping[str, CaseTask], stats: Mapping[str, tuple[int, int]], jobs: int = 1,
                cache: CaseCache | None = None, label: str = "checking cases") -> dict[str, dict[str, Any]]:
    """Measurements by task key; ``stats`` gives (size, mtime_ns) by relative path for the cache keys."""
    results: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, CaseTask, list[FileKey]]] = []
    for key, task in tasks.items():
        files = file_keys(task, stats)
        cached = cache.get(key, files) if cache is not None else None
        if cached is not None and (cached.get("voxels") is not None or not task.voxels):
            results[key] = cached
        else:
            todo.append((key, task, files))
    progress = Progress(label, len(todo))
    headers_only = not any(task.voxels for _, task, _ in todo)
    workers = 1 if headers_only and len(todo) < _HEADERS_PER_PROCESS else min(worker_count(jobs), len(todo))
    try:
        if workers <= 1:
            measured = (measure_case(task) for _, task, _ in todo)
            _collect(todo, measured, results, cache, progress)
        else:
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                chunk = max(1, len(todo) // (workers * 8))
                _collect(todo, pool.map(measure_case, [task for _, task, _ in todo], chunksize=chunk), results,
                         cache, progress)
    finally:
        progress.close()
        if cache is not None:
            cache.save()
    return {key: results[key] for key in tasks}


def file_keys(task: CaseTask, stats: Mapping[str, tuple[int, int]]) -> list[FileKey]:
    """The cache key of a task's measurement: each of its files with its size and modification time."""
    return [(rel, *stats.get(rel, (-1, -1))) for rel in task.images + ((task.label,) if task.label else ())]


def _collect(todo: list[tuple[str, CaseTask, list[FileKey]]], measured: Any, results: dict[str, dict[str, Any]],
             cache: CaseCache | None, progress: Progress) -> None:
    for (key, _, files), result in zip(todo, measured):
        results[key] = result
        if cache is not None:
            voxels = result.get("voxels")
            if voxels is not None and "content" in voxels:  # the profiles go to their own file (CaseCache.content)
                cache.content.put(key, files, {"content": voxels["content"]})
                result = {**result, "voxels": {name: value for name, value in voxels.items() if name != "content"}}
            cache.put(key, files, result)
        progress.advance()
