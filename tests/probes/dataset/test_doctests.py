"""The samples in the docstrings of the dataset probes run as doctests (they show real inputs and outputs)."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["dataset_json", "layout", "headers", "measure", "cache", "progress", "consistency", "cases", "locate",
           "vram", "content", "profiles", "inputs"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_samples_hold(name: str) -> None:
    module = importlib.import_module(f"nnunet_doctor.probes.dataset.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no sample"
    assert result.failed == 0
