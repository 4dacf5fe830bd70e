"""A loaded rule pack: what the engine runs (rules in evaluation order, signatures, vocabulary, cause catalog).

This module holds the data only; :mod:`.loader` builds a pack from YAML files and checks it, :mod:`.pack_cache`
keeps compiled packs so that a diagnosis does not parse rule files (nor import their parsers) on every start.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from msgspec import Struct, field

from .causes import CauseCatalog
from .rules import Rule
from .signatures import SignatureSet
from .vocabulary import Vocabulary

#: site rule folders, os.pathsep-separated, added to those given with --rules
SITE_RULES_ENV = "NNUNET_DOCTOR_RULES"


class RulePack(Struct):
    """Everything the engine needs: rules in evaluation order, signatures, vocabulary, catalog."""

    rules: list[Rule]
    signatures: SignatureSet
    vocabulary: Vocabulary
    catalog: CauseCatalog
    sources: list[str] = field(default_factory=list)
    disabled: dict[str, str] = field(default_factory=dict)  # rule id -> file that disabled it
    deprecated: list[Rule] = field(default_factory=list)
    version: str = ""
    #: cause id -> why no fact the tool can gather concludes it (declared in a rule file)
    not_diagnosable: dict[str, str] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules + self.deprecated if rule.id == rule_id), None)


def builtin_rules_dir() -> Path:
    return Path(str(resources.files("nnunet_doctor.rules")))


def builtin_vocabulary_dir() -> Path:
    return Path(str(resources.files("nnunet_doctor.probes"))) / "vocabulary"


def site_rule_dirs(extra: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None) -> list[Path]:
    environ = os.environ if environ is None else environ
    dirs = [Path(d) for d in extra]
    dirs += [Path(part) for part in environ.get(SITE_RULES_ENV, "").split(os.pathsep) if part.strip()]
    return dirs
