"""The inference engine: vocabulary, rule loading, conditions, forward chaining, certainty, diagnosis."""
from .certainty import ALGEBRAS, certainty_band
from .diagnosis import Diagnosis, Evidence, Finding, RankedCause, UnknownThatMattered, diagnose
from .errors import DoctorError, InputError, Location, RuleLoadError, RuleProblem
from .facts import Fact, FactBase, Provenance, Record, Unknown
from .loader import RulePack, load_default_pack, load_rule_pack

__all__ = [
    "ALGEBRAS", "Diagnosis", "DoctorError", "Evidence", "Fact", "FactBase", "Finding", "InputError", "Location",
    "Provenance", "RankedCause", "Record", "RuleLoadError", "RulePack", "RuleProblem", "Unknown",
    "UnknownThatMattered", "certainty_band", "diagnose", "load_default_pack", "load_rule_pack",
]
