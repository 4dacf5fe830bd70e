"""Redaction: what identifies a person or a machine is replaced by consistent pseudonyms before it leaves.

Replaced: the user's name and home folder, host names, IP addresses, secrets (values of this shell's
variables whose names say TOKEN, SECRET, KEY, PASSWORD...; well-known token formats; credentials in URLs),
dataset names and case identifiers in file names (they may name patients), and any term the user adds.
Besides what this machine says is personal, categories are found in the text itself and fail closed: the
folder name under any home folder (``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME``, and that name
wherever else it appears), host names in shell prompts (``user@host:``), in ``host=``/``node=``/``MASTER_ADDR=``
forms and as fully qualified domain names (public software hosts such as github.com are kept), e-mail
addresses, DICOM patient tags (``(0010,0010)``, ``0010|0020``, ``PatientName``, ``PatientBirthDate``...),
``KEY=value`` forms whose key says secret, ``login X password Y`` lines, and tokens by their shape.
Facts the vocabulary marks ``personal`` (paths as printed, a dataset's folders) drive it too
(:meth:`Redactor.learn_personal`): the folder names of their paths that are neither common nor nnU-Net's own
(``/data/StudyHospitalX/nnUNet_raw``: ``StudyHospitalX``) become ``folder1``... wherever they stand as a folder name.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from msgspec import Struct, field

from nnunet_doctor.engine.errors import DoctorError

if TYPE_CHECKING:
    from nnunet_doctor.engine.facts import Fact
    from nnunet_doctor.engine.vocabulary import Vocabulary

#: account names that name nobody: never treated as personal (replacing "root" would mangle "root exception")
GENERIC_ACCOUNTS = frozenset({"root", "user", "admin", "ubuntu", "jovyan", "runner", "nobody", "docker", "vscode",
                              "localhost", "localhost.localdomain"})
#: variable names whose values are secrets (their values are looked for, never collected)
SECRET_NAME = re.compile(r"(?i)token|secret|passw|api_?key|access_?key|private_?key|credential|auth|session|cookie")
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})\b"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*"
    r"|(?i:(?:password|passwd|pwd|token|secret|api_?key)\s*[=:]\s*)(?!\[)[^\s'\",;]{4,}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
                   r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![\w:])")
_NOT_PERSONAL_IPS = frozenset({"127.0.0.1", "0.0.0.0", "255.255.255.255", "::1"})
#: the folder under a home folder names a person: /home/NAME, /Users/NAME, C:\Users\NAME (also with / on Windows)
#: also below a mount point (/mnt/home/NAME, /gpfs/homes/NAME), in old Windows (C:\Documents and Settings\NAME),
#: and a name with spaces when a separator follows it (/Users/Ana María/)
_ANY_HOME = re.compile(r"(?P<root>/homes?/|(?<![\w.])/Users/|(?<![\w])[A-Za-z]:[\\/]+(?:Users|Documents and Settings)"
                       r"[\\/]+)(?P<name>[^/\\\s'\"<>|:*?]{1,64}(?: [^/\\\s'\"<>|:*?]{1,64}){1,2}(?=[/\\])"
                       r"|[^/\\\s'\"<>|:*?]{1,64})")
#: ``~NAME/``: another user's home folder, as shells write it
_TILDE_HOME = re.compile(r"(?<![\w~])~(?P<name>[a-z_][\w.-]{0,31})(?=/)")
#: ``user@192.0.2.7`` (ssh, scp): the user name
_USER_AT_IP = re.compile(r"(?<![\w.+-])(?P<user>[a-z_][\w.-]{0,31})@(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_HOME_FOLDERS_NAMING_NOBODY = frozenset({"user", "public", "shared", "default", "default user", "all users", "guest"})
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
#: a shell prompt names the user and the host: ``jdoe@gpu-node-17:~/nnunet$``, ``[jdoe@node17 ~]$``
_PROMPT = re.compile(r"(?:^|[\s\[(])(?P<user>[a-z_][\w.-]{0,31})@(?P<host>[A-Za-z][\w-]{1,62}(?:\.[\w-]{1,63}){0,6})"
                     r"(?=[:\s\]])")
#: host names that a text names as such
_HOST_FIELD = re.compile(r"(?i)\b(?:host_?name|host|node_?name|node_?list|master_addr|slurm_nodelist|slurmd_nodename"
                         r"|slurm_job_nodelist|computername)\s*[=:]\s*['\"]?"
                         r"(?P<host>[A-Za-z][A-Za-z0-9-]{1,62}(?:\.[A-Za-z0-9-]{1,63}){0,6})"
                         r"|\bON (?P<slurm>[A-Za-z][A-Za-z0-9-]{1,62}) CANCELLED")
#: fully qualified domain names (a top-level domain that names places, not Python attributes)
_FQDN = re.compile(r"(?<![\w.-])(?P<name>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,6}"
                   r"(?i:com|org|net|edu|gov|mil|io|ai|de|uk|fr|nl|ch|at|be|it|es|se|no|dk|fi|pl|cz|cn|jp|kr|tw|hk"
                   r"|sg|ca|au|nz|br|ru|us|eu|biz|cloud|lan|internal|intra|corp|localdomain|home\.arpa))"
                   r"(?![\w-]|\.[A-Za-z0-9])")
#: public software hosts: naming them says nothing about the user
#: top-level domains that are also common attribute names (``self.net``, ``torch.io``): a name ending in one of
#: them counts as a host only with three labels or more (``gpu1.lab.net``)
_AMBIGUOUS_TLDS = frozenset({"net", "io", "ai", "it", "no", "be", "at", "es", "se", "us", "eu", "cloud", "lan",
                             "internal", "intra", "corp"})
_PUBLIC_HOSTS = ("github.com", "githubusercontent.com", "python.org", "pythonhosted.org", "pytorch.org", "nvidia.com",
                 "anaconda.org", "anaconda.com", "conda-forge.org", "zenodo.org", "huggingface.co", "wandb.ai",
                 "readthedocs.io", "readthedocs.org", "google.com", "microsoft.com", "ubuntu.com", "debian.org",
                 "stackoverflow.com", "numpy.org", "scipy.org", "simpleitk.org", "itk.org", "nibabel.org",
                 "nipy.org", "dkfz.de", "example.com", "example.org", "example.invalid")
#: DICOM patient tags (and the keywords tools print for them): the rest of the line is the patient's data
_DICOM_PATIENT = re.compile(
    r"(?P<tag>\(0010,\s?[0-9A-Fa-f]{4}\)|\b0010\|[0-9A-Fa-f]{4}\b|\b(?:Patient'?s?\s?(?:Name|ID|Birth\s?Date"
    r"|Birth\s?Time|Birth\s?Name|Address|Telephone\s?Numbers|Mother'?s?\s?Birth\s?Name|Sex|Age|Size|Weight)"
    r"|Other\s?Patient\s?(?:IDs|Names)|Issuer\s?of\s?Patient\s?ID)\b)"
    r"(?P<value>[^\r\n]{1,200})")
_DICOM_REPLACED = "[patient data]"
#: ``KEY=value`` where the key says secret, whether or not the variable is set in this shell
_SECRET_ASSIGNMENT = re.compile(r"(?P<key>\b[A-Za-z0-9_.-]*(?i:token|secret|passw(?:or)?d?|api_?key|access_?key"
                                r"|private_?key|credentials?|auth_?key)[A-Za-z0-9_]*['\"]?\s*[=:]\s*)"
                                r"(?P<value>(?!\[)['\"]?[^\s'\",;]{4,}['\"]?)")
#: netrc and similar: ``machine api.wandb.ai login user password SECRET``
#: secrets given as command options: ``--password X``, ``--token=X``, ``wandb login KEY``
_OPTION_SECRET = re.compile(r"(?P<key>(?<![\w-])--?(?i:password|passwd|pass|token|api[-_]?key|secret|auth[-_]?token)"
                            r"(?:=|\s+)|\bwandb\s+login\s+(?:--\S+\s+){0,3})(?P<value>(?!\[)[^\s'\",;]{4,})")
_LOGIN_PASSWORD = re.compile(r"(?i)\b(?P<login>login)\s+(?P<user>\S+)(?P<between>\s+)(?P<password>password)\s+(?P<value>\S+)")
_SHAPED_TOKENS = re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b|\beyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}"
                            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----")
_DATASET = re.compile(r"\b(?P<kind>Dataset|Task)(?P<id>\d{2,3})_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9])")
_ENDINGS = r"\.nii\.gz|\.nii|\.nrrd|\.mha|\.mhd|\.tiff?|\.png|\.jpe?g|\.bmp|\.b2nd|\.npz|\.npy|\.pkl|\.dcm"
_IMAGE_FILE = re.compile(rf"(?P<folder>(?:^|[/\\])(?P<parent>[^/\\\s'\"]+)[/\\])?(?P<stem>[^/\\\s'\",:;()\[\]]+?)"
                         rf"(?P<ending>{_ENDINGS})(?!\w|\.\w)")
_CHANNEL = re.compile(r"^(?P<case>.+?)(?P<suffix>_\d{4}|_seg)$")
#: identifiers that name no one: case_0001, 0001, img12, patient_003 (kept as they are)
_GENERIC_ID = re.compile(r"^(?:case|img|image|label|seg|patient|sample|subject|s)?[_-]?\d{1,5}$", re.IGNORECASE)
_PSEUDO_CASE = re.compile(r"^case_(\d{4})$")


#: a path in a value (POSIX or Windows); its folder names are read one by one
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s'\"<>|*?]+)+")
#: folder names that name no one and that nnU-Net, Python and the usual systems use (kept in personal paths); names
#: of at most four characters and file names (with an extension) are kept too (_FOLDER_NAME_OK)
_COMMON_FOLDERS = frozenset("""
home users user mnt media data datasets scratch work workspace projects project shared group groups gpfs lustre
nfs storage srv opt usr lib lib64 local bin sbin etc var tmp temp run proc dev sys root private volumes
c: d: e: documents desktop downloads onedrive appdata roaming program files windows system32 site-packages
dist-packages python envs env venv .venv conda miniconda3 anaconda3 miniforge3 mambaforge .conda .cache
.local pkgs include share src code repos git github nnunet nnunetv2 nnunet_raw nnunet_preprocessed
nnunet_results nnunet_raw_data_base results_folder imagestr labelstr imagests labelsts predictions output
outputs input inputs models model checkpoints logs log runs fold_0 fold_1 fold_2 fold_3 fold_4 fold_all
training inference preprocessing run evaluation experiment_planning utilities dataset_conversion nets
network_architecture torch cuda triton batchgenerators acvl_utils dynamic_network_architectures
""".split())
_FOLDER_NAME_OK = re.compile(r"^(?:python\d(?:\.\d+)?|fold_\d+|\d+|nnUNet\w*|\w+__nnUNetPlans__\w+|"
                             r"(?:Dataset|Task)\d{2,3}_.*|case_\d{4}|host\d+|folder\d+|[\[$%{<~].*|.{1,4}|.*\.\w{1,6})$",
                             re.IGNORECASE)


class Sensitive(Struct):
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
        self._case_id_set: set[str] = set()
        self._assigned = 0  # how many of _case_ids have a pseudonym
        self._used_numbers: set[int] = set()
        self._last_number = 0
        self.replaced: Counter[str] = Counter()
        self._home_patterns = [(re.compile(re.escape(home) + r"(?![A-Za-z0-9])", re.IGNORECASE if "\\" in home else 0),
                                _home_pseudonym(home)) for home in sorted(sensitive.homes, key=len, reverse=True)]
        self.hosts: list[str] = sorted(sensitive.hosts, key=len, reverse=True)  # learnt ones are appended
        self._user_patterns: list[re.Pattern[str]] = []
        self._host_patterns: list[re.Pattern[str]] = []
        self._patterns_for: tuple[int, int] = (-1, -1)
        self._case_pattern: _CaseFinder | None = None
        self.folders: dict[str, str] = {}  # a folder name in a personal fact's path -> "folder1"
        self._folder_pattern: re.Pattern[str] | None = None
        self._compile_names()

    def _compile_names(self) -> None:
        """(Re)compile the user and host patterns when learning added names."""
        if self._patterns_for == (len(self.sensitive.users), len(self.hosts)):
            return
        self._user_patterns = [_word(user) for user in sorted(self.sensitive.users, key=len, reverse=True)]
        self._host_patterns = [_word(host) for host in self.hosts]
        self._patterns_for = (len(self.sensitive.users), len(self.hosts))

    def _learn_host(self, host: str) -> None:
        host = host.rstrip(".")
        if len(host) < 3 or host.lower() in GENERIC_ACCOUNTS or _public(host) or host in self.hosts:
            return
        if host.split(".")[0].lower() in ("localhost", "ip") or _IPV4.fullmatch(host):
            return
        self.hosts.append(host)

    def _learn_user(self, name: str) -> None:
        if len(name) >= 2 and name.lower() not in GENERIC_ACCOUNTS | _HOME_FOLDERS_NAMING_NOBODY \
                and not name.startswith(("$", "%", "{", "<")):
            self.sensitive.users.add(name)

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
                            or channel.group("case") in self._case_id_set):
                stem = channel.group("case")
            self._case(stem)
        for pattern in (_IPV4, _IPV6):
            for match in pattern.finditer(text):
                address = match.group(0)
                if address not in _NOT_PERSONAL_IPS and address not in self.ips:
                    self.ips[address] = f"ip{len(self.ips) + 1}"
        for pattern in (_ANY_HOME, _TILDE_HOME, _USER_AT_IP):
            for match in pattern.finditer(text):
                self._learn_user(match.group("name") if "name" in pattern.groupindex else match.group("user"))
        for match in _PROMPT.finditer(text):
            self._learn_user(match.group("user"))
            self._learn_host(match.group("host"))
        for match in _HOST_FIELD.finditer(text):
            self._learn_host(match.group("host") or match.group("slurm"))
        for match in _FQDN.finditer(_EMAIL.sub(" ", _URL_CREDENTIALS.sub(r"\g<scheme>", text))):
            if _domain(match.group("name")):
                self._learn_host(match.group("name"))
        self._compile_names()

    def _case(self, identifier: str) -> None:
        if identifier in self._case_id_set or len(identifier) < 3 or _DATASET.match(identifier):
            return
        if _GENERIC_ID.match(identifier):
            kept = _PSEUDO_CASE.match(identifier)
            if kept:
                self._kept_case_numbers.add(int(kept.group(1)))
            return
        self._case_ids.append(identifier)
        self._case_id_set.add(identifier)

    def _assign_cases(self) -> None:
        """Number the case identifiers learnt since the last call, skipping numbers that kept identifiers use."""
        for identifier in self._case_ids[self._assigned:]:
            number = self._last_number
            while True:
                number += 1
                if number not in self._kept_case_numbers and number not in self._used_numbers:
                    break
            self.cases[identifier] = f"case_{number:04d}"
            self._used_numbers.add(number)
            self._last_number = number
            if self._case_pattern is not None:
                self._case_pattern.learnt(identifier)
        self._assigned = len(self._case_ids)

    def learn_personal(self, value: Any) -> None:
        """A value the vocabulary marks ``personal``: the folder names of its paths that are not common ones
        (``/data/StudyHospitalX/nnUNet_raw``: StudyHospitalX) are replaced wherever they stand as a folder name."""
        for text in _strings(value):
            for path in _PATH.finditer(text):
                for name in re.split(r"[/\\]", path.group(0))[1:]:
                    if name and name.lower() not in _COMMON_FOLDERS and not _FOLDER_NAME_OK.match(name) \
                            and name not in self.folders:  # file names (x.py, case.nii.gz) are the cases' business
                        self.folders[name] = f"folder{len(self.folders) + 1}"
        if self.folders:
            names = "|".join(re.escape(name) for name in sorted(self.folders, key=len, reverse=True))
            self._folder_pattern = re.compile(rf"(?<=[/\\])(?:{names})(?=[/\\]|$|[\s'\",:;)\]])")

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
        text = self._sub("tokens", _SHAPED_TOKENS, "[token]", text)
        text = self._sub("tokens", _URL_CREDENTIALS, r"\g<scheme>[credentials]@", text)
        text = self._sub("secrets", _SECRET_ASSIGNMENT, r"\g<key>[secret]", text)
        text = self._sub("secrets", _OPTION_SECRET, r"\g<key>[secret]", text)
        text = self._sub("secrets", _LOGIN_PASSWORD, r"\g<login> user\g<between>\g<password> [secret]", text)
        text = self._sub("patient data", _DICOM_PATIENT, rf"\g<tag> {_DICOM_REPLACED}", text)
        text = self._sub("e-mail addresses", _EMAIL, "[e-mail]", text)
        for pattern, pseudonym in self._home_patterns:
            text = self._sub("home folders", pattern, lambda _, replacement=pseudonym: replacement, text)
        text = self._sub("home folders", _ANY_HOME, self._any_home, text)
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
            text = self._sub("case identifiers", self._cases_regex(), None, text)  # type: ignore[arg-type]
        for term in sorted(self.sensitive.terms, key=len, reverse=True):
            text = self._sub("terms", re.compile(re.escape(term), re.IGNORECASE), "[redacted]", text)
        if self._folder_pattern is not None:
            text = self._sub("personal folder names", self._folder_pattern,
                             lambda match: self.folders[match.group(0)], text)
        return text

    def _any_home(self, match: re.Match[str]) -> str:
        name = match.group("name")
        if name.lower() in GENERIC_ACCOUNTS | _HOME_FOLDERS_NAMING_NOBODY or name.startswith(("$", "%", "{", "<")):
            return match.group(0)
        return _home_pseudonym(match.group("root").rstrip("/\\") + "/x")

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

    def _cases_regex(self) -> "_CaseFinder":
        if self._case_pattern is None:
            self._case_pattern = _CaseFinder(self.cases)
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
            ("token", any(p.search(text) is not None for p in (_TOKENS, _SHAPED_TOKENS, _URL_CREDENTIALS))),
            ("secret assignment", any(_kept_secret(m.group("value")) for pattern in (_SECRET_ASSIGNMENT, _OPTION_SECRET)
                                      for m in pattern.finditer(text))
             or any(m.group("value") != "[secret]" for m in _LOGIN_PASSWORD.finditer(text))),
            ("e-mail address", _EMAIL.search(text) is not None),
            ("patient data", any(m.group("value").strip() != _DICOM_REPLACED for m in _DICOM_PATIENT.finditer(text))),
            ("home folder of a user", any(self._any_home(m) != m.group(0) and not m.group(0).endswith(("/user", "\\user"))
                                          for m in _ANY_HOME.finditer(text))),
            ("host name (domain)", any(_domain(m.group("name")) and not _public(m.group("name"))
                                       for m in _FQDN.finditer(_EMAIL.sub(" ", text)))),
            ("redaction term", any(term.lower() in text.lower() for term in self.sensitive.terms)),
            ("IP address", any(address not in _NOT_PERSONAL_IPS for pattern in (_IPV4, _IPV6)
                               for address in (m.group(0) for m in pattern.finditer(text)))),
            ("dataset name", any(re.search(rf"\b{re.escape(name)}(?![A-Za-z0-9])", text)
                                 for name in self.datasets if name not in self.datasets.values())),
            ("case identifier", bool(self.cases) and self._cases_regex().search(text) is not None),
            ("folder name of a personal path", self._folder_pattern is not None
             and self._folder_pattern.search(text) is not None),
        ]
        for kind, present in checks:
            if present:
                found.append(kind)
        return found

    def summary(self) -> dict[str, int]:
        """How many occurrences of each kind were replaced (counts only, never values)."""
        return {kind: count for kind, count in sorted(self.replaced.items()) if count}


def _domain(name: str) -> bool:
    """Whether a dotted name that ends in a top-level domain is a host name rather than an attribute."""
    labels = name.split(".")
    return len(labels) >= 3 or labels[-1].lower() not in _AMBIGUOUS_TLDS


def _public(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == public or host.endswith("." + public) for public in _PUBLIC_HOSTS)


def _kept_secret(value: str) -> bool:
    """Whether a value in a secret assignment is still the secret (not a pseudonym this module wrote)."""
    value = value.strip("'\"")
    return not (value.startswith("[") or value in ("None", "null", "none", "true", "false", "True", "False")
                or value.startswith(("$", "%", "<", "{", "***")))


class _CaseFinder:
    """Finds the known case identifiers in a text, as whole names (no letter or digit right before or after),
    the longest at the leftmost place: what one regular expression of all of them would find, but in time linear
    in the text whatever the number of identifiers (a dataset of 60,000 cases)."""

    _RUN = re.compile(r"[^/\\\s'\",:;()\[\]]+")  # characters an identifier learnt from a file name may hold

    def __init__(self, cases: Mapping[str, str]):
        self._cases = cases  # the redactor's own mapping: it grows as identifiers are learnt
        self._longest = max((len(case) for case in cases), default=0)

    def learnt(self, identifier: str) -> None:
        self._longest = max(self._longest, len(identifier))

    def _matches(self, text: str) -> Iterator[tuple[int, int]]:
        for run in self._RUN.finditer(text):
            start, end = run.span()
            position = start
            while position < end:
                if position == 0 or not text[position - 1].isascii() or not text[position - 1].isalnum():
                    for stop in range(min(end, position + self._longest), position, -1):
                        if (stop == len(text) or not (text[stop].isascii() and text[stop].isalnum())) \
                                and text[position:stop] in self._cases:
                            yield position, stop
                            position = stop - 1
                            break
                position += 1

    def search(self, text: str) -> tuple[int, int] | None:
        return next(self._matches(text), None)

    def subn(self, replacement: Any, text: str) -> tuple[str, int]:
        pieces, last, count = [], 0, 0
        for start, stop in self._matches(text):
            pieces += [text[last:start], self._cases[text[start:stop]]]
            last, count = stop, count + 1
        return "".join(pieces) + text[last:], count


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


def learn_personal_facts(redactor: Redactor, vocabulary: "Vocabulary", facts: Iterable["Fact"]) -> None:
    """The vocabulary's ``personal`` marks drive redaction: a personal fact's value, or a record's personal fields."""
    from nnunet_doctor.engine.facts import Record

    for fact in facts:
        spec = vocabulary.get(fact.name)
        if spec is None:
            continue
        if spec.personal:
            redactor.learn_personal(_plain_strings(fact.value))
            continue
        personal = [key for key, declared in spec.fields.items() if declared.personal]
        for record in (fact.value if isinstance(fact.value, list) else [fact.value]) if personal else []:
            if isinstance(record, Record):
                redactor.learn_personal([record.fields[key] for key in personal if isinstance(record.fields.get(key), str)])


def _plain_strings(value: Any) -> list[str]:
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [text for item in value for text in _plain_strings(item)]
    return []


def this_machine(environ: Mapping[str, str] | None = None, terms: Iterable[str] = ()) -> Redactor:
    return Redactor(Sensitive.of_this_machine(os.environ if environ is None else environ, terms))
