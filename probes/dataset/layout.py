"""The files of a raw dataset folder, read with nnU-Net's naming grammar (utilities/utils.py:25-72).

Images are ``imagesTr/<case>_<CCCC><file_ending>`` (CCCC: four-digit channel index), labels
``labelsTr/<case><file_ending>``. nnU-Net derives a case identifier by cutting ``len(file_ending) + 5``
characters off every file in imagesTr that ends with the file ending -- so ``case_005.nii.gz`` becomes case
``cas`` -- and silently ignores everything else. This module lists every file once (``os.scandir``, no file is
opened) and says, for each file nnU-Net will misread or ignore, what nnU-Net makes of it and what it expects.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("imagesTr/a_0000.nii.gz", "imagesTr/case_005.nii.gz", "imagesTr/._a_0000.nii.gz", "labelsTr/a.nii.gz"):
...     (root / name).parent.mkdir(exist_ok=True); _ = (root / name).write_bytes(b"x")
>>> layout = read_layout(root, ".nii.gz", 1)
>>> [(c.id, c.label) for c in layout.cases], layout.nnunet_case_count
([('a', 'labelsTr/a.nii.gz')], 3)
>>> [(i.file, i.kind, i.case) for i in layout.issues]
[('._a_0000.nii.gz', 'hidden', '._a'), ('case_005.nii.gz', 'no_channel_suffix', 'cas')]
"""
from __future__ import annotations

import os
import re
from stat import S_ISREG
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from rapidfuzz import fuzz

from .dataset_json import READER_ENDINGS

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES = "imagesTr", "labelsTr", "imagesTs"
_CHANNEL = re.compile(r"(?P<case>.+)_(?P<channel>\d{4})")
_SYSTEM_FILES = {"Thumbs.db", "desktop.ini"}
_KNOWN_ENDINGS = sorted({e for endings in READER_ENDINGS.values() for e in endings} | {".nii.gz", ".json"},
                        key=len, reverse=True)


class FileIssue(Struct, frozen=True):
    folder: str
    file: str
    kind: str
    case: str = ""
    message: str = ""
    expected: str = ""

    def as_fields(self) -> dict[str, Any]:
        return {"folder": self.folder, "file": self.file, "kind": self.kind, "case": self.case,
                "message": self.message, "expected": self.expected}


class CaseFiles(Struct):
    """One case: its channel files (relative to the dataset folder) and its label."""

    id: str
    images: list[str] = field(default_factory=list)
    label: str | None = None
    missing_channels: list[str] = field(default_factory=list)
    extra_channels: list[str] = field(default_factory=list)


class Layout(Struct):
    folder: Path
    subfolders: list[str] = field(default_factory=list)
    misnamed: list[str] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)
    file_list: bool = False
    cases: list[CaseFiles] = field(default_factory=list)
    test_cases: list[CaseFiles] = field(default_factory=list)
    nnunet_case_count: int = 0
    label_count: int = 0
    endings: list[str] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)
    #: (size, mtime in ns) of every listed file, by path relative to the dataset folder
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.subfolders


def ending_of(name: str) -> str:
    """The file ending of ``name`` as nnU-Net's readers know endings ('.nii.gz', not '.gz')."""
    lower = name.lower()
    for ending in _KNOWN_ENDINGS:
        if lower.endswith(ending):
            return name[-len(ending):]
    return os.path.splitext(name)[1]


def guess_file_ending(folder: Path) -> str | None:
    """The most common image ending in imagesTr, for a dataset.json that does not say (or cannot be read)."""
    counts: dict[str, int] = {}
    for entry in _entries(folder / TRAIN_IMAGES):
        if os.path.isfile(entry.path) and not _hidden(entry.name):  # False for a link in a loop
            ending = ending_of(entry.name)
            counts[ending] = counts.get(ending, 0) + 1
    return max(counts, key=lambda e: counts[e]) if counts else None


