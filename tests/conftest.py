"""Fixtures shared by every test folder: a real folder this user cannot write into."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """Make a real folder this user cannot write into: mode 0555, or, for root (who ignores modes), immutable."""
    made: list[Path] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
        elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
            pass
        else:
            pytest.skip("running as root without chattr: no way to make a folder read-only")
        made.append(folder)
        assert not os.access(folder, os.W_OK)
        return folder

    yield make
    for folder in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)
