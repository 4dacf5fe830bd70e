"""How to set an environment variable, and keep it, in the user's shell: the words of a fix, per shell.

Fix templates use these as filters, with the shell the environment probe found (``env.shell``); an
unknown shell gets bash syntax, the most common one:

>>> print(set_var("nnUNet_raw", "/data/nnUNet_raw", "fish"))
set -gx nnUNet_raw "/data/nnUNet_raw"
>>> print(persist_var("nnUNet_raw", None, "zsh"))
echo 'export nnUNet_raw="/path/to/nnUNet_raw"' >> ~/.zshrc
>>> print(persist_var("nnUNet_raw", "/data/$(touch x)", "bash"))
echo 'export nnUNet_raw='"'"'/data/$(touch x)'"'"'' >> ~/.bashrc
>>> print(set_var("nnUNet_compile", "f", "powershell"))
$env:nnUNet_compile = "f"
>>> print(set_var("nnUNet_raw", r"D:\\data\\raw", "cmd"))
set nnUNet_raw=D:\\data\\raw
>>> print(set_var("nnUNet_n_proc_DA", 4))
export nnUNet_n_proc_DA=4

Values are quoted so that pasting the command runs nothing but it, whatever the value holds (a file named
``case$(touch x).nii.gz``): :func:`quote`.
"""
from __future__ import annotations

import shlex
from typing import Any

SHELLS = ("bash", "zsh", "sh", "fish", "powershell", "cmd")
_RC_FILES = {"bash": "~/.bashrc", "zsh": "~/.zshrc", "sh": "~/.profile"}
_WINDOWS = ("powershell", "cmd")


def _shell(shell: Any) -> str:
    return shell if isinstance(shell, str) and shell in SHELLS else "bash"


#: characters a shell still reads between double quotes (expansions, escapes, the closing quote, line breaks)
_POSIX_ACTIVE = frozenset('$`"\\!\r\n')
_ACTIVE_IN_DOUBLE_QUOTES = {"bash": _POSIX_ACTIVE, "zsh": _POSIX_ACTIVE, "sh": _POSIX_ACTIVE,
                            "fish": frozenset('$"\\\r\n'), "powershell": frozenset('$`"\u201c\u201d\u201e\r\n')}
#: characters cmd.exe gives a meaning to even between double quotes (or that end them): no quoting makes them safe
_CMD_UNSAFE = frozenset('"%!^\r\n')


def quote(value: Any, shell: Any = None) -> str | None:
    """``value`` as one word of ``shell`` that the shell does not expand: double quotes where nothing in the value
    is special between them (the familiar form), else single quotes (POSIX shells, fish, PowerShell, each with its
    own escapes); cmd gets double quotes, or None where it cannot hold the value safely.

    >>> quote("/data/raw"), quote("case$(touch x).nii.gz"), quote("it's $HOME", "powershell")
    ('"/data/raw"', "'case$(touch x).nii.gz'", "'it''s $HOME'")
    >>> quote("a%PATH%", "cmd") is None
    True
    """
    text = str(value)
    shell = _shell(shell)
    if shell != "cmd" and not _ACTIVE_IN_DOUBLE_QUOTES[shell] & set(text):
        return f'"{text}"'
    if shell == "fish":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if shell == "powershell":
        return "'" + text.replace("'", "''").replace("\u2018", "\u2018\u2018").replace("\u2019", "\u2019\u2019") + "'"
    if shell == "cmd":
        return None if _CMD_UNSAFE & set(text) else f'"{text}"'
    return shlex.quote(text)


