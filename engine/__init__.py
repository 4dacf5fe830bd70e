"""The inference engine: vocabulary, rule loading, conditions, forward chaining, certainty, diagnosis.

Public names are imported on first use (PEP 562), so that importing one engine module does not pull in the rule
loader and its parsers (lark, PyYAML): a diagnosis from a cached rule pack never needs them.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "ALGEBRAS": "certainty", "FOUND_THRESHOLD": "certainty", "certainty_band": "certainty", "is_found": "certainty",
    "Diagnosis": "diagnosis", "Evidence": "diagnosis", "Finding": "diagnosis", "RankedCause": "diagnosis",
    "UnknownThatMattered": "diagnosis", "diagnose": "diagnosis",
    "DoctorError": "errors", "InputError": "errors", "Location": "errors", "RuleLoadError": "errors",
    "RuleProblem": "errors",
    "Fact": "facts", "FactBase": "facts", "Provenance": "facts", "Record": "facts", "Unknown": "facts",
    "RulePack": "pack", "load_default_pack": "loader", "load_rule_pack": "loader",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
