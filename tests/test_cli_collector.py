"""A command leaves the cyclic garbage collector as it found it: what start-up froze is handed back at the end."""
from __future__ import annotations

import gc
from pathlib import Path

from click.testing import CliRunner

from nnunet_doctor.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "paths_unset.log"


def test_an_in_process_command_freezes_nothing_for_good() -> None:
    assert gc.isenabled() and gc.get_freeze_count() == 0
    result = CliRunner().invoke(main, ["--log", str(EXAMPLE), "--offline", "--format", "json"])
    assert result.exit_code == 1 and gc.isenabled() and gc.get_freeze_count() == 0
    result = CliRunner().invoke(main, ["--log", str(EXAMPLE), "--offline", "--rules", str(EXAMPLE.parent / "none")])
    assert result.exit_code == 2 and gc.isenabled() and gc.get_freeze_count() == 0  # a failing start-up too
