"""Regular expressions from rules cannot hang the tool."""
from __future__ import annotations

import pickle
import time

import pytest

from nnunet_doctor.engine.patterns import ENGINE, PatternError, _compile, compile_guarded

CATASTROPHIC = [r"^(a+)+$", r"^(a|aa)+$", r"^(\w+\s?)*$"]


def test_re2_is_the_engine_in_use() -> None:
    assert ENGINE == "re2"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    subject = "a" * 100_000 + "!"
    started = time.perf_counter()
    assert compile_guarded(pattern).search(subject) is None
    # Python's re needs longer than the age of the universe for this subject; RE2 is linear.
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("pattern", CATASTROPHIC + [r"(a)\1"])
def test_the_fallback_engine_refuses_patterns_that_could_backtrack(pattern: str) -> None:
    with pytest.raises(PatternError, match="catastrophically|backreferences|invalid"):
        compile_guarded(pattern, engine="re")


def test_the_fallback_engine_accepts_ordinary_patterns() -> None:
    pattern = compile_guarded(r"Tried to allocate (?P<tried>[\d.]+) (?P<unit>[KMGT]iB)", engine="re")
    assert pattern.search("Tried to allocate 1.17 GiB").groupdict() == {"tried": "1.17", "unit": "GiB"}


def test_re2_rejects_lookaround_with_the_reason() -> None:
    with pytest.raises(PatternError, match="invalid perl operator"):
        compile_guarded(r"(?<=x)y")


def test_case_insensitive() -> None:
    assert compile_guarded("killed", ignore_case=True).search("Process KILLED") is not None


@pytest.mark.parametrize("engine", ["re2", "re"])
def test_a_saved_pattern_is_its_source_and_compiles_on_first_use(engine: str) -> None:
    pattern = compile_guarded(r"(?P<what>KILLED) by", ignore_case=True, engine=engine)
    _compile.cache_clear()
    restored = pickle.loads(pickle.dumps(pattern))
    assert restored == pattern and _compile.cache_info().currsize == 0  # nothing compiled while the rule pack loads
    assert restored.search("process killed by the OOM killer").groupdict() == {"what": "killed"}
    assert restored.group_names == ("what",) and _compile.cache_info().currsize == 1
