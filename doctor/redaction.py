"""Redaction: what identifies a person or a machine is replaced by consistent pseudonyms before it leaves.

Replaced: the user's name and home folder, host names, IP addresses, secrets (values of this shell's
variables whose names say TOKEN, SECRET, KEY, PASSWORD...; well-known token formats; credentials in URLs),
dataset names and case identifiers in file names (they may name patients), and any term the user adds.
Pseudonyms keep nnU-Net's naming grammar, so the rules still work on the redacted text: the same original
always gets the same pseudonym, ``Dataset003_Liver`` becomes ``Dataset003_Name1`` and
``imagesTr/Smith_John_0000.nii.gz`` and ``labelsTr/Smith_John.nii.gz`` become ``case_0001_0000.nii.gz`` and
``case_0001.nii.gz``. :meth:`Redactor.leaks` is the final scan: a writer refuses its output when it finds
anything the redactor should have replaced.

>>> redactor = Redactor(Sensitive(users={"jdoe"}, homes={"/home/jdoe"}, hosts={"gpu-node-17"}))
>>> redactor.text("/home/jdoe/nnUNet_raw/Dataset003_Liver/imagesTr/SMITH-J_0000.nii.gz on gpu-node-17")
'/home/user/nnUNet_raw/Dataset003_Name1/imagesTr/case_0001_0000.nii.gz on host1'
>>> redactor.leaks("log of jdoe")
['user name']
"""
from __future__ import annotations

import getpass
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from nnunet_doctor.engine.errors import DoctorError

#: account names that name nobody: never treated as personal (replacing "root" would mangle "root exception")
GENERIC_ACCOUNTS = frozenset({"root", "user", "admin", "ubuntu", "jovyan", "runner", "nobody", "docker", "vscode",
                              "localhost", "localhost.localdomain"})
#: variable names whose values are secrets (their values are looked for, never collected)
SECRET_NAME = re.compile(r"(?i)token|secret|passw|api_?key|access_?key|private_?key|credential|auth|session|cookie")
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})\b"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*"
    r"|(?i:(?:password|passwd|pwd|token|secret|api_?key)\s*[=:]\s*)[^\s'\",;]{4,}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
                   r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![\w:])")
_NOT_PERSONAL_IPS = frozenset({"127.0.0.1", "0.0.0.0", "255.255.255.255", "::1"})
_DATASET = re.compile(r"\b(?P<kind>Dataset|Task)(?P<id>\d{2,3})_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9])")
_ENDINGS = r"\.nii\.gz|\.nii|\.nrrd|\.mha|\.mhd|\.tiff?|\.png|\.jpe?g|\.bmp|\.b2nd|\.npz|\.npy|\.pkl|\.dcm"
_IMAGE_FILE = re.compile(rf"(?P<folder>(?:^|[/\\])(?P<parent>[^/\\\s'\"]+)[/\\])?(?P<stem>[^/\\\s'\",:;()\[\]]+?)"
                         rf"(?P<ending>{_ENDINGS})(?!\w|\.\w)")
_CHANNEL = re.compile(r"^(?P<case>.+?)(?P<suffix>_\d{4}|_seg)$")
#: identifiers that name no one: case_0001, 0001, img12, patient_003 (kept as they are)
_GENERIC_ID = re.compile(r"^(?:case|img|image|label|seg|patient|sample|subject|s)?[_-]?\d{1,5}$", re.IGNORECASE)
_PSEUDO_CASE = re.compile(r"^case_(\d{4})$")


@dataclass
class Sensitive:
    """What must not leave the machine, as found on it (values are only compared, never written)."""

    users: set[str] = field(default_factory=set)
    homes: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    secrets: dict[str, str] = field(default_factory=dict)  # value -> the variable it came from
    terms: set[str] = field(default_factory=set)

    @classmethod
    def of_this_machine(cls, environ: Mapping[str, str], terms: Iterable[str] = ()) -> "Sensitive":
        users = {environ.get(name, "") for name in ("USER", "LOGNAME", "USERNAME")}
        try:
            users.add(getpass.getuser())
        except (KeyError, OSError):  # no passwd entry (some containers)
            pass
        homes = {environ.get("HOME", ""), environ.get("USERPROFILE", ""), str(Path.home())}
        hostname = socket.gethostname()
        hosts = {hostname, hostname.split(".")[0], environ.get("HOSTNAME", ""), environ.get("COMPUTERNAME", "")}
        secrets = {value: name for name, value in environ.items() if SECRET_NAME.search(name) and len(value) >= 6}
        return cls({u for u in users if u and u.lower() not in GENERIC_ACCOUNTS},
                   {h.rstrip("/\\") for h in homes if len(h.rstrip("/\\")) > 1 and Path(h).name.lower() not in GENERIC_ACCOUNTS},
                   {h for h in hosts if len(h) >= 3 and h.lower() not in GENERIC_ACCOUNTS},
                   secrets, {t for t in terms if t.strip()})