class HomePath(str):
    """A folder under the user's home, written so that the user's shell expands the home folder itself:
    ``"$HOME/nnUNet_raw"`` (bash, zsh, fish), ``"$HOME\\nnUNet_raw"`` (PowerShell), ``%USERPROFILE%\\nnUNet_raw``
    (cmd). Only plain relative paths (letters, digits, ``._-/``) are kept; anything else becomes ``nnUNet``.

    >>> print(set_var("nnUNet_raw", HomePath("nnUNet/raw"), "cmd"))
    set nnUNet_raw=%USERPROFILE%\\nnUNet\\raw
    >>> print(set_var("nnUNet_raw", HomePath("nnUNet/raw"), "powershell"))
    $env:nnUNet_raw = "$HOME\\nnUNet\\raw"
    >>> print(persist_var("nnUNet_raw", HomePath("$(x)"), "bash"))
    echo 'export nnUNet_raw="$HOME/nnUNet"' >> ~/.bashrc
    """

    __slots__ = ()

    def __new__(cls, relative: Any) -> "HomePath":
        text = str(relative).strip().strip("/")
        plain = bool(text) and all(c.isalnum() or c in "._-/" for c in text) and ".." not in text
        return super().__new__(cls, text if plain else "nnUNet")

    def word(self, shell: str) -> str:
        """The home path as one word of ``shell``, with the home folder left for the shell to expand."""
        if shell == "cmd":
            return "%USERPROFILE%\\" + self.replace("/", "\\")
        if shell == "powershell":
            return '"$HOME\\' + self.replace("/", "\\") + '"'
        return f'"$HOME/{self}"'


def _value(name: str, value: Any, shell: str) -> str:
    """The value as the shell must read it: a number as it is, a home path for the shell to expand, text quoted
    (a placeholder path when unknown, or when cmd cannot hold it)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, HomePath):
        return value.word(shell)
    placeholder = f"C:\\path\\to\\{name}" if shell in _WINDOWS else f"/path/to/{name}"
    quoted = quote(value if isinstance(value, str) else placeholder, shell)
    return quoted if quoted is not None else f'"{placeholder}"'


#: per shell: the command that sets a variable in this terminal, and the one that keeps it for new terminals
#: ({value} comes quoted for that shell: ``export nnUNet_raw='/data/raw'``; a number bare: ``nnUNet_n_proc_DA=4``)
_SET = {"fish": "set -gx {name} {value}", "powershell": "$env:{name} = {value}", "cmd": 'set "{name}={bare}"',
        "posix": "export {name}={value}"}
_PERSIST = {"fish": "set -Ux {name} {value}", "cmd": "setx {name} {value}",
            "powershell": '[Environment]::SetEnvironmentVariable("{name}", {value}, "User")',
            "posix": "echo {line} >> {rc_file}"}


def _command(table: dict[str, str], name: str, value: Any, shell: Any) -> str:
    shell = _shell(shell)
    word = _value(name, value, shell)
    bare = word[1:-1] if word.startswith('"') and word.endswith('"') else word
    if table is _SET and shell == "cmd" and not set(bare) & set("&|<>()"):
        return f"set {name}={bare}"  # the familiar form where no character of the value means anything to cmd
    return table.get(shell, table["posix"]).format(name=name, value=word, bare=bare, rc_file=_RC_FILES.get(shell, ""),
                                                   line=shlex.quote(f"export {name}={word}"))


def set_var(name: str, value: Any = None, shell: Any = None) -> str:
    """The command that sets ``name`` in the current terminal (a placeholder path when ``value`` is None)."""
    return _command(_SET, name, value, shell)


def persist_var(name: str, value: Any = None, shell: Any = None) -> str:
    """The command that keeps ``name`` for every new terminal of this user."""
    return _command(_PERSIST, name, value, shell)


def after_persist(shell: Any = None) -> str:
    """What makes a persisted variable visible, said once after the persist commands."""
    shell = _shell(shell)
    if shell == "fish":
        return "Universal variables (set -U) reach every fish session at once, also the running ones."
    if shell in _WINDOWS:
        return "Open a new terminal afterwards: the user environment does not change terminals already open."
    return (f"Then run `source {_RC_FILES[shell]}` or open a new terminal; job scripts (SLURM, cron) do not read "
            f"{_RC_FILES[shell]}: export the variables in the job script too.")
