"""The dataset probe: everything about the raw dataset named with ``--dataset``, in one pass, never writing to it.

Input: ``--dataset 3`` (or ``003``, ``Dataset003_Liver``, a path) with ``nnUNet_raw`` pointing at a folder that
holds ``Dataset003_Liver/{dataset.json, imagesTr/, labelsTr/, imagesTs/}``. Output: ``dataset.lookup`` (how the
name resolved), ``dataset_json.*`` (every problem of dataset.json), ``dataset.layout`` and ``dataset.file_issues``
(naming grammar, stray files), ``dataset.cases`` (per case: channels, geometry from headers, label values, NaNs,
foreground), ``dataset.test_cases`` and dataset-wide summaries.

Options (``ProbeContext.options``): ``quick`` (headers, names and dataset.json only: no voxel is read), ``jobs``
(worker processes; 0 = one per core), ``cache`` (False: measure everything again).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

from msgspec import Struct

from nnunet_doctor.engine.facts import Provenance, Record
from nnunet_doctor.engine.sources import Source

from ..base import FactSink, ProbeContext
from ..extras import missing, unavailable
from ..files import read_small_text
from .cache import CaseCache
from .cases import describe, task_key
from .dataset_json import DatasetJson, normalization_for, parse_dataset_json
from .inputs import input_cases, predicted_folders
from .layout import TEST_IMAGES, TRAIN_IMAGES, TRAIN_LABELS, Layout, guess_file_ending, read_layout
from .locate import DatasetLocation, locate
from .measure import CaseTask
from .profiles import PROFILES_VERSION, Profiled, content_issues
from .scan import file_keys, measure_all


def _locate(context: ProbeContext) -> DatasetLocation:
    return locate(str(context.dataset), context.environ)


def located(context: ProbeContext) -> DatasetLocation:
    """The dataset's folders, resolved once per diagnosis and shared by the dataset, preprocessed and results probes."""
    return context.shared(_locate)


class RawDataset(Struct):
    folder: Path
    info: DatasetJson
    layout: Layout
    json_present: bool
    json_error: str | None = None


def raw_dataset(context: ProbeContext) -> RawDataset | None:
    """dataset.json and the file listing of the raw folder, read once per diagnosis (None: no raw folder)."""
    return context.shared(_read_raw_dataset)


def _read_raw_dataset(context: ProbeContext) -> RawDataset | None:
    where = located(context)
    if where.raw is None:
        return None
    path = where.raw / "dataset.json"
    info, error = DatasetJson(), None
    if path.is_file():
        try:
            info = parse_dataset_json(read_small_text(path))
        except (OSError, ValueError) as exc:
            error = f"cannot read dataset.json: {exc}"
    file_ending = info.file_ending or guess_file_ending(where.raw)
    layout = read_layout(where.raw, file_ending, info.channel_count, info.file_list)
    return RawDataset(where.raw, info, layout, path.is_file(), error)


