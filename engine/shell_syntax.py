"""How to set an environment variable, and keep it, in the user's shell: the words of a fix, per shell.

Fix templates use these as filters, with the shell the environment probe found (``env.shell``); an
unknown shell gets bash syntax, the most common one:

>>> set_var("nnUNet_raw", "/data/nnUNet_raw", "fish")
'set -gx nnUNet_raw "/data/nnUNet_raw"'
>>> persist_var("nnUNet_raw", None, "zsh")
'echo \\'export nnUNet_raw="/path/to/nnUNet_raw"\\' >> ~/.zshrc'
>>> set_var("nnUNet_compile", "f", "powershell")
'$env:nnUNet_compile = "f"'
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


def set_var(name: str, value: Any = None, shell: Any = None) -> str:
    """The command that sets ``name`` in the current terminal (a placeholder path when ``value`` is None)."""
    shell = _shell(shell)
    value = _value(name, value, shell)
    if shell == "fish":
        return f'set -gx {name} "{value}"'
    if shell == "powershell":
        return f'$env:{name} = "{value}"'
    if shell == "cmd":
        return f"set {name}={value}"
    return f'export {name}="{value}"'


def persist_var(name: str, value: Any = None, shell: Any = None) -> str:
    """The command that keeps ``name`` for every new terminal of this user."""
    shell = _shell(shell)
    value = _value(name, value, shell)
    if shell == "fish":
        return f'set -Ux {name} "{value}"'
    if shell == "powershell":
        return f'[Environment]::SetEnvironmentVariable("{name}", "{value}", "User")'
    if shell == "cmd":
        return f'setx {name} "{value}"'
    return f"echo 'export {name}=\"{value}\"' >> {_RC_FILES[shell]}"


def after_persist(shell: Any = None) -> str:
    """What makes a persisted variable visible, said once after the persist commands."""
    shell = _shell(shell)
    if shell == "fish":
        return "Universal variables (set -U) reach every fish session at once, also the running ones."
    if shell in _WINDOWS:
        return "Open a new terminal afterwards: the user environment does not change terminals already open."
    return (f"Then run `source {_RC_FILES[shell]}` or open a new terminal; job scripts (SLURM, cron) do not read "
            f"{_RC_FILES[shell]}: export the variables in the job script too.")
