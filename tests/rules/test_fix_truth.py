"""Every command, option and environment variable a fix mentions exists in the installed nnunetv2 2.8.1.

The nnU-Net surface is read from the installed package itself: console scripts from its entry points,
options from the ``add_argument`` calls of each entry point's function (parsed, not imported: importing them
costs seconds each), environment variables from every ``os.environ``/``getenv``/``_EnvPath`` use in its source.
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import pytest

from nnunet_doctor.engine.loader import load_rule_pack

#: variables a fix may name that nnunetv2 does not read itself, each with who reads it
EXTERNAL_VARIABLES = {
    "CUDA_VISIBLE_DEVICES": "CUDA runtime: which GPUs a process sees (nnU-Net's --help recommends it)",
    "PYTORCH_CUDA_ALLOC_CONF": "PyTorch CUDA caching allocator",
    "OMP_NUM_THREADS": "OpenMP / PyTorch CPU threads",
    "MKL_NUM_THREADS": "Intel MKL threads",
    "TORCHINDUCTOR_COMPILE_THREADS": "torch inductor",
    "TORCH_LOGS": "PyTorch logging",
    "TORCHDYNAMO_VERBOSE": "torch dynamo",
    "CUDA_LAUNCH_BLOCKING": "CUDA runtime: synchronous kernel launches, for exact error locations",
    "TRITON_CACHE_DIR": "Triton",
    "NNUNET_DOCTOR_RULES": "nnunet-doctor itself",
    "PATH": "the shell", "HOME": "the shell", "PYTHONPATH": "Python", "PYTHONNOUSERSITE": "Python",
    "CONDA_PREFIX": "conda", "VIRTUAL_ENV": "venv",
}
#: nnU-Net v1 names a fix may mention to explain that v2 ignores them
V1_NAMES = {"nnUNet_raw_data_base", "RESULTS_FOLDER", "nnUNet_cropped_data", "nnUNet_raw_data"}
#: tools that write-ups about nnU-Net invent
INVENTED = [r"nnUNetv2_verify_installation", r"\bmodel_export\.py", r"\blabel_handling\.py",
            r"\bremove_connected_components\.py", r"nnUNetv2_export_onnx", r"nnUNetv2_\w*onnx"]


@lru_cache(maxsize=1)
def nnunet_commands() -> dict[str, set[str]]:
    """Console script -> its options, from nnunetv2's metadata and source."""
    commands: dict[str, set[str]] = {}
    for entry in importlib.metadata.distribution("nnunetv2").entry_points:
        if entry.group != "console_scripts":
            continue
        module, function = entry.value.split(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        options = {"-h", "--help"}
        pending, visited = [function], set()
        while pending:  # the entry function and the module's helpers it calls (e.g. _add_logging_args)
            name = pending.pop()
            if name in visited or name not in functions:
                continue
            visited.add(name)
            for call in ast.walk(functions[name]):
                if not isinstance(call, ast.Call):
                    continue
                if getattr(call.func, "attr", "") == "add_argument":
                    options |= {a.value for a in call.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")}
                elif isinstance(call.func, ast.Name):
                    pending.append(call.func.id)
        commands[entry.name] = options
    return commands


@lru_cache(maxsize=1)
def nnunet_variables() -> set[str]:
    spec = importlib.util.find_spec("nnunetv2")
    assert spec is not None and spec.submodule_search_locations
    root = Path(list(spec.submodule_search_locations)[0])
    pattern = re.compile(r"""(?:os\.environ(?:\.get)?\s*[\[(]\s*|getenv\(\s*|_EnvPath\(\s*|_getDefaultValue\(\s*"""
                         r"""|_is_logger_enabled\(\s*)['"]([A-Za-z_]\w*)['"]""")
    names: set[str] = set()
    for path in root.rglob("*.py"):
        names |= set(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def fixes() -> list[tuple[str, str]]:
    return [(rule.id, rule.fix) for rule in load_rule_pack().rules if rule.fix]


def _text(template: str) -> str:
    """The template's literal text: a shell macro naming its variable (``{{ set_var('nnUNet_raw') }}``) becomes the
    bash line it stands for, other Jinja expressions a placeholder; statements disappear."""
    template = re.sub(r"""\{\{\s*(?:set_var|persist_var)\(\s*['"](\w+)['"].*?\}\}""", r"export \1=X", template, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", "X", re.sub(r"\{%.*?%\}|\{#.*?#\}", "", template, flags=re.S), flags=re.S)


def mentioned_commands(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for match in re.finditer(r"\b(nnUNetv2_\w+)([^\n|;&#)]*)", text):
        options = re.findall(r"(?<![\w/.-])(--?[A-Za-z][\w-]*)", match.group(2))
        found.append((match.group(1), options))
    return found


def mentioned_variables(text: str) -> set[str]:
    names = set(re.findall(r"\bexport\s+([A-Za-z_]\w*)=", text))
    names |= set(re.findall(r"\bsetx\s+([A-Za-z_]\w*)", text))
    names |= set(re.findall(r"\bset\s+-[gxU]+\s+([A-Za-z_]\w*)", text))
    names |= set(re.findall(r"\$env:([A-Za-z_]\w*)", text))
    names |= set(re.findall(r"\$(?!env:)\{?([A-Za-z_]\w*)", text))
    names |= set(re.findall(r"(?:^|[\s`])([A-Z][A-Z0-9_]*[A-Z0-9])=\S", text, flags=re.M))
    names |= set(re.findall(r"\b(nnUNet_[a-z]\w*)", text))
    return names


def test_the_surface_is_read_from_the_installed_nnunetv2() -> None:
    assert importlib.metadata.version("nnunetv2") == "2.8.1"
    commands = nnunet_commands()
    assert "-gpu_memory_target" in commands["nnUNetv2_plan_and_preprocess"]
    assert "--npz" in commands["nnUNetv2_train"] and "-device" in commands["nnUNetv2_train"]
    assert {"--verbose", "--no_pbar"} <= commands["nnUNetv2_plan_and_preprocess"]  # added by a helper function
    assert {"nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnUNet_n_proc_DA", "nnUNet_compile",
            "nnUNet_def_n_proc", "nnUNet_extTrainer", "nnUNet_npp", "nnUNet_nps"} <= nnunet_variables()


def test_the_extraction_sees_what_a_fix_says() -> None:
    text = _text("CUDA_VISIBLE_DEVICES=1 nnUNetv2_train {{ d }} 3d_fullres 0 --npz -p nnUNetPlans_6G\n"
                 "export nnUNet_n_proc_DA=4; setx nnUNet_raw \"C:\\x\"; echo $nnUNet_results; $env:nnUNet_compile = \"f\"")
    assert mentioned_commands(text) == [("nnUNetv2_train", ["--npz", "-p"])]
    assert mentioned_variables(_text("{{ set_var('nnUNet_magic', 4) }} {{ persist_var('nnUNet_raw') }}")) == {
        "nnUNet_magic", "nnUNet_raw"}
    assert mentioned_variables(text) == {"CUDA_VISIBLE_DEVICES", "nnUNet_n_proc_DA", "nnUNet_raw", "nnUNet_results",
                                         "nnUNet_compile"}


def problems_in(template: str) -> list[str]:
    text = _text(template)
    commands = nnunet_commands()
    problems = []
    for command, options in mentioned_commands(text):
        if command not in commands:
            problems.append(f"{command} is not a console script of nnunetv2 2.8.1")
            continue
        problems += [f"{command} has no option {option}" for option in options if option not in commands[command]]
    known = nnunet_variables() | set(EXTERNAL_VARIABLES) | V1_NAMES
    problems += [f"environment variable {name} is read by nothing we know" for name in
                 sorted(mentioned_variables(text) - known) if name != "X"]
    problems += [f"invented tool {pattern}" for pattern in INVENTED if re.search(pattern, text, re.I)]
    for module in re.findall(r"python3? -m (nnunetv2[\w.]*)", text):
        if importlib.util.find_spec(module) is None:
            problems.append(f"module {module} does not exist")
    return problems


def test_a_fix_with_invented_things_is_caught() -> None:
    assert problems_in("nnUNetv2_train 3 3d_fullres 0 --fast\nnnUNetv2_verify_installation\n"
                       "export nnUNet_magic=1\npython -m nnunetv2.no_such_module") == [
        "nnUNetv2_train has no option --fast",
        "nnUNetv2_verify_installation is not a console script of nnunetv2 2.8.1",
        "environment variable nnUNet_magic is read by nothing we know",
        "invented tool nnUNetv2_verify_installation",
        "module nnunetv2.no_such_module does not exist"]


@pytest.mark.parametrize(("rule_id", "template"), fixes())
def test_fix_names_only_real_commands_options_and_variables(rule_id: str, template: str) -> None:
    assert problems_in(template) == [], rule_id
