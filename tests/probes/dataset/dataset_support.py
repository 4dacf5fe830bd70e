"""Helpers for the dataset, preprocessed and results probe tests: nnU-Net's three folders in a temporary folder, a
private cache, and ways to read a diagnosis."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from nnunet_doctor.engine.diagnosis import Diagnosis
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis

DATASET_PROBES = {"log", "dataset", "preprocessed", "results"}


class Roots:
    """nnUNet_raw / nnUNet_preprocessed / nnUNet_results under one temporary folder."""

    def __init__(self, base: Path):
        self.base = base
        self.raw, self.preprocessed, self.results = base / "raw", base / "preprocessed", base / "results"
        for folder in (self.raw, self.preprocessed, self.results):
            folder.mkdir(parents=True, exist_ok=True)
        self.cache = base / "cache"

    @property
    def environ(self) -> dict[str, str]:
        return {"nnUNet_raw": str(self.raw), "nnUNet_preprocessed": str(self.preprocessed),
                "nnUNet_results": str(self.results), "NNUNET_DOCTOR_CACHE": str(self.cache), "HOME": str(self.base),
                "PATH": os.environ.get("PATH", "")}

    def diagnose(self, dataset: str | None, log: str = "", facts: dict[str, Any] | None = None,
                 results: Path | None = None, **options: Any) -> Diagnosis:
        request = DiagnosisRequest(log_texts={"test.log": log} if log else {}, dataset=dataset, results=results,
                                   offline=True, environ=self.environ, facts=dict(facts or {}),
                                   probes=DATASET_PROBES, options={"jobs": 1, **options})
        return run_diagnosis(request).diagnosis


def tree_digest(*folders: Path) -> str:
    """A hash of every path, size, mtime and content below the folders (to prove nothing was written)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            stat = path.lstat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{path.is_dir()}".encode())
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def fact(diagnosis: Diagnosis, name: str) -> Any:
    found = diagnosis.facts.get(name)
    assert found is not None, f"fact {name} was not established"
    return found.value


def records(diagnosis: Diagnosis, name: str) -> list[dict[str, Any]]:
    return [dict(record.fields) for record in fact(diagnosis, name)]


def ranking(diagnosis: Diagnosis) -> list[tuple[str, float]]:
    return [(cause.cause, round(cause.certainty, 2)) for cause in diagnosis.causes]
