"""Hostile site rule files: each is refused with file:line:col (exit 2) within its bound, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LAUGHS = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *[f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdef", "bcdefg")],
    "rules: *g"])
CASES = {
    "billion_laughs": (LAUGHS, "the document expands to more than"),
    "mapping_cause": ("rules:\n  - id: site.x.y\n    title: t\n    cause: {x: 1}\n    severity: error\n"
                      "    certainty: 0.5\n    when: 'true'\n    fix: x\n", "'cause' must be a cause id"),
    "endless_condition": ("rules:\n  - id: train.gpu_oom.chain\n    title: t\n    severity: error\n    certainty: 0.5\n"
                          "    fix: x\n    when: \"" + " and ".join(["log.os == 'linux'"] * 5000) + "\"\n",
                          "longer than 4000 characters"),
    "deep_yaml": ("rules: " + "[" * 20000 + "]" * 20000 + "\n", "nesting depth"),
    "unknown_filter": ("rules:\n  - id: train.gpu_oom.site_filter\n    title: t\n    severity: error\n"
                       "    certainty: 0.5\n    when: 'true'\n    fix: \"mv {{ 'a' | basename }} b\"\n",
                       "'fix' template: No filter named 'basename'."),
    "constant_folded_width": ("rules:\n  - id: train.gpu_oom.site_width\n    title: t\n    severity: error\n"
                              "    certainty: 0.5\n    when: 'true'\n    fix: \"{{ 'x' | center(99999999999) }} {{ x | y }}\"\n",
                              "No filter named 'y'"),
}
#: fixes that would run for ever or fill memory: each stops at its bound with the rule's error, at render time
ENDLESS_FIXES = {
    "nested ranges": "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
    "string product": "{{ 'x' * 10**9 }}",
    "list product": "{{ [0] * 10**8 }}",
    "power": "{{ 2 ** 99999999 }}",
    "width filter": "{{ 'x' | center(10**9) }}",
    "format width": "{{ '%0999999999d' % 1 }}",
    "format filter width": "{{ '%0999999999d' | format(1) }}",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_rule_file_is_refused_with_its_place(tmp_path: Path, name: str) -> None:
    text, message = CASES[name]
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "rules", "check", "--rules", str(folder)],
                          capture_output=True, text=True, timeout=120, env={"NNUNET_DOCTOR_CACHE": "off",
                                                                           "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"{folder / name}.yaml:" in done.stderr and message in done.stderr


@pytest.mark.parametrize("name", sorted(ENDLESS_FIXES))
def test_a_fix_is_rendered_within_its_bounds(name: str) -> None:
    from jinja2.sandbox import SecurityError

    from nnunet_doctor.engine.facts import FactBase
    from nnunet_doctor.engine.fix_templates import check_syntax, render_fix

    assert check_syntax(ENDLESS_FIXES[name]) is None  # it compiles (nothing folded at compile time runs away)
    with pytest.raises(SecurityError):
        render_fix(ENDLESS_FIXES[name], FactBase())


def test_bounded_fixes_still_loop_and_format() -> None:
    from nnunet_doctor.engine.facts import FactBase
    from nnunet_doctor.engine.fix_templates import render_fix

    text = render_fix("{% for i in range(3) %}{{ i }}{{ ',' if not loop.last }}{% endfor %} {{ 'ab' * 2 }} "
                      "{{ 2 ** 10 }} {{ '%05d' % 3 }} [{{ 'x' | center(3) }}]", FactBase())
    assert text == "0,1,2 abab 1024 00003 [ x ]"


def test_a_site_rule_whose_fix_loops_for_ever_does_not_hang_diagnose(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "loop.yaml").write_text("rules:\n  - id: train.gpu_oom.site_loop\n    title: t\n    severity: error\n"
                                      "    certainty: 0.5\n    when: 'true'\n    fix: \"" + ENDLESS_FIXES["nested ranges"]
                                      + "\"\n", encoding="utf-8")
    (tmp_path / "e.log").write_text("Epoch 1\n", encoding="utf-8")
    # no cache, then a cache folder twice: the second run renders the fix from its compiled code in the cache, where
    # the loops must still draw from the budget
    for cache in ("off", str(tmp_path / "cache"), str(tmp_path / "cache")):
        done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", str(tmp_path / "e.log"), "--offline",
                               "--rules", str(folder)], capture_output=True, text=True, timeout=120,
                              env={"NNUNET_DOCTOR_CACHE": cache, "PATH": "/usr/bin:/bin"})
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert "rule train.gpu_oom.site_loop: SecurityError: the fix's loops ran more than 100,000 times" \
            in done.stdout
    assert len(list((tmp_path / "cache" / "templates-fixes").glob("__jinja2_*.cache"))) == 1


# -- property-based: any YAML, any bytes -------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_KEYS = ["id", "title", "cause", "phase", "severity", "certainty", "status", "when", "fix", "signatures", "tests",
         "for", "then", "references", "anchors", "regex", "log", "expect", "facts", "x"]
_SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True)
            | st.sampled_from(["train.gpu_oom", "site.a.b", "error", "0.5", "match.cuda_oom", "log.os == 'linux'",
                               "{{ x }}", "{% for i in range(9) %}{% endfor %}", "{{ x | nope }}", "(", "*a", "&a"])
            | st.text(max_size=30))
_VALUES = st.recursive(_SCALARS, lambda children: st.lists(children, max_size=4)
                       | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), children, max_size=5),
                       max_leaves=25)


def _load(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from nnunet_doctor.engine.errors import RuleLoadError
    from nnunet_doctor.engine.loader import load_rule_pack

    folder = tmp_path_factory.mktemp("site")
    (folder / "site.yaml").write_bytes(data)
    try:
        load_rule_pack([folder], builtin=False)
    except RuleLoadError as exc:
        assert exc.problems and all(str(p.location).startswith(str(folder)) for p in exc.problems)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["rules", "signatures", "facts", "version", "x"]),
                       st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=9), max_size=3) | _VALUES,
                       max_size=3))
def test_any_yaml_document_is_a_rule_pack_or_located_problems(tmp_path_factory: pytest.TempPathFactory,
                                                               document: dict) -> None:
    import yaml

    _load(tmp_path_factory, yaml.safe_dump(document, allow_unicode=True).encode("utf-8"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=512) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_rule_file_are_located_problems(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _load(tmp_path_factory, data)
