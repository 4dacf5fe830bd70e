"""diagnose rules migrate: an old-format rule file becomes the short format, loads to the same rules, and a second
run changes nothing; the one-line tests (fire: / quiet:) load like the long ones."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nnunet_doctor.cli import main
from nnunet_doctor.engine.errors import RuleLoadError
from nnunet_doctor.engine.loader import load_rule_pack

OLD = """\
signatures:
  oom: {anchors: ["out of memory"]}
rules:
  - id: train.gpu_oom.site_old
    title: Old
    cause: train.gpu_oom   # as the id says
    phase: training
    severity: error
    certainty: 0.5
    status: stable
    when: match.oom
    fix: |
      {{ 'PYTORCH_CUDA_ALLOC_CONF' | set_var('expandable_segments:True', env.shell) }}
      nnUNetv2_train {{ run.dataset_id if run.dataset_id is number else 'DATASET_ID' }} 3d_fullres 0
      {{ env.shell | after_persist }}
    tests:
      - log: "RuntimeError: CUDA out of memory"
        expect: fire
      - facts: {gpu.count: 1}
        expect: quiet
      - expect: quiet
        log: "first key expect: left as it is"
      - name: named tests keep their long form
        log: |
          Epoch 3
          out of memory
        expect: fire
        evidence: [2]
"""

SHORT = """\
signatures:
  oom: {anchors: ["out of memory"]}
rules:
  - id: train.gpu_oom.site_old
    title: Old
    severity: error
    certainty: 0.5
    when: match.oom
    fix: |
      {{ set_var('PYTORCH_CUDA_ALLOC_CONF', 'expandable_segments:True') }}
      nnUNetv2_train {{ dataset_id() }} 3d_fullres 0
      {{ after_persist() }}
    tests:
      - fire: "RuntimeError: CUDA out of memory"
      - quiet: {gpu.count: 1}
      - expect: quiet
        log: "first key expect: left as it is"
      - name: named tests keep their long form
        log: |
          Epoch 3
          out of memory
        expect: fire
        evidence: [2]
"""


def _rule(folder: Path):
    rule = load_rule_pack([folder], builtin=False).rule("train.gpu_oom.site_old")
    return (rule.cause, rule.phase, rule.severity, rule.status,
            [(t.expect, t.log, dict(t.facts), t.evidence) for t in rule.tests])


def test_migrate_writes_the_short_form_that_loads_to_the_same_rule(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(OLD, encoding="utf-8")
    before = _rule(tmp_path)
    dry = CliRunner().invoke(main, ["rules", "migrate", "--rules", str(tmp_path), str(tmp_path)])
    assert dry.exit_code == 0 and "28 -> 23 lines (not written)" in dry.output and site.read_text() == OLD
    written = CliRunner().invoke(main, ["rules", "migrate", "--write", str(tmp_path)])  # the folder's rules load
    assert written.exit_code == 0, written.output
    assert site.read_text(encoding="utf-8") == SHORT
    assert _rule(tmp_path) == before
    again = CliRunner().invoke(main, ["rules", "migrate", "--rules", str(tmp_path), str(tmp_path)])
    assert again.output.strip() == "0 files to rewrite: 0 -> 0 lines"


@pytest.mark.parametrize(("test", "message"), [
    ('{fire: "x", expect: fire}', "'fire: <log or facts>' or 'expect:' with 'log'/'facts', not both ('expect')"),
    ("{quiet: [1, 2]}", "'quiet:' takes the test's log (text) or its facts"),
    ("{fire: {gpu.cont: 1}}", "gpu.cont"),
])
def test_a_short_test_that_cannot_be_read_is_located(tmp_path: Path, test: str, message: str) -> None:
    (tmp_path / "site.yaml").write_text(SHORT.replace('- fire: "RuntimeError: CUDA out of memory"', f"- {test}"),
                                        encoding="utf-8")
    with pytest.raises(RuleLoadError) as raised:
        load_rule_pack([tmp_path], builtin=False)
    assert message in raised.value.format() and "site.yaml:14:" in raised.value.format()