class DatasetProbe:
    name: ClassVar[str] = "dataset"
    needs: ClassVar[str] = "dataset"
    description: ClassVar[str] = "checks the raw dataset: dataset.json, file names, image geometry, label values, NaNs"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        where = located(context)
        sink.add("dataset.lookup", where.as_fields(), detail=f"--dataset {where.query}")
        if where.name:
            sink.add("dataset.name", where.name)
        if where.dataset_id is not None:
            sink.add("dataset.id", where.dataset_id)
        raw = raw_dataset(context)
        if raw is None:
            reason = "the raw dataset folder was not found" if where.status != "found" else (
                "the dataset has no folder in nnUNet_raw (only preprocessed data or results)")
            for name in ("dataset.layout", "dataset.cases", "dataset_json.present"):
                sink.unknown(name, reason)
            return
        sink.add("dataset.raw_folder", str(raw.folder))
        _dataset_json_facts(raw, sink)
        layout = raw.layout
        _layout_facts(layout, sink)
        voxels = not context.options.get("quick", False)
        files = [name for case in layout.cases + layout.test_cases for name in case.images + [case.label] if name]
        headers_need = missing("SimpleITK") if any(not n.lower().endswith((".nii", ".nii.gz")) for n in files) else []
        if headers_need:  # the tool lacks a reader: the files are not to blame
            reason = unavailable(headers_need, "image headers of this file type")
            sink.note(reason, "warning")
            for name in ("dataset.cases", "dataset.test_cases", "dataset.file_issues"):
                sink.unknown(name, reason)
            return
        voxels_need = missing("numpy", "nibabel", "SimpleITK") if voxels else []
        if voxels_need:
            sink.note(unavailable(voxels_need, "voxel checks (label values, NaNs, class sizes)") +
                      "; only names, dataset.json and image headers were checked", "warning")
            voxels = False
        tasks = {task_key("train", case): CaseTask(str(raw.folder), tuple(case.images), case.label, voxels)
                 for case in layout.cases}
        tasks.update({task_key("test", case): CaseTask(str(raw.folder), tuple(case.images), None, voxels)
                      for case in layout.test_cases})
        cache = CaseCache.open(raw.folder, context.environ) if context.options.get("cache", True) else None
        measured = measure_all(tasks, layout.stats, int(context.options.get("jobs", 1)), cache,
                               "checking cases" if voxels else "reading headers")
        facts = describe(layout, raw.info, measured)
        _skipped_voxels_note(measured, sink)
        sink.add("dataset.voxels_checked", voxels)
        sink.add("dataset.file_issues", [Record(issue.as_fields(), Provenance(Source.probe("dataset"), f"{issue.folder}/{issue.file}"))
                                         for issue in layout.issues + facts.issues])
        sink.add("dataset.cases", [_record(fields, TRAIN_IMAGES) for fields in facts.cases])
        sink.add("dataset.test_cases", [_record(fields, TEST_IMAGES) for fields in facts.test_cases])
        if voxels:
            inputs = _input_profiles(raw, context)
            _content_facts(raw, tasks, measured, cache, inputs, sink)
        for name, value in (("dataset.orientation", facts.orientation), ("dataset.spacing_median", facts.spacing_median),
                            ("dataset.shape_median", facts.shape_median), ("dataset.anisotropy", facts.anisotropy),
                            ("dataset.classes", facts.classes)):
            if value is not None:
                sink.add(name, value)


def _skipped_voxels_note(measured: dict[str, Any], sink: FactSink) -> None:
    """Files too large for the voxel checks (:data:`.measure.MAX_VOXEL_BYTES`): their label values, NaNs and
    content were not checked, which the report says (their headers were)."""
    skipped = [(rel, reason) for result in measured.values()
               for rel, reason in ((result.get("voxels") or {}).get("skipped") or {}).items()]
    if skipped:
        rel, reason = skipped[0]
        more = f" (and {len(skipped) - 1} more files)" if len(skipped) > 1 else ""
        sink.note(f"voxels of {rel} not checked: {reason}{more}; their label values, NaNs and content are unknown",
                  "warning")


#: normalizations that feed the raw intensities' scale to the network (the others rescale each image by itself)
_GLOBAL_SCALE = ("CTNormalization", "NoNormalization")


def _input_profiles(raw: RawDataset, context: ProbeContext) -> list[Profiled]:
    """Content profiles of the images a prediction log's ``-i`` names (:mod:`.inputs`), measured without the cache."""
    out = []
    ending = raw.info.file_ending or ".nii.gz"
    for folder in predicted_folders(context.established):
        cases = input_cases(folder, ending)
        tasks = {f"input/{case.id}": CaseTask(str(folder), tuple(case.images), None, True) for case in cases}
        stats = {name: (-1, -1) for case in cases for name in case.images}
        measured = measure_all(tasks, stats, int(context.options.get("jobs", 1)), None, f"checking {folder.name}")
        for case in cases:
            result = measured[f"input/{case.id}"]
            content = (result.get("voxels") or {}).get("content")
            if content and "error" not in content:
                header = result["headers"].get(case.images[0], {})
                out.append(Profiled(case.id, "input", [str(folder / name) for name in case.images], None, content,
                                    header.get("spacing"), header.get("shape")))
    return out


