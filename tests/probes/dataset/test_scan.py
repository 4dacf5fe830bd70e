"""Measuring many cases: the cache (keyed by path, size, mtime; outside the dataset), processes, the progress bar."""
from __future__ import annotations

import os
import select
from pathlib import Path

from dataset_support import Roots, records, tree_digest
from dataset_synthetic import Spec, read, rewrite, write_dataset

from nnunet_doctor.probes.dataset.cache import CaseCache
from nnunet_doctor.probes.dataset.measure import CaseTask
from nnunet_doctor.probes.dataset.progress import Progress
from nnunet_doctor.probes.dataset.scan import measure_all


def tasks_for(folder: Path, voxels: bool = True) -> tuple[dict[str, CaseTask], dict[str, tuple[int, int]]]:
    tasks, stats = {}, {}
    for image in sorted((folder / "imagesTr").iterdir()):
        case = image.name[:-len("_0000.nii.gz")]
        label = f"labelsTr/{case}.nii.gz"
        tasks[f"train/{case}"] = CaseTask(str(folder), (f"imagesTr/{image.name}",), label, voxels)
        for rel in (f"imagesTr/{image.name}", label):
            stat = (folder / rel).stat()
            stats[rel] = (stat.st_size, stat.st_mtime_ns)
    return tasks, stats


def test_processes_give_the_same_results_in_the_same_order(roots: Roots) -> None:
    folder = write_dataset(roots.raw)
    tasks, stats = tasks_for(folder)
    assert measure_all(tasks, stats, jobs=1) == measure_all(tasks, stats, jobs=2) == measure_all(tasks, stats, jobs=0)


def test_the_cache_serves_unchanged_files_and_measures_changed_ones(roots: Roots) -> None:
    folder = write_dataset(roots.raw)
    tasks, stats = tasks_for(folder)
    first = measure_all(tasks, stats, cache=CaseCache.open(folder, roots.environ))
    cache = CaseCache.open(folder, roots.environ)
    assert cache is not None and cache.path.parent == roots.cache and not cache.path.is_relative_to(folder)
    for key, task in tasks.items():
        files = [(r, *stats[r]) for r in task.images + (task.label,)]
        cached = cache.get(key, files)
        assert cached is not None and "content" not in cached["voxels"]  # the profiles live in their own file
        assert {**cached, "voxels": {**cached["voxels"], **cache.content.get(key, files)}} == first[key]
    label = folder / "labelsTr" / "case_0002.nii.gz"
    array = __import__("SimpleITK").GetArrayFromImage(read(label))
    array[array == 2] = 7
    rewrite(label, array)
    tasks, stats = tasks_for(folder)
    reopened = CaseCache.open(folder, roots.environ)
    assert reopened is not None and reopened.get("train/case_0002", [
        (r, *stats[r]) for r in tasks["train/case_0002"].images + (tasks["train/case_0002"].label,)]) is None
    second = measure_all(tasks, stats, cache=CaseCache.open(folder, roots.environ))
    unchanged = {**first["train/case_0001"], "voxels": {k: v for k, v in first["train/case_0001"]["voxels"].items()
                                                          if k != "content"}}
    assert second["train/case_0002"]["voxels"]["label"]["counts"].get("7") and second["train/case_0001"] == unchanged


def test_a_second_diagnosis_of_an_unchanged_dataset_measures_nothing_again(roots: Roots) -> None:
    write_dataset(roots.raw, Spec(cases=8))
    before = tree_digest(roots.raw)
    first = records(roots.diagnose("1"), "dataset.cases")
    cache = CaseCache.open(roots.raw / "Dataset001_Synth", roots.environ)
    assert cache is not None
    cache_file = cache.path
    written = cache_file.stat().st_mtime_ns, cache_file.read_bytes()
    second = records(roots.diagnose("1"), "dataset.cases")
    assert second == first and tree_digest(roots.raw) == before
    assert (cache_file.stat().st_mtime_ns, cache_file.read_bytes()) == written  # every case came from the cache


def test_headers_only_leaves_voxel_facts_unknown(roots: Roots) -> None:
    write_dataset(roots.raw)
    cases = records(roots.diagnose("1", quick=True), "dataset.cases")
    assert cases[0]["shape"] == [24, 28, 20] and cases[0].get("label_values") is None


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        bar = Progress("reading headers", 3, terminal)
        for _ in range(3):
            bar.advance()
        bar.close()
    drawn = ""
    while "3/3" not in drawn:  # the kernel hands pty output over in pieces: read until the last state or 10 s
        ready, _, _ = select.select([primary], [], [], 10)
        if not ready:
            break
        drawn += os.read(primary, 4096).decode()
    os.close(primary)
    assert bar.enabled and "reading headers [" in drawn and "3/3" in drawn
