"""Reading a raw ``dataset.json`` and checking it the way nnU-Net 2.8.1 will use it, without importing torch.

The checks follow ``verify_dataset_integrity`` (required keys, experiment_planning/verify_dataset_integrity.py:142-150),
``LabelManager`` (background, ignore label, regions; utilities/label_handling/label_handling.py:22-106), the
consecutive-label check (verify_dataset_integrity.py:198-203) and the reader registry (imageio/). Every problem is
reported, not only the first one nnU-Net would stop at.

>>> text = '{"channel_names": {"0": "CT scan"}, "labels": {"background": 0, "liver": 1, "tumour": 3},\\n'
>>> text += ' "numTraining": 4, "file_ending": "nii.gz"}'
>>> info = parse_dataset_json(text)
>>> [p.kind for p in info.problems]
['channel_name_normalization', 'labels_not_consecutive', 'file_ending_no_dot']
>>> info.expected_labels, info.file_ending
([0, 1, 3], 'nii.gz')
"""
from __future__ import annotations

import json
import sys
from typing import Any

from msgspec import Struct, field

REQUIRED_KEYS = ("labels", "channel_names", "numTraining", "file_ending")
V1_KEYS = ("modality", "training", "test", "tensorImageSize", "numTest")
#: endings each nnU-Net reader accepts (imageio/*_reader_writer.py ``supported_file_endings``), in the order
#: ``LIST_OF_IO_CLASSES`` tries them (imageio/reader_writer_registry.py:14-20); checked against nnunetv2 by the tests
READER_ENDINGS: dict[str, tuple[str, ...]] = {
    "NaturalImage2DIO": (".png", ".bmp", ".tif"),
    "SimpleITKIO": (".nii.gz", ".nrrd", ".mha", ".gipl"),
    "Tiff3DIO": (".tif", ".tiff"),
    "NibabelIO": (".nii", ".nii.gz"),
    "NibabelIOWithReorient": (".nii", ".nii.gz"),
}
#: channel names with their own normalization, compared case-insensitively
#: (preprocessing/normalization/map_channel_name_to_normalization.py:6-24; checked against nnunetv2 by the tests)
NORMALIZATIONS: dict[str, str] = {"ct": "CTNormalization", "nonorm": "NoNormalization", "zscore": "ZScoreNormalization",
                                  "rescale_to_0_1": "RescaleTo01Normalization", "rgb_to_0_1": "RGBTo01Normalization"}
_CT_LIKE = ("ct", "cect", "ncct", "cta")


class Problem(Struct, frozen=True):
    kind: str
    key: str
    message: str
    found: str = ""
    expected: str = ""
    line: int | None = None
    column: int | None = None

    def as_fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "message": self.message, "found": self.found,
                "expected": self.expected, "line": self.line, "column": self.column}


class Label(Struct, frozen=True):
    name: str
    values: tuple[int, ...]
    kind: str  # background | label | region | ignore


class DatasetJson(Struct):
    """What a dataset.json says, as far as it could be read, and everything wrong with it."""

    content: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    file_ending: str | None = None
    num_training: int | None = None
    channel_names: dict[int, str] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    expected_labels: list[int] | None = None
    ignore_label: int | None = None
    has_regions: bool = False

    @property
    def channel_count(self) -> int | None:
        return len(self.channel_names) if self.channel_names else None

    @property
    def file_list(self) -> dict[str, Any] | None:
        """The explicit ``"dataset"`` file list (utilities/utils.py:61-66), when dataset.json has one."""
        dataset = (self.content or {}).get("dataset")
        return dataset if isinstance(dataset, dict) else None


def normalization_for(channel_name: str) -> str:
    """The normalization class nnU-Net picks for a channel name (any other name: z-score)."""
    return NORMALIZATIONS.get(channel_name.casefold(), "ZScoreNormalization")


def readers_for(file_ending: str) -> list[str]:
    """Readers nnU-Net would try for ``file_ending`` (it lower-cases the ending to choose)."""
    return [name for name, endings in READER_ENDINGS.items() if file_ending.lower() in endings]


