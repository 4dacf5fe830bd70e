"""Optional dependencies of the probes, and the extra of nnunet-doctor that installs them.

A light install (``pip install nnunet-doctor``, for a support desk that only reads pasted logs) has none of
numpy, nibabel, SimpleITK, torch or nnunetv2. A probe that needs one asks :func:`missing` first and, when
something is missing, leaves its facts unknown with :func:`unavailable` as the reason: the user's data or
installation is never blamed for what the tool itself lacks.

>>> missing("json", "nnunet_doctor_no_such_module")
['nnunet_doctor_no_such_module']
>>> unavailable(["numpy"], "voxel checks")
"voxel checks need numpy, which this installation of nnunet-doctor lacks: pip install 'nnunet-doctor[probes]'"
"""
from __future__ import annotations

import importlib.util

#: the extra of nnunet-doctor (pyproject.toml) that installs what the probes of data and machines import
EXTRA = "probes"


def missing(*modules: str) -> list[str]:
    """The modules of ``modules`` that cannot be found (nothing is imported)."""
    absent = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(module)
    return absent


def unavailable(modules: list[str], what: str) -> str:
    return (f"{what} need{'s' if what.endswith('check') else ''} {', '.join(modules)}, which this installation of "
            f"nnunet-doctor lacks: pip install 'nnunet-doctor[{EXTRA}]'")
