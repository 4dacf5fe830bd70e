"""Compiled report and fix templates kept in the private cache folder: the same report and fixes from cached
templates, and an entry another user could have written never read."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from nnunet_doctor.engine.pack_cache import template_cache

LOG = Path(__file__).resolve().parents[1] / "examples" / "paths_unset.log"


def _terminal(cache: Path, *options: str) -> str:
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", str(LOG), "--offline", "--width", "100",
                           *options],
                          capture_output=True, text=True, env={**os.environ, "NNUNET_DOCTOR_CACHE": str(cache)})
    assert done.returncode == 1, done.stderr
    return done.stdout


def test_a_cached_template_lays_out_the_same_report(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = _terminal(cache)
    entries = list((cache / "templates-text").glob("__jinja2_*.cache"))
    assert entries and all(entry.stat().st_mode & 0o077 == 0 for entry in entries)
    assert _terminal(cache) == fresh


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="no user ids")
def test_an_entry_others_could_write_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNUNET_DOCTOR_CACHE", str(tmp_path / "cache"))
    cache = template_cache("text")
    env = jinja2.Environment(bytecode_cache=cache, loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}))
    assert env.get_template("t").render() == "2"  # compiled and stored
    bucket = cache.get_bucket(env, "t", None, "{{ 1 + 1 }}")
    assert bucket.code is not None  # read back: the entry is private
    entry = next((tmp_path / "cache" / "templates-text").glob("__jinja2_*.cache"))
    entry.chmod(0o666)
    assert cache.get_bucket(env, "t", None, "{{ 1 + 1 }}").code is None
    (tmp_path / "cache").chmod(0o777)
    monkeypatch.setenv("NNUNET_DOCTOR_CACHE", str(tmp_path / "cache"))
    assert template_cache("text") is None  # a folder others can write: no cache at all


def test_cached_fixes_render_the_same_fixes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = _terminal(cache, "-v")
    entries = list((cache / "templates-fixes").glob("__jinja2_*.cache"))
    assert entries and all(entry.stat().st_mode & 0o077 == 0 for entry in entries)
    assert "nnUNet_raw" in fresh and _terminal(cache, "-v") == fresh
