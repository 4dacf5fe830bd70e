"""The examples in the docstrings of the engine's modules (and of the modules that name its sources and formats) run."""
from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", [
    "nnunet_doctor.engine.certainty", "nnunet_doctor.engine.sources", "nnunet_doctor.engine.facts",
    "nnunet_doctor.engine.shell_syntax", "nnunet_doctor.engine.fix_templates", "nnunet_doctor.engine.validators",
    "nnunet_doctor.output", "nnunet_doctor.probes.base"])
def test_the_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
