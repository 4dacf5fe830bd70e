"""A rule pack read back from the cache diagnoses as the pack just built: same rules, and signatures whose
patterns (saved as their source, compiled on first use) recognise the same lines."""
from __future__ import annotations

from pathlib import Path

from nnunet_doctor.engine.pack_cache import load_cached_pack
from nnunet_doctor.engine.patterns import _compile
from nnunet_doctor.pipeline import DiagnosisRequest, run_diagnosis

LOG = """Traceback (most recent call last):
  File "/home/u/venv/lib/python3.11/site-packages/nnunetv2/run/run_training.py", line 53, in run_training
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB
"""


def _ranking(pack: object) -> list[tuple[str, float]]:
    result = run_diagnosis(DiagnosisRequest(log_texts={"pasted.log": LOG}, offline=True, probes={"log"}), pack)  # type: ignore[arg-type]
    return [(cause.cause, cause.certainty) for cause in result.diagnosis.causes]


def test_the_cached_pack_ranks_like_the_built_one(tmp_path: Path) -> None:
    environ = {"NNUNET_DOCTOR_CACHE": str(tmp_path)}
    built = load_cached_pack([], environ)
    [stored] = tmp_path.glob("rulepack-*")
    _compile.cache_clear()
    cached = load_cached_pack([], environ)
    assert cached is not built and [r.id for r in cached.rules] == [r.id for r in built.rules]
    assert _compile.cache_info().currsize == 0, \
        "a pack read from the cache compiles its signatures' patterns on first use (start-up, docs/performance.md)"
    assert _ranking(cached) == _ranking(built) and _ranking(built)[0][0] == "train.gpu_oom"
    assert stored.exists()