def read_layout(folder: Path, file_ending: str | None, channel_count: int | None,
                file_list: dict[str, Any] | None = None) -> Layout:
    """List the dataset folder. ``file_ending`` is dataset.json's (a missing leading dot is tolerated here:
    dataset.json's own check reports it); ``file_list`` is dataset.json's optional ``"dataset"`` key."""
    layout = Layout(folder)
    layout.subfolders = sorted(entry.name for entry in _entries(folder) if entry.is_dir())
    layout.misnamed = _misnamed(layout.subfolders)
    if file_list is not None:
        layout.file_list = True
        _read_file_list(layout, file_list)
        return layout
    if not file_ending:
        return layout
    grammar = file_ending if file_ending.startswith(".") else "." + file_ending
    sidecars = grammar.lower() in (".tif", ".tiff")  # Tiff3DIO reads spacing from <case>.json
    label_stems = {entry.name[:-len(grammar)] for entry in _entries(folder / TRAIN_LABELS)
                   if entry.name.endswith(grammar) and not _hidden(entry.name)}
    images = _read_images(layout, TRAIN_IMAGES, grammar, channel_count, sidecars, label_stems)
    layout.cases = images.cases
    layout.nnunet_case_count = len({name[:-(len(file_ending) + 5)] for name in images.nnunet_names(file_ending)})
    _read_labels(layout, grammar, images, sidecars)
    layout.test_cases = _read_images(layout, TEST_IMAGES, grammar, channel_count, sidecars, set()).cases
    layout.endings = sorted({ending_of(name.rsplit("/", 1)[-1]) for name in layout.stats
                             if name.startswith((TRAIN_IMAGES + "/", TRAIN_LABELS + "/"))})
    return layout


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as iterator:
            return sorted(iterator, key=lambda entry: entry.name)
    except OSError:
        return []


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _SYSTEM_FILES


def _misnamed(subfolders: list[str]) -> list[str]:
    """'found -> expected' for sub-folders that are near misses of an expected folder that is absent."""
    expected = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES)
    out = []
    for name in subfolders:
        if name in expected:
            continue
        squashed = name.strip().replace("_", "").replace("-", "").replace(" ", "").casefold()
        score, best = max((100.0 if squashed == e.casefold() else fuzz.ratio(squashed, e.casefold()), e) for e in expected)
        if score >= 85 and best not in subfolders:
            out.append(f"{name} -> {best}")
    return out


class _Images(Struct):
    cases: list[CaseFiles]
    names: list[str]  # every file (not folder) name in the folder, as nnU-Net's subfiles lists them
    suffixless: dict[str, str]  # stem -> file, for image files without a channel suffix

    def nnunet_names(self, file_ending: str) -> list[str]:
        return [name for name in self.names if name.endswith(file_ending)]


