"""The compiled rule-pack cache: reused while the sources are unchanged, rebuilt when one changes, optional."""
from __future__ import annotations

import os
from pathlib import Path

from nnunet_doctor.engine.pack import RulePack
from nnunet_doctor.engine.loader import load_rule_pack
from nnunet_doctor.engine.pack_cache import cache_dir, load_cached_pack

SITE_RULE = """
rules:
  - id: site.my_rule
    title: A site rule
    cause: env.disk_full
    phase: environment
    severity: error
    certainty: {certainty}
    status: stable
    when: match.site_disk
    fix: free some space
    signatures:
      site_disk:
        anchors: ["disk on fire"]
    tests:
      - log: "disk on fire"
        expect: fire
      - log: "disk fine"
        expect: quiet
"""


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, sites: list[Path]) -> RulePack:
        self.calls += 1
        return load_rule_pack(sites)


def test_the_pack_is_built_once_then_read_from_the_cache(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "mine.yaml").write_text(SITE_RULE.format(certainty=0.5))
    environ = {"NNUNET_DOCTOR_CACHE": str(tmp_path / "cache")}
    load = CountingLoader()
    first = load_cached_pack([site], environ, load)
    second = load_cached_pack([site], environ, load)
    assert load.calls == 1 and second.rule("site.my_rule") is not None
    assert second.rule("site.my_rule").certainty == first.rule("site.my_rule").certainty == 0.5
    (site / "mine.yaml").write_text(SITE_RULE.format(certainty=0.75))
    os.utime(site / "mine.yaml", ns=(1, 10**18))
    third = load_cached_pack([site], environ, load)
    assert load.calls == 2 and third.rule("site.my_rule").certainty == 0.75
    assert len(list((tmp_path / "cache").glob("rulepack-*.pickle"))) == 2  # the older one kept (see prune)


def test_the_cache_can_be_turned_off_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    assert cache_dir({"NNUNET_DOCTOR_CACHE": "off"}) is None
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "nnunet-doctor"
    load = CountingLoader()
    load_cached_pack([], {"NNUNET_DOCTOR_CACHE": "off"}, load)
    load_cached_pack([], {"NNUNET_DOCTOR_CACHE": "off"}, load)
    assert load.calls == 2
    cache = tmp_path / "cache"
    load_cached_pack([], {"NNUNET_DOCTOR_CACHE": str(cache)}, load)
    [pickle_file] = cache.glob("rulepack-*.pickle")
    pickle_file.write_bytes(b"not a pickle")
    assert load_cached_pack([], {"NNUNET_DOCTOR_CACHE": str(cache)}, load).rules and load.calls == 4


def test_an_unwritable_cache_folder_does_not_stop_a_diagnosis(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert load_cached_pack([], {"NNUNET_DOCTOR_CACHE": str(blocked / "cache")}).rules


class _Payload:
    """What an attacker would write into a cache folder they can write: unpickling it runs a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return os.system, (f"touch {self.marker}",)


def _plant(folder: Path, marker: Path) -> Path:
    import pickle

    from nnunet_doctor.engine.pack_cache import pack_key

    folder.mkdir(exist_ok=True)
    planted = folder / f"rulepack-{pack_key([])}.pickle"
    planted.write_bytes(pickle.dumps(_Payload(marker)))
    return planted


def test_a_cache_others_can_write_is_never_unpickled(tmp_path: Path) -> None:
    """Whoever can write the cache folder or file would run code in the next ``diagnose``: such a cache is neither
    read nor written; the pack is built from the rule files."""
    if not hasattr(os, "geteuid"):
        return
    marker = tmp_path / "PWNED"
    shared = tmp_path / "shared"
    _plant(shared, marker)
    shared.chmod(0o777)
    assert isinstance(load_cached_pack(environ={"NNUNET_DOCTOR_CACHE": str(shared)}), RulePack)
    assert not marker.exists()

    private_folder = tmp_path / "private"
    planted = _plant(private_folder, marker)
    private_folder.chmod(0o700)
    planted.chmod(0o666)  # a file others may write, in the user's own folder
    assert isinstance(load_cached_pack(environ={"NNUNET_DOCTOR_CACHE": str(private_folder)}), RulePack)
    assert not marker.exists()
    if os.geteuid() == 0:  # root can give the file to another user: it is not read either
        planted = _plant(private_folder, marker)
        planted.chmod(0o600)
        os.chown(planted, 12345, 12345)
        assert isinstance(load_cached_pack(environ={"NNUNET_DOCTOR_CACHE": str(private_folder)}), RulePack)
        assert not marker.exists()


def test_two_installs_keep_their_own_packs(tmp_path: Path) -> None:
    """Two rule packs (two environments, a checkout and a release) used to evict each other on every run."""
    from nnunet_doctor.engine.pack_cache import KEPT_ENTRIES, prune

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for number in range(KEPT_ENTRIES + 2):
        prune(folder, "rulepack-*.pickle")
        entry = folder / f"rulepack-{number}.pickle"
        entry.write_bytes(b"")
        os.utime(entry, (number, number))
    assert sorted(p.name for p in folder.iterdir()) == [f"rulepack-{n}.pickle" for n in range(2, KEPT_ENTRIES + 2)]