def _content_facts(raw: RawDataset, tasks: dict[str, CaseTask], measured: dict[str, Any], cache: CaseCache | None,
                   inputs: list[Profiled], sink: FactSink) -> None:
    """Cross-case consistency of the cases' content profiles (:mod:`.profiles`). The findings are cached under a
    digest of every file they come from, so a warm run reads neither the profiles nor imports numpy."""
    info = raw.info
    names = {label.values[0]: label.name for label in info.labels if len(label.values) == 1}
    channels = [info.channel_names[i] for i in sorted(info.channel_names)]
    scaled = [i for i, name in enumerate(channels) if normalization_for(name) in _GLOBAL_SCALE]
    cases = [(role, folder, case) for role, folder, listed in (("train", TRAIN_IMAGES, raw.layout.cases),
                                                               ("test", TEST_IMAGES, raw.layout.test_cases))
             for case in listed]
    keys = {task_key(role, case): file_keys(tasks[task_key(role, case)], raw.layout.stats) for role, _, case in cases}
    digest = hashlib.sha1(json.dumps([PROFILES_VERSION, names, channels, scaled, sorted(keys.items())],
                                     default=str).encode()).hexdigest()
    found = cache.get("content_issues", [(digest, 0, 0)]) if cache is not None and not inputs else None
    if found is None:
        profiled = []
        for role, _, case in cases:
            key = task_key(role, case)
            result = measured.get(key) or {}
            content = (result.get("voxels") or {}).get("content")
            if content is None and cache is not None:
                content = (cache.content.get(key, keys[key]) or {}).get("content")
            if not content or "error" in content:
                continue
            header = result.get("headers", {}).get(case.images[0], {}) if case.images else {}
            profiled.append(Profiled(case.id, role, list(case.images), case.label, content, header.get("spacing"),
                                     header.get("shape")))
        found = {"profiled": sum(1 for case in profiled if case.role == "train"),
                 "issues": [issue.as_fields() for issue in content_issues(profiled + inputs, names, channels, scaled)]}
        if cache is not None and not inputs:
            cache.put("content_issues", [(digest, 0, 0)], found)
            cache.save()
    sink.add("dataset.content_profiled", found["profiled"])
    sink.add("dataset.content_issues", [Record(fields, Provenance(Source.probe("dataset"), fields["file"])) for fields in found["issues"]])


def _record(fields: dict[str, Any], folder: str) -> Record:
    """A case record whose provenance names its first file, so evidence points at something one can open."""
    first = fields["images"][0] if fields.get("images") else None
    return Record(fields, Provenance(Source.probe("dataset"), f"{folder}/{first}" if first else folder))


def _dataset_json_facts(raw: RawDataset, sink: FactSink) -> None:
    sink.add("dataset_json.present", raw.json_present)
    if not raw.json_present:
        return
    info = raw.info
    where = Provenance(Source.probe("dataset"), "dataset.json")
    problems = [problem.as_fields() for problem in info.problems]
    if raw.json_error:
        problems.append({"kind": "syntax", "key": "", "message": raw.json_error})
    sink.add("dataset_json.problems", problems, where)
    if info.file_ending is not None:
        sink.add("dataset_json.file_ending", info.file_ending, where)
    if info.num_training is not None:
        sink.add("dataset_json.num_training", info.num_training, where)
    if info.channel_names:
        sink.add("dataset_json.channel_count", len(info.channel_names), where)
        sink.add("dataset_json.channels", [{"index": index, "name": name, "normalization": normalization_for(name)}
                                           for index, name in info.channel_names.items()], where)
    if info.labels:
        sink.add("dataset_json.labels", [{"name": label.name, "value": label.values[0], "values": list(label.values),
                                          "kind": label.kind} for label in info.labels], where)
        sink.add("dataset_json.has_regions", info.has_regions, where)
    if info.expected_labels is not None:
        sink.add("dataset_json.expected_labels", info.expected_labels, where)
    if info.ignore_label is not None:
        sink.add("dataset_json.ignore_label", info.ignore_label, where)


def _layout_facts(layout: Layout, sink: FactSink) -> None:
    sink.add("dataset.layout", {
        "dataset_json": (layout.folder / "dataset.json").is_file(), "images_tr": layout.has(TRAIN_IMAGES),
        "labels_tr": layout.has(TRAIN_LABELS), "images_ts": layout.has(TEST_IMAGES), "file_list": layout.file_list,
        "subfolders": layout.subfolders, "misnamed": layout.misnamed, "nested": layout.nested})
    sink.add("dataset.case_count", layout.nnunet_case_count)
    sink.add("dataset.label_count", layout.label_count)
    sink.add("dataset.test_case_count", len(layout.test_cases))
    sink.add("dataset.file_endings", layout.endings)
