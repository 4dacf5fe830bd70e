"""Evidence of a firing: the log lines and facts that made it fire, never an empty collection."""
from __future__ import annotations

from pathlib import Path

from nnunet_doctor.testing import diagnose_text

SITE_RULES = """
signatures:
  site_disk_fire:
    anchors: ["disk on fire"]
  site_disk_smoke:
    anchors: ["disk smokes"]
rules:
  - id: site.disk
    title: The disk burns
    cause: env.disk_full
    phase: environment
    severity: error
    certainty: 0.9
    status: stable
    when: match.site_disk_fire or match.site_disk_smoke
    fix: call the fire brigade
    tests:
      - log: "disk on fire"
        expect: fire
      - log: "disk fine"
        expect: quiet
"""


def test_an_alternative_that_matched_nothing_is_not_evidence(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE_RULES)
    [cause] = [c for c in diagnose_text("ok\ndisk on fire\n", rules=[tmp_path]).causes if c.cause == "env.disk_full"]
    assert [(e.kind, e.name, e.provenance.lines) for e in cause.evidence] == [("log", "match.site_disk_fire", (2, 2))]
