"""The examples in the docstrings of the environment, GPU, bundle and redaction modules run as written."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("nnunet_doctor.probes.gpu", "nnunet_doctor.engine.shell_syntax", "nnunet_doctor.redaction",
           "nnunet_doctor.bundle", "nnunet_doctor.inputs", "nnunet_doctor.probes.extras")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