def parse_dataset_json(text: str) -> DatasetJson:
    info = DatasetJson()
    try:
        content = json.loads(text)
    except RecursionError:
        info.problems.append(Problem("syntax", "", "not valid JSON for this tool: nested too deeply "
                                     f"(more than {sys.getrecursionlimit()} levels of [ and {{)"))
        return info
    except json.JSONDecodeError as exc:
        info.problems.append(Problem("syntax", "", f"not valid JSON: {exc.msg} at line {exc.lineno} "
                                     f"column {exc.colno}", found=_line(text, exc.lineno).strip()[:200],
                                     line=exc.lineno, column=exc.colno))
        return info
    if not isinstance(content, dict):
        info.problems.append(Problem("not_object", "", "dataset.json must hold a JSON object {...}",
                                     found=type(content).__name__))
        return info
    info.content = content
    _check_keys(content, info)
    _read_channels(content, info)
    _read_labels(content, info)
    _read_file_ending(content, info)
    number = content.get("numTraining")
    if number is not None:
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            info.num_training = number
        else:
            info.problems.append(Problem("num_training_invalid", "numTraining", "numTraining must be a whole number",
                                         found=json.dumps(number), expected="the number of training cases"))
    return info


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _check_keys(content: dict[str, Any], info: DatasetJson) -> None:
    for key in REQUIRED_KEYS:
        if key not in content:
            hint = {"channel_names": "'modality' is the nnU-Net v1 name" if "modality" in content else "",
                    "numTraining": "", "file_ending": "", "labels": ""}[key]
            info.problems.append(Problem("missing_key", key, f"required key '{key}' is missing"
                                         + (f" ({hint})" if hint else ""), found=", ".join(sorted(content)),
                                         expected=", ".join(REQUIRED_KEYS)))
    for key in V1_KEYS:
        if key in content:
            info.problems.append(Problem("v1_key", key, f"'{key}' is an nnU-Net v1 key (nnU-Net v2 ignores it)",
                                         found=key, expected={"modality": "channel_names"}.get(key, "")))


def _read_channels(content: dict[str, Any], info: DatasetJson) -> None:
    key = "channel_names" if "channel_names" in content else "modality" if "modality" in content else None
    if key is None:
        return
    raw = content[key]
    if not isinstance(raw, dict) or not raw:
        info.problems.append(Problem("channel_names_invalid", key, f"'{key}' must map channel indices to names",
                                     found=json.dumps(raw)[:200], expected='{"0": "CT"}'))
        return
    channels: dict[int, str] = {}
    for index, name in raw.items():
        try:
            channels[int(index)] = str(name)
        except ValueError:
            info.problems.append(Problem("channel_names_invalid", key, f"channel key '{index}' is not a number",
                                         found=str(index), expected='"0", "1", ...'))
    if channels and sorted(channels) != list(range(len(channels))):
        info.problems.append(Problem("channel_names_invalid", key, "channel indices must be 0, 1, 2, ... without gaps",
                                     found=str(sorted(channels)), expected=str(list(range(len(channels))))))
    info.channel_names = dict(sorted(channels.items()))
    for index, name in info.channel_names.items():
        if name.casefold() != "ct" and any(part in _CT_LIKE for part in _words(name)):
            info.problems.append(Problem(
                "channel_name_normalization", key, f"channel {index} is named '{name}': nnU-Net uses CT normalization "
                "only for the exact name 'CT' and z-score normalization for any other name",
                found=name, expected="CT"))


def _words(name: str) -> list[str]:
    out, word = [], ""
    for char in name.casefold():
        if char.isalnum():
            word += char
        elif word:
            out.append(word)
            word = ""
    return out + ([word] if word else [])


def _as_int(value: Any) -> int | None:
    """nnU-Net casts label values with int() (label_handling.py:57, 70-72): '1' and 1.0 pass, 'one' does not;
    neither do infinity and values no label image can hold (64 bits and more)."""
    if isinstance(value, bool) or (isinstance(value, str) and len(value) > 40):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not -2**63 <= number < 2**63:
        return None
    return number if not isinstance(value, float) or value == number else None


