"""Every built-in fix, rendered with hostile file and folder names, pasted line by line into a real bash: nothing
but the intended commands may run.

Each rule test that fires is run again with a payload planted in every name its input holds (file names and
folders in the log, string values of its facts). The rendered fix's command lines run in ``bash`` with every
command replaced by a harmless stand-in except ``touch``, which the payloads call: a file the payload names
appearing means the fix would have run code when pasted.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.testing import diagnose_text

#: payloads of each kind of shell injection; each creates a file named PWNED_<n> when it runs
PAYLOADS = ("$(touch${IFS}PWNED_1)", "`touch PWNED_2`", "\";touch PWNED_3;\"", "';touch PWNED_4;'",
            "${IFS}$(touch${IFS}PWNED_5)")
_NAME = re.compile(r"(?P<stem>[A-Za-z][\w-]*)(?P<ending>\.nii\.gz|\.json|\.pth|\.py|\.pkl|\.npz|\.b2nd|\.txt|\.png)\b")
_FOLDER = re.compile(r"(?<=/)(?P<folder>[A-Za-z][\w-]{2,})(?=/)")
#: words that start a command line in a fix
_COMMANDS = re.compile(r"^\s*(?:nnUNetv2_\w+|nnUNet_\w+|mv|cp|ls|df|du|find|python3?|pip|export|echo|set|setx|cd|mkdir"
                       r"|rm|ln|chmod|chown|cat|conda|nvidia-smi|sed|unzip|zip|tar|ulimit|source|srun|sbatch|docker"
                       r"|CUDA_VISIBLE_DEVICES=|nnUNet_\w+=)\b")
_STAND_INS = ("python", "python3", "pip", "ls", "df", "du", "find", "mv", "cp", "rm", "ln", "chmod", "chown", "cat",
              "conda", "nvidia-smi", "sed", "unzip", "zip", "tar", "mkdir", "setx", "srun", "sbatch", "docker", "dirname")


def _plant(value: Any, payload: str) -> Any:
    if isinstance(value, str):
        return _NAME.sub(lambda m: m.group("stem") + payload + m.group("ending"),
                         _FOLDER.sub(lambda m: m.group("folder") + payload, value)) if value else value
    if isinstance(value, dict):
        return {key: _plant(item, payload) for key, item in value.items()}
    if isinstance(value, list):
        return [_plant(item, payload) for item in value]
    return value


def _fixes() -> list[tuple[str, str]]:
    """(rule and payload, rendered fix) for every firing rule test with a payload planted."""
    pack = load_rule_pack()
    out = []
    for rule in sorted(pack.rules, key=lambda r: r.id):
        for test in rule.tests:
            if test.expect != "fire" or not rule.fix:
                continue
            for number, payload in enumerate(PAYLOADS, 1):
                log = _plant(test.log or "", payload)
                facts = _plant(dict(test.facts), payload)
                if log == (test.log or "") and facts == dict(test.facts):
                    continue  # no name to plant into
                diagnosis = diagnose_text(log, facts, pack=pack)
                for firing in diagnosis.chain.firings:
                    if firing.rule.id == rule.id and firing.fix:
                        out.append((f"{rule.id}#{number}", firing.fix))
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paste")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in _STAND_INS:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    touch = shutil.which("touch")
    assert touch is not None
    (bin_dir / "touch").symlink_to(touch)
    return root


def test_no_fix_runs_a_payload_when_pasted(sandbox: Path) -> None:
    fixes = _fixes()
    assert len(fixes) > 50  # the corpus reaches most fixes that show names
    environ = {"PATH": str(sandbox / "bin"), "HOME": str(sandbox), "IFS": " \t\n"}
    ran = []
    for origin, fix in fixes:
        work = sandbox / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for line in fix.splitlines():
            if not _COMMANDS.match(line) or "<withheld" in line:
                continue
            subprocess.run(["/bin/bash", "--norc", "--noprofile", "-c", line.strip().split("    #")[0]],
                           cwd=work, env=environ, capture_output=True, timeout=10)
            planted = [p.name for p in work.iterdir() if p.name.startswith("PWNED")]
            planted += [p.name for p in sandbox.iterdir() if p.name.startswith("PWNED")]
            if planted:
                ran.append(f"{origin}: {line.strip()}")
                for path in list(work.iterdir()) + list(sandbox.iterdir()):
                    if path.name.startswith("PWNED"):
                        path.unlink()
    assert ran == []
