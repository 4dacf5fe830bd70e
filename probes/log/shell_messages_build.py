"""Generates the table of shell "command not found" messages (``shell_messages.json``) in every language.

Run at generation time only. bash's messages come from its real translations (the ``bash.mo`` catalogs of the
machine's locales: ``%s: command not found`` and ``%s: %s: bad interpreter``); the shells that do not translate
(zsh, dash, fish, tcsh) and the Windows shells (whose localized strings ship with Windows, not as catalogs on
Linux) come from the table below, copied from their output. Each entry is a template with ``%s`` where the
command goes (``%d``: a line number); :mod:`.shell` turns the table into one pattern per entry, and its literal parts into scanner anchors.

    python -m nnunet_doctor.probes.log.shell_messages_build            # rewrites probes/log/shell_messages.json
"""
from __future__ import annotations

import gettext
import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("shell_messages.json")
LOCALES = Path("/usr/share/locale")
#: (shell, language, template): messages of shells without gettext catalogs here; %s is the command
FIXED = [
    ("bash", "en", "%s: command not found"),
    ("bash", "en", "%s: %s: bad interpreter"),
    ("zsh", "en", "zsh: command not found: %s"),
    ("sh", "en", "sh: %d: %s: not found"),  # dash / busybox sh: "sh: 1: nnUNetv2_train: not found"
    ("fish", "en", "fish: Unknown command: %s"),
    ("fish", "en", "fish: Unknown command '%s'"),
    ("tcsh", "en", "%s: Command not found."),
    ("command-not-found", "en", "Command '%s' not found"),
    ("cmd", "en", "'%s' is not recognized as an internal or external command"),
    ("cmd", "de", "Der Befehl \"%s\" ist entweder falsch geschrieben oder"),
    ("cmd", "fr", "'%s' n'est pas reconnu en tant que commande interne"),
    ("cmd", "es", "\"%s\" no se reconoce como un comando interno o externo"),
    ("cmd", "it", "\"%s\" non è riconosciuto come comando interno o esterno"),
    ("cmd", "pt", "'%s' não é reconhecido como um comando interno"),
    ("cmd", "ru", "\"%s\" не является внутренней или внешней"),
    ("cmd", "zh", "'%s' 不是内部或外部命令"),
    ("cmd", "ja", "'%s' は、内部コマンドまたは外部コマンド"),
    ("powershell", "en", "The term '%s' is not recognized as the name of a cmdlet"),
    ("powershell", "en", "The term '%s' is not recognized as a name of a cmdlet"),
    ("powershell", "de", "Die Benennung \"%s\" wurde nicht als Name eines Cmdlet"),
    ("powershell", "fr", "Le terme «%s» n'est pas reconnu comme nom d'applet de commande"),
    ("powershell", "es", "El término '%s' no se reconoce como nombre de un cmdlet"),
    ("powershell", "zh", "无法将“%s”项识别为 cmdlet"),
    ("powershell", "ja", "用語 '%s' は、コマンドレット、関数"),
]
#: bash message ids taken from each locale's catalog
BASH_MESSAGES = ("%s: command not found", "%s: %s: bad interpreter")


def build(locales: Path = LOCALES) -> list[dict[str, str]]:
    entries = [{"shell": s, "language": lang, "template": t} for s, lang, t in FIXED]
    seen = {(e["shell"], e["template"]) for e in entries}
    for path in sorted(locales.glob("*/LC_MESSAGES/bash.mo")):
        language = path.parts[-3].split("@")[0].split("_")[0]
        with path.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)
        for message in BASH_MESSAGES:
            translated = catalog.gettext(message)
            if translated != message and ("bash", translated) not in seen:
                seen.add(("bash", translated))
                entries.append({"shell": "bash", "language": language, "template": translated})
    return entries


def main() -> int:
    entries = build()
    lines = ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in entries)
    OUTPUT.write_text("[\n" + lines + "\n]\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(entries)} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
