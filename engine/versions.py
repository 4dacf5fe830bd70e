"""Version numbers and version ranges (the subset of PEP 440 that package metadata uses).

>>> Version("2.13.0+cpu") >= Version("2.6")
True
>>> VersionRange(">=2.1.2,!=2.9.*").contains("2.9.1")
False
>>> VersionRange(">=2.1.2,!=2.9.*").contains("2.10.0")
True
"""
from __future__ import annotations

import re

from msgspec import Struct

from .patterns import regex

_VERSION = re.compile(
    r"^\s*v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|rc|alpha|beta|c)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?post[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?"
    r"(?:\+(?P<local>[A-Za-z0-9.]+))?\s*$",
    re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2}


class VersionError(ValueError):
    pass


class Version(Struct, frozen=True):
    text: str

    def __post_init__(self) -> None:
        if _VERSION.match(self.text) is None:
            raise VersionError(f"not a version number: {self.text!r}")

    @property
    def release(self) -> tuple[int, ...]:
        match = _VERSION.match(self.text)
        assert match is not None
        return tuple(int(part) for part in match.group("release").split("."))

    def _key(self) -> tuple[object, ...]:
        match = _VERSION.match(self.text)
        assert match is not None
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        pre = match.group("pre")
        dev = match.group("dev")
        post = match.group("post")
        # dev < pre < final < post
        if pre is not None:
            stage = (1, _PRE_ORDER[pre.lower()], int(match.group("pre_n") or 0))
        elif dev is not None and post is None:
            stage = (0, 0, 0)
        else:
            stage = (2, 0, 0)
        return (tuple(release), stage, int(post or 0) if post is not None else -1,
                int(dev or 0) if dev is not None else 1 << 30)

    def __lt__(self, other: object) -> bool:
        return self._key() < _as_version(other)._key()

    def __le__(self, other: object) -> bool:
        return self._key() <= _as_version(other)._key()

    def __gt__(self, other: object) -> bool:
        return self._key() > _as_version(other)._key()

    def __ge__(self, other: object) -> bool:
        return self._key() >= _as_version(other)._key()

    def __eq__(self, other: object) -> bool:
        try:
            other_version = _as_version(other)
        except VersionError:
            return False
        return self._key() == other_version._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


def _as_version(value: object) -> Version:
    if isinstance(value, Version):
        return value
    if isinstance(value, (str, int, float)):
        return Version(str(value))
    raise VersionError(f"cannot compare a version with {type(value).__name__}")


_CLAUSE = r"^\s*(===|==|!=|<=|>=|~=|<|>)\s*([^\s,]+)\s*$"


class VersionRange(Struct, frozen=True):
    """A comma-separated list of clauses, all of which must hold: ``>=2.1.2,!=2.9.*,<3``."""

    text: str

    def __post_init__(self) -> None:
        for clause in self._clauses():
            match = regex(_CLAUSE).match(clause)
            if match is None:
                raise VersionError(f"not a version clause: {clause!r}")
            Version(match.group(2).rstrip(".*") or "0")

    def _clauses(self) -> list[str]:
        return [part for part in self.text.split(",") if part.strip()]

    def contains(self, version: str | Version) -> bool:
        candidate = _as_version(version)
        for clause in self._clauses():
            match = regex(_CLAUSE).match(clause)
            assert match is not None
            operator, bound_text = match.groups()
            if bound_text.endswith(".*"):
                prefix = Version(bound_text[:-2]).release
                same = candidate.release[: len(prefix)] == prefix
                if (operator == "==" and not same) or (operator == "!=" and same):
                    return False
                continue
            bound = Version(bound_text)
            if operator == "~=":
                upper = list(bound.release[:-1]) or [bound.release[0]]
                upper[-1] += 1
                ok = candidate >= bound and candidate < Version(".".join(map(str, upper)))
            else:
                ok = {
                    "==": candidate == bound, "===": str(candidate) == str(bound), "!=": candidate != bound,
                    "<=": candidate <= bound, ">=": candidate >= bound, "<": candidate < bound, ">": candidate > bound,
                }[operator]
            if not ok:
                return False
        return True

    def __str__(self) -> str:
        return self.text
