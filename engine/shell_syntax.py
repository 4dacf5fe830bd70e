"""How to set an environment variable, and keep it, in the user's shell: the words of a fix, per shell.

Fix templates use these as filters, with the shell the environment probe found (``env.shell``); an
unknown shell gets bash syntax, the most common one:

>>> set_var("nnUNet_raw", "/data/nnUNet_raw", "fish")
'set -gx nnUNet_raw "/data/nnUNet_raw"'
>>> persist_var("nnUNet_raw", None, "zsh")
'echo \\'export nnUNet_raw="/path/to/nnUNet_raw"\\' >> ~/.zshrc'
>>> set_var("nnUNet_compile", "f", "powershell")
'$env:nnUNet_compile = "f"'
>>> set_var("nnUNet_n_proc_DA", 4)
'export nnUNet_n_proc_DA=4'
"""
from __future__ import annotations

from typing import Any

SHELLS = ("bash", "zsh", "sh", "fish", "powershell", "cmd")
_RC_FILES = {"bash": "~/.bashrc", "zsh": "~/.zshrc", "sh": "~/.profile"}
_WINDOWS = ("powershell", "cmd")


def _shell(shell: Any) -> str:
    return shell if isinstance(shell, str) and shell in SHELLS else "bash"


def _value(name: str, value: Any, shell: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return f"C:\\path\\to\\{name}" if shell in _WINDOWS else f"/path/to/{name}"
    return str(value).replace('"', '\\"')


#: per shell: the command that sets a variable in this terminal, and the one that keeps it for new terminals
#: ({q} is a double quote, left out for a number: ``export nnUNet_n_proc_DA=4``)
_SET = {"fish": 'set -gx {name} {q}{value}{q}', "powershell": '$env:{name} = "{value}"', "cmd": "set {name}={value}",
        "posix": 'export {name}={q}{value}{q}'}
_PERSIST = {"fish": 'set -Ux {name} {q}{value}{q}', "cmd": 'setx {name} {q}{value}{q}',
            "powershell": '[Environment]::SetEnvironmentVariable("{name}", "{value}", "User")',
            "posix": "echo 'export {name}={q}{value}{q}' >> {rc_file}"}


def _command(table: dict[str, str], name: str, value: Any, shell: Any) -> str:
    shell = _shell(shell)
    number = isinstance(value, int) and not isinstance(value, bool)
    return table.get(shell, table["posix"]).format(name=name, value=_value(name, value, shell),
                                                   rc_file=_RC_FILES.get(shell, ""), q="" if number else '"')


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
