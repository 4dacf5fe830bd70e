"""The vocabulary: every fact name a probe may establish or a rule may read, declared once.

Vocabulary files are YAML (``probes/vocabulary/*.yaml`` for the built-in probes; a site rule folder may
add ``*.facts.yaml`` for its own derived facts)::

    probe: environment
    settled_by: run diagnose on the machine that runs nnU-Net (without --offline), or pass --bundle
    facts:
      env.nnUNet_raw:
        type: path
        description: value of the nnUNet_raw environment variable
        personal: true
      gpu:
        type: collection
        description: CUDA devices visible to PyTorch
        fields:
          name: {type: str}
          free_mib: {type: float, unit: MiB}

A rule refers to ``env.nnUNet_raw``, ``gpu[0].free_mib`` or ``any g in gpu: g.free_mib < 1000``; the
loader rejects any other name with a suggestion.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

from msgspec import Struct, field
from rapidfuzz import fuzz, process

from .errors import Location, RuleProblem
from .facts import Record, Unknown
from .yaml_source import LocatedMap, SourceText, load_located

SCALAR_TYPES = ("bool", "int", "float", "str", "path", "version", "any")
LIST_TYPES = ("list[str]", "list[int]", "list[float]", "list[any]")
FACT_TYPES = SCALAR_TYPES + LIST_TYPES + ("record", "collection")
FIELD_TYPES = SCALAR_TYPES + LIST_TYPES

_FACT_KEYS = {"type", "description", "unit", "personal", "probe", "also_from", "settled_by", "fields"}
_FIELD_KEYS = {"type", "description", "unit", "personal"}
_FILE_KEYS = {"probe", "settled_by", "facts"}


class FieldSpec(Struct, frozen=True):
    name: str
    type: str
    description: str = ""
    unit: str | None = None
    personal: bool = False


class FactSpec(Struct, frozen=True):
    name: str
    type: str
    description: str
    probe: str
    settled_by: str
    unit: str | None = None
    personal: bool = False
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    declared_at: Location | None = None
    #: other probes that may establish it too (``python.version``: the installation probe, and the log probe from
    #: a traceback's paths)
    also_from: tuple[str, ...] = ()

    @property
    def is_collection(self) -> bool:
        return self.type == "collection"

    @property
    def written_by(self) -> tuple[str, ...]:
        """The probes that may establish this fact: its own, then ``also_from``."""
        return (self.probe, *self.also_from)


def _type_ok(type_name: str, value: Any) -> bool:
    if value is None or isinstance(value, Unknown):
        return True
    if type_name == "any":
        return True
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name in ("str", "path", "version"):
        return isinstance(value, str)
    if type_name.startswith("list["):
        inner = type_name[5:-1]
        return isinstance(value, (list, tuple)) and all(_type_ok(inner, item) for item in value)
    return False


class Vocabulary(Struct):
    specs: dict[str, FactSpec] = field(default_factory=dict)

    def declare(self, spec: FactSpec) -> None:
        self.specs[spec.name] = spec

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    def get(self, name: str) -> FactSpec | None:
        return self.specs.get(name)

    def names(self) -> list[str]:
        return sorted(self.specs)

    def suggest(self, name: str, candidates: Iterable[str] | None = None) -> str | None:
        pool = list(candidates) if candidates is not None else list(self.specs)
        if not pool:
            return None
        best = process.extractOne(name, pool, scorer=fuzz.ratio, score_cutoff=70)
        return best[0] if best else None

    def resolve_prefix(self, parts: list[str]) -> tuple[FactSpec, int] | None:
        """Longest declared fact name made of the first parts; returns (spec, number of parts used)."""
        for used in range(len(parts), 0, -1):
            spec = self.specs.get(".".join(parts[:used]))
            if spec is not None:
                return spec, used
        return None

    def check_value(self, name: str, value: Any) -> str | None:
        """Why ``value`` does not fit the declared type of ``name`` (None when it fits)."""
        spec = self.specs.get(name)
        if spec is None:
            hint = self.suggest(name)
            return f"fact '{name}' is not in the vocabulary" + (f" (did you mean '{hint}'?)" if hint else "")
        if isinstance(value, Unknown):
            return None
        if spec.type in ("record", "collection"):
            items = [value] if spec.type == "record" else value
            if spec.type == "collection" and not isinstance(value, (list, tuple)):
                return f"fact '{name}' is a collection: expected a list of records, got {type(value).__name__}"
            for item in items:
                fields = item.fields if isinstance(item, Record) else item
                if not isinstance(fields, Mapping):
                    return f"fact '{name}': expected records, got {type(item).__name__}"
                for key, field_value in fields.items():
                    field_spec = spec.fields.get(key)
                    if field_spec is None:
                        return f"fact '{name}' has no field '{key}'"
                    if not _type_ok(field_spec.type, field_value):
                        return f"field '{name}.{key}' must be {field_spec.type}, got {field_value!r}"
            return None
        if isinstance(value, float) and math.isnan(value) and spec.type == "float":
            return None
        if not _type_ok(spec.type, value):
            return f"fact '{name}' must be {spec.type}, got {type(value).__name__} {value!r}"
        return None


def load_vocabulary_file(path: Path, vocabulary: Vocabulary) -> list[RuleProblem]:
    """Add the facts declared in one vocabulary file; returns every problem found."""
    text = path.read_text(encoding="utf-8")
    data, source, problems = load_located(str(path), text)
    if data is None:
        return problems
    if not isinstance(data, LocatedMap):
        return problems + [source.problem(Location(str(path), 1, 1), "a vocabulary file must be a mapping")]
    problems += unknown_keys(source, data, _FILE_KEYS, "vocabulary file")
    default_probe = str(data.get("probe", "")) or None
    default_settled = str(data.get("settled_by", "")) or None
    facts = data.get("facts")
    if not isinstance(facts, LocatedMap):
        return problems + [source.problem(data.location, "'facts' must be a mapping of fact name to declaration")]
    for name, decl in facts.items():
        location = facts.key_location(name)
        if not isinstance(decl, LocatedMap):
            problems.append(source.problem(location, f"declaration of '{name}' must be a mapping"))
            continue
        problems += unknown_keys(source, decl, _FACT_KEYS, f"fact '{name}'")
        type_name = decl.get("type")
        if type_name not in FACT_TYPES:
            problems.append(source.problem(decl.value_location("type") if "type" in decl else location,
                                           f"fact '{name}': type must be one of {', '.join(FACT_TYPES)}"))
            continue
        probe = decl.get("probe", default_probe)
        if not probe:
            problems.append(source.problem(location, f"fact '{name}': no probe declared (file or fact 'probe' key)"))
            continue
        fields: dict[str, FieldSpec] = {}
        if type_name in ("record", "collection"):
            raw_fields = decl.get("fields")
            if not isinstance(raw_fields, LocatedMap) or not raw_fields:
                problems.append(source.problem(location, f"fact '{name}': a {type_name} needs 'fields'"))
                continue
            for field_name, field_decl in raw_fields.items():
                field_loc = raw_fields.key_location(field_name)
                if isinstance(field_decl, str):
                    field_decl_map: Mapping[str, Any] = {"type": field_decl}
                elif isinstance(field_decl, LocatedMap):
                    problems += unknown_keys(source, field_decl, _FIELD_KEYS, f"field '{name}.{field_name}'")
                    field_decl_map = field_decl
                else:
                    problems.append(source.problem(field_loc, f"field '{name}.{field_name}' must be a type or mapping"))
                    continue
                field_type = field_decl_map.get("type")
                if field_type not in FIELD_TYPES:
                    problems.append(source.problem(field_loc, f"field '{name}.{field_name}': type must be one of "
                                                              f"{', '.join(FIELD_TYPES)}"))
                    continue
                fields[field_name] = FieldSpec(field_name, str(field_type), str(field_decl_map.get("description", "")),
                                               field_decl_map.get("unit"), bool(field_decl_map.get("personal", False)))
        elif "fields" in decl:
            problems.append(source.problem(decl.key_location("fields"), f"fact '{name}': only records and collections have fields"))
        if name in vocabulary.specs:
            previous = vocabulary.specs[name].declared_at
            problems.append(source.problem(location, f"fact '{name}' is already declared" + (f" at {previous}" if previous else "")))
            continue
        if not decl.get("description"):
            problems.append(source.problem(location, f"fact '{name}' needs a description"))
        also_from = decl.get("also_from", [])
        if isinstance(also_from, str):
            also_from = [also_from]
        if not isinstance(also_from, list) or not all(isinstance(p, str) for p in also_from):
            problems.append(source.problem(decl.value_location("also_from"), f"fact '{name}': 'also_from' must be a "
                                                                             "list of probe names"))
            also_from = []
        vocabulary.declare(FactSpec(
            name=str(name), type=str(type_name), description=str(decl.get("description", "")),
            probe=str(probe), settled_by=str(decl.get("settled_by", default_settled or f"the '{probe}' probe")),
            unit=decl.get("unit"), personal=bool(decl.get("personal", False)), fields=fields, declared_at=location,
            also_from=tuple(also_from),
        ))
    return problems


def unknown_keys(source: SourceText, mapping: LocatedMap, allowed: set[str], what: str) -> list[RuleProblem]:
    """Problems for every key of ``mapping`` outside ``allowed``, each with a suggestion."""
    problems = []
    for key in mapping:
        if key not in allowed:
            best = process.extractOne(key, sorted(allowed), scorer=fuzz.ratio, score_cutoff=60)
            hint = f" (did you mean '{best[0]}'?)" if best else f" (allowed: {', '.join(sorted(allowed))})"
            problems.append(source.problem(mapping.key_location(key), f"unknown key '{key}' in {what}{hint}"))
    return problems