def _word(value: str, ignore_case: bool = True) -> re.Pattern[str]:
    """``value`` as a whole word: not inside a longer name (letters and digits around it)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", re.IGNORECASE if ignore_case else 0)


def _home_pseudonym(home: str) -> str:
    if "\\" in home or re.match(r"^[A-Za-z]:", home):
        return "C:\\Users\\user"
    return "/Users/user" if home.startswith("/Users/") else "/home/user"


class Redactor:
    """Replaces what :class:`Sensitive` names, and what it learns from the text, by consistent pseudonyms."""

    def __init__(self, sensitive: Sensitive):
        self.sensitive = sensitive
        self.datasets: dict[str, str] = {}  # "Dataset003_Liver" -> "Dataset003_Name1"
        self.cases: dict[str, str] = {}  # "Smith_John" -> "case_0001"
        self.ips: dict[str, str] = {}
        self._kept_case_numbers: set[int] = set()
        self._case_ids: list[str] = []  # in the order first seen; numbered by _assign_cases
        self.replaced: Counter[str] = Counter()
        self._home_patterns = [(re.compile(re.escape(home) + r"(?![A-Za-z0-9])", re.IGNORECASE if "\\" in home else 0),
                                _home_pseudonym(home)) for home in sorted(sensitive.homes, key=len, reverse=True)]
        self._user_patterns = [_word(user) for user in sorted(sensitive.users, key=len, reverse=True)]
        self._host_patterns = [_word(host) for host in sorted(sensitive.hosts, key=len, reverse=True)]
        self._case_pattern: re.Pattern[str] | None = None

    # -- learning ----------------------------------------------------------------------------------------
    def learn(self, text: str) -> None:
        """Register dataset names, case identifiers and IP addresses seen in ``text`` (before replacing)."""
        for match in _DATASET.finditer(text):
            original = match.group(0).rstrip(".")
            if original not in self.datasets:
                names = {v.split("_", 1)[1] for v in self.datasets.values()}
                self.datasets[original] = f"{match.group('kind')}{match.group('id')}_Name{len(names) + 1}"
        for match in _IMAGE_FILE.finditer(text):
            parent = (match.group("parent") or "").lower()
            stem = match.group("stem")
            channel = _CHANNEL.match(stem)
            if channel and (parent.startswith("images") or channel.group("suffix") == "_seg"
                            or channel.group("case") in self._case_ids):
                stem = channel.group("case")
            self._case(stem)
        for pattern in (_IPV4, _IPV6):
            for match in pattern.finditer(text):
                address = match.group(0)
                if address not in _NOT_PERSONAL_IPS and address not in self.ips:
                    self.ips[address] = f"ip{len(self.ips) + 1}"

    def _case(self, identifier: str) -> None:
        if identifier in self._case_ids or len(identifier) < 3 or _DATASET.match(identifier):
            return
        if _GENERIC_ID.match(identifier):
            kept = _PSEUDO_CASE.match(identifier)
            if kept:
                self._kept_case_numbers.add(int(kept.group(1)))
            return
        self._case_ids.append(identifier)

    def _assign_cases(self) -> None:
        """Number the case identifiers learnt so far, skipping numbers that kept identifiers already use."""
        number = 0
        for identifier in self._case_ids:
            if identifier in self.cases:
                continue
            number = max(number, len(self.cases))
            while True:
                number += 1
                if number not in self._kept_case_numbers and f"case_{number:04d}" not in self.cases.values():
                    break
            self.cases[identifier] = f"case_{number:04d}"
            self._case_pattern = None

    def learn_all(self, value: Any) -> None:
        for text in _strings(value):
            self.learn(text)

    # -- replacing ---------------------------------------------------------------------------------------
    def text(self, text: str) -> str:
        """``text`` with everything sensitive replaced (learns what it sees first)."""
        self.learn(text)
        self._assign_cases()
        for secret in sorted(self.sensitive.secrets, key=len, reverse=True):
            self.replaced["secrets"] += text.count(secret)
            text = text.replace(secret, f"[secret of {self.sensitive.secrets[secret]}]")
        text = self._sub("tokens", _TOKENS, "[token]", text)
        text = self._sub("tokens", _URL_CREDENTIALS, r"\g<scheme>[credentials]@", text)
        for pattern, pseudonym in self._home_patterns:
            text = self._sub("home folders", pattern, lambda _, replacement=pseudonym: replacement, text)
        for pattern in self._user_patterns:
            text = self._sub("user names", pattern, "user", text)
        for number, pattern in enumerate(self._host_patterns, 1):
            text = self._sub("host names", pattern, f"host{number}", text)
        for pattern in (_IPV4, _IPV6):
            text = pattern.sub(self._ip, text)
        for original in sorted(self.datasets, key=len, reverse=True):
            text = self._sub("dataset names", re.compile(rf"\b{re.escape(original)}(?![A-Za-z0-9])"),
                             self.datasets[original], text)
        if self.cases:
            text = self._sub("case identifiers", self._cases_regex(), lambda m: self.cases[m.group(0)], text)
        for term in sorted(self.sensitive.terms, key=len, reverse=True):
            text = self._sub("terms", re.compile(re.escape(term), re.IGNORECASE), "[redacted]", text)
        return text

    def _ip(self, match: re.Match[str]) -> str:
        pseudonym = self.ips.get(match.group(0))
        if pseudonym is None:  # loopback and the like
            return match.group(0)
        self.replaced["IP addresses"] += 1
        return pseudonym

    def _sub(self, kind: str, pattern: re.Pattern[str], replacement: Any, text: str) -> str:
        text, count = pattern.subn(replacement, text)
        self.replaced[kind] += count
        return text

    def _cases_regex(self) -> re.Pattern[str]:
        if self._case_pattern is None:
            alternatives = "|".join(re.escape(case) for case in sorted(self.cases, key=len, reverse=True))
            self._case_pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
        return self._case_pattern

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string redacted (keys of mappings included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value

    # -- the final scan ----------------------------------------------------------------------------------
    def leaks(self, text: str) -> list[str]:
        """What sensitive kinds are still in ``text`` (names the kind, never the value)."""
        self._assign_cases()
        found: list[str] = []
        checks: list[tuple[str, bool]] = [
            ("user name", any(pattern.search(text) for pattern in self._user_patterns)),
            ("home folder", any(pattern.search(text) for pattern, _ in self._home_patterns)),
            ("host name", any(pattern.search(text) for pattern in self._host_patterns)),
            ("secret", any(secret in text for secret in self.sensitive.secrets)),
            ("token", _TOKENS.search(text) is not None or _URL_CREDENTIALS.search(text) is not None),
            ("redaction term", any(term.lower() in text.lower() for term in self.sensitive.terms)),
            ("IP address", any(address not in _NOT_PERSONAL_IPS for pattern in (_IPV4, _IPV6)
                               for address in (m.group(0) for m in pattern.finditer(text)))),
            ("dataset name", any(re.search(rf"\b{re.escape(name)}(?![A-Za-z0-9])", text)
                                 for name in self.datasets if name not in self.datasets.values())),
            ("case identifier", bool(self.cases) and self._cases_regex().search(text) is not None),
        ]
        for kind, present in checks:
            if present:
                found.append(kind)
        return found

    def summary(self) -> dict[str, int]:
        """How many occurrences of each kind were replaced (counts only, never values)."""
        return {kind: count for kind, count in sorted(self.replaced.items()) if count}


class RedactionError(DoctorError):
    """The final scan found something that should have been redacted: the output is not written."""

    exit_code = 2


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def redact_document(document: Any, redactor: Redactor) -> Any:
    """Redact a JSON-like document; raises :class:`RedactionError` when the final scan still finds something."""
    redactor.learn_all(document)
    redacted = redactor.value(document)
    leaks = sorted({kind for text in _strings(redacted) for kind in redactor.leaks(text)})
    if leaks:
        raise RedactionError(f"refusing to write the output: redaction left {', '.join(leaks)} in it")
    return redacted


def check_text(text: str, redactor: Redactor) -> None:
    """The final scan of rendered output."""
    leaks = redactor.leaks(text)
    if leaks:
        raise RedactionError(f"refusing to write the output: redaction left {', '.join(leaks)} in it")


def this_machine(environ: Mapping[str, str] | None = None, terms: Iterable[str] = ()) -> Redactor:
    return Redactor(Sensitive.of_this_machine(os.environ if environ is None else environ, terms))