def _read_labels(content: dict[str, Any], info: DatasetJson) -> None:
    raw = content.get("labels")
    if raw is None:
        return
    if not isinstance(raw, dict) or not raw:
        info.problems.append(Problem("label_not_int", "labels", "'labels' must map label names to values",
                                     found=json.dumps(raw)[:200], expected='{"background": 0, "liver": 1}'))
        return
    if all(_as_int(key) is not None for key in raw) and all(isinstance(value, str) for value in raw.values()):
        info.problems.append(Problem("v1_labels", "labels", "labels map values to names (nnU-Net v1 format); nnU-Net "
                                     "v2 maps names to values", found=json.dumps(raw)[:200],
                                     expected=json.dumps({str(v): _as_int(k) for k, v in raw.items()})[:200]))
        return
    labels: list[Label] = []
    for name, value in raw.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        ints = [_as_int(v) for v in values]
        if not values or any(v is None for v in ints):
            info.problems.append(Problem("label_not_int", "labels", f"label '{name}' must be an integer "
                                         "(or a list of integers for a region)", found=json.dumps(value)))
            continue
        kind = "ignore" if name == "ignore" else "background" if name == "background" else (
            "region" if isinstance(value, (list, tuple)) and len(value) > 1 else "label")
        labels.append(Label(str(name), tuple(v for v in ints if v is not None), kind))
    info.labels = labels
    _check_background(raw, info)
    info.has_regions = any(label.kind == "region" for label in labels)
    ignore = raw.get("ignore")
    if ignore is not None:
        if isinstance(ignore, int) and not isinstance(ignore, bool):
            info.ignore_label = ignore
        else:
            info.problems.append(Problem("ignore_not_int", "labels", "the ignore label must be an integer, not a "
                                         "region or a string (label_handling.py:103-105)", found=json.dumps(ignore)))
    all_labels = sorted({v for label in labels if label.kind != "ignore" for v in label.values})
    if info.ignore_label is not None and all_labels and info.ignore_label != max(all_labels) + 1:
        info.problems.append(Problem("ignore_not_highest", "labels", "the ignore label must be the highest label value "
                                     "(one above every other label)", found=str(info.ignore_label),
                                     expected=str(max(all_labels) + 1)))
    if info.has_regions:
        order = content.get("regions_class_order")
        regions = [label for label in labels if label.kind in ("region", "label") and set(label.values) != {0}]
        if order is None:
            info.problems.append(Problem("regions_without_order", "regions_class_order", "labels declare regions but "
                                         "regions_class_order is missing", expected=f"a list of {len(regions)} label "
                                         "values, one per region"))
        elif not isinstance(order, list) or len(order) != len(regions):
            info.problems.append(Problem("regions_order_length", "regions_class_order", "regions_class_order must have "
                                         "one entry per region", found=json.dumps(order)[:200],
                                         expected=f"{len(regions)} entries"))
    expected = all_labels + ([info.ignore_label] if info.ignore_label is not None else [])
    info.expected_labels = expected
    if any(p.kind == "ignore_not_highest" for p in info.problems):
        expected = all_labels  # the ignore label is reported on its own
    gaps = [b for a, b in zip(expected, expected[1:]) if b - a != 1]
    if gaps or (expected and expected[0] != 0):
        info.problems.append(Problem("labels_not_consecutive", "labels", "label values must be consecutive integers "
                                     "0, 1, 2, ...", found=str(expected), expected=str(list(range(len(expected))))))


def _check_background(raw: dict[str, Any], info: DatasetJson) -> None:
    if "background" not in raw:
        info.problems.append(Problem("no_background", "labels", "no label is named 'background' (it must be "
                                     "\"background\": 0)", found=", ".join(map(str, raw))[:200],
                                     expected='"background": 0'))
        return
    background = raw["background"]
    if isinstance(background, (list, tuple)) or _as_int(background) != 0:
        info.problems.append(Problem("background_not_zero", "labels", "the background label must be 0",
                                     found=json.dumps(background), expected="0"))


def _read_file_ending(content: dict[str, Any], info: DatasetJson) -> None:
    ending = content.get("file_ending")
    if ending is None:
        return
    if not isinstance(ending, str) or not ending:
        info.problems.append(Problem("file_ending_unsupported", "file_ending", "file_ending must be a string such as "
                                     "'.nii.gz'", found=json.dumps(ending)))
        return
    info.file_ending = ending
    if not ending.startswith("."):
        info.problems.append(Problem("file_ending_no_dot", "file_ending", "file_ending must start with a dot",
                                     found=ending, expected="." + ending))
    elif not readers_for(ending) and not (info.content or {}).get("overwrite_image_reader_writer"):
        supported = sorted({e for endings in READER_ENDINGS.values() for e in endings})
        info.problems.append(Problem("file_ending_unsupported", "file_ending", f"no nnU-Net reader reads '{ending}' "
                                     "files", found=ending, expected=", ".join(supported)))