def _screen(layout: Layout, sub: str, grammar: str, sidecars: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """Report the folders, hidden files, other endings and empty files of one sub-folder; return every file name
    (as nnU-Net's ``subfiles`` lists them) and (name, relative path) of the files with the ending."""
    names: list[str] = []
    usable: list[tuple[str, str]] = []
    images = sub != TRAIN_LABELS
    for entry in _entries(layout.folder / sub):
        name, rel = entry.name, f"{sub}/{entry.name}"
        try:
            is_folder, stat = entry.is_dir(), entry.stat()
        except OSError:  # a link in a loop or to nothing: nnU-Net's subfiles (os.path.isfile) does not list it
            parsed = (name[:-(len(grammar) + 5)] if images else name[:-len(grammar)]) if name.endswith(grammar) else ""
            layout.issues.append(FileIssue(sub, name, "unreadable", parsed, "a symbolic link that leads nowhere (a "
                                           "loop, or a missing target): nnU-Net does not see this file"))
            continue
        if is_folder:
            if name.endswith(grammar):
                layout.issues.append(FileIssue(sub, name, "directory", name[:-len(grammar)], (
                    "a folder named like an image file: nnU-Net lists files only and skips it" if images else
                    "a folder named like a label file: nnU-Net cannot read it")))
            else:
                layout.nested.append(rel)
            continue
        names.append(name)
        layout.stats[rel] = (stat.st_size, stat.st_mtime_ns)
        if _hidden(name):
            parsed = name[:-(len(grammar) + 5)] if images and name.endswith(grammar) else ""
            layout.issues.append(FileIssue(sub, name, "hidden", parsed, (
                f"nnU-Net takes it for case '{parsed}' and fails to read it" if parsed else "a hidden system file"),
                "delete it"))
        elif not name.endswith(grammar):
            if not (sidecars and name.endswith(".json")):
                layout.issues.append(FileIssue(sub, name, "other_ending", "", f"ends with '{ending_of(name)}', "
                                               f"dataset.json's file_ending is '{grammar}': nnU-Net ignores it"))
        else:
            if not S_ISREG(stat.st_mode):  # never opened: a pipe would block, a device never ends
                layout.issues.append(FileIssue(sub, name, "empty", "", "not a regular file (a named pipe, a device "
                                               "or a socket): nnU-Net cannot read an image from it"))
            elif stat.st_size == 0:
                layout.issues.append(FileIssue(sub, name, "empty", "", "empty file (0 bytes)"))
            usable.append((name, rel))
    return names, usable


def _read_images(layout: Layout, sub: str, grammar: str, channel_count: int | None, sidecars: bool,
                 label_stems: set[str]) -> _Images:
    """Images by case. A name like case_0002.nii.gz parses as case 'case', channel 2 -- as nnU-Net parses it --
    but when a label of that full name exists and such a channel cannot be (only one channel is declared), all the
    files of that parsed case are images without suffix."""
    names, usable = _screen(layout, sub, grammar, sidecars)
    parsed_files = [(name, rel, _CHANNEL.fullmatch(name[:-len(grammar)])) for name, rel in usable]
    impossible = {match["case"] for name, _, match in parsed_files if match and name[:-len(grammar)] in label_stems
                  and channel_count is not None and int(match["channel"]) >= channel_count}
    channels: dict[str, dict[int, str]] = {}
    suffixless: dict[str, str] = {}
    for name, rel, match in parsed_files:
        stem = name[:-len(grammar)]
        if match is not None and not (match["case"] in impossible and stem in label_stems):
            channels.setdefault(match["case"], {})[int(match["channel"])] = rel
            continue
        suffixless[stem] = name
        parsed = name[:-(len(grammar) + 5)]
        layout.issues.append(FileIssue(sub, name, "no_channel_suffix", parsed, f"no channel suffix: nnU-Net reads it "
                                       f"as case '{parsed}'" + (f", so labelsTr/{stem}{grammar} matches no image"
                                                                if stem in label_stems else ""), f"{stem}_0000{grammar}"))
    cases = []
    for case_id, found in sorted(channels.items()):
        wanted = channel_count if channel_count is not None else max(found) + 1
        case = CaseFiles(case_id, [found[i] for i in sorted(found) if i < wanted])
        case.missing_channels = [f"{case_id}_{i:04d}{grammar}" for i in range(wanted) if i not in found]
        case.extra_channels = [found[i].split("/", 1)[1] for i in sorted(found) if i >= wanted]
        cases.append(case)
    return _Images(cases, names, suffixless)


def _read_labels(layout: Layout, grammar: str, images: _Images, sidecars: bool) -> None:
    by_id = {case.id: case for case in layout.cases}
    for name, rel in _screen(layout, TRAIN_LABELS, grammar, sidecars)[1]:
        layout.label_count += 1
        case_id = name[:-len(grammar)]
        if case_id in by_id:
            by_id[case_id].label = rel
            continue
        match = _CHANNEL.fullmatch(case_id)
        if match and match["case"] in by_id:
            layout.issues.append(FileIssue(TRAIN_LABELS, name, "label_named_like_image", match["case"],
                                           "a label named like an image (with a channel suffix)",
                                           f"{match['case']}{grammar}"))
        elif case_id not in images.suffixless:  # an image without suffix is reported for itself
            layout.issues.append(FileIssue(TRAIN_LABELS, name, "label_without_image", case_id,
                                           "no image in imagesTr has this case name", f"{TRAIN_IMAGES}/{case_id}_0000{grammar}"))


def _read_file_list(layout: Layout, file_list: dict[str, Any]) -> None:
    """dataset.json's "dataset" key: {case: {"images": [...], "label": ...}}, paths relative to the folder."""
    for case_id, entry in sorted(file_list.items()):
        entry = entry if isinstance(entry, dict) else {}
        case = CaseFiles(str(case_id))
        for raw in entry.get("images") or []:
            path = _listed_path(layout.folder, str(raw))
            if path.is_file():
                case.images.append(_register(layout, path))
            else:
                case.missing_channels.append(str(raw))
        label = entry.get("label")
        if label is not None and _listed_path(layout.folder, str(label)).is_file():
            case.label = _register(layout, _listed_path(layout.folder, str(label)))
        layout.cases.append(case)
    layout.nnunet_case_count = len(layout.cases)
    layout.label_count = sum(case.label is not None for case in layout.cases)


def _listed_path(folder: Path, raw: str) -> Path:
    path = Path(os.path.expandvars(raw))
    return path if path.is_absolute() else folder / path


def _register(layout: Layout, path: Path) -> str:
    rel = os.path.relpath(path, layout.folder)
    stat = path.stat()
    layout.stats[rel] = (stat.st_size, stat.st_mtime_ns)
    return rel
