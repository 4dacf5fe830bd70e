"""The environment probe: nnU-Net's variables in the shell that runs diagnose.

Only an allow-list of variables is read: the values of any other variable are never collected.

Sample: with ``nnUNet_raw=/data/raw`` set and the two others unset, it establishes
``env.nnUNet_raw = "/data/raw"`` and ``env.unset_path_variables = ["nnUNet_preprocessed", "nnUNet_results"]``.
"""
from __future__ import annotations

from typing import ClassVar

from .base import FactSink, ProbeContext

PATH_VARIABLES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
V1_VARIABLES = ("nnUNet_raw_data_base", "RESULTS_FOLDER")


class EnvironmentProbe:
    name: ClassVar[str] = "environment"
    needs: ClassVar[str] = "machine"
    description: ClassVar[str] = "reads nnU-Net's environment variables in this shell"

    def collect(self, context: ProbeContext, sink: FactSink) -> None:
        environ = context.environ
        for variable in PATH_VARIABLES + V1_VARIABLES:
            value = environ.get(variable)
            if value:
                sink.add(f"env.{variable}", value, detail=f"${variable}")
        sink.add("env.unset_path_variables", [v for v in PATH_VARIABLES if not environ.get(v)])
