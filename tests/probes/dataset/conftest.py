"""Fixtures for the dataset, preprocessed and results probe tests (helpers in dataset_support.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dataset_support import Roots  # noqa: E402


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return Roots(tmp_path)
