"""``diagnose batch``: a folder of tickets in, one JSON line per input out."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from nnunet_doctor.cli import main

REAL_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "real"


def test_a_folder_of_tickets(tmp_path: Path, make_bundle: Any) -> None:
    tickets = tmp_path / "tickets"
    (tickets / "t2" / "fold_0").mkdir(parents=True)
    shutil.copy(REAL_LOGS / "plan_paths_unset.log", tickets / "t1.log")
    shutil.copy(REAL_LOGS / "train_val_unfinished.log", tickets / "t2" / "fold_0" / "training_log_2025_3_5_09_07_01.txt")
    (tickets / "t3.log.gz").write_bytes(gzip.compress((REAL_LOGS / "verify_labels_255.log").read_bytes()))
    (tickets / "t4.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    make_bundle(REAL_LOGS / "train_worker_killed.log", tickets / "t5.json")
    (tickets / "t6.json").write_text('{"schema": "nnunet-doctor/bundle", "schema_version": 1, "facts": [', "utf-8")
    result = CliRunner().invoke(main, ["batch", str(tickets)], catch_exceptions=False)
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    outcome = {Path(line["input"]).relative_to(tickets).as_posix(): line["report"]["summary"]["top"]
               if "report" in line else line["error"] for line in lines}
    assert outcome == {
        "t1.log": "env.paths_unset",
        "t2/fold_0": "train.checkpoint_problem",
        "t3.log.gz": "data.labels_unexpected",
        "t4.png": f"{tickets / 't4.png'}: a binary file, not a log",
        "t5.json": "sys.ram_exhausted",
        "t6.json": f"{tickets / 't6.json'}: not JSON: Expecting value: line 1 column 67 (char 66)",
    }
    assert "diagnose batch: 4 diagnosed, 2 not readable" in result.stderr


def test_inputs_listed_on_standard_input(tmp_path: Path) -> None:
    listing = f"{REAL_LOGS / 'train_labels_255.log'}\n\n{REAL_LOGS / 'plan_planner_typo.log'}\n"
    result = CliRunner().invoke(main, ["batch", "--from", "-", "--top", "1"], input=listing, catch_exceptions=False)
    assert result.exit_code == 0
    reports = [json.loads(line)["report"] for line in result.stdout.splitlines()]
    assert [(r["summary"]["top"], r["summary"]["shown"]) for r in reports] == [("data.labels_unexpected", 1),
                                                                              ("install.trainer_not_found", 1)]
