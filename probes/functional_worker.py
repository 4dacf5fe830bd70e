"""The functional check's subprocess: does what nnU-Net's commands do first, and reports each step, one JSON line each.

Run as a script by :mod:`nnunet_doctor.probes.functional` (``python functional_worker.py REQUEST_JSON``), never
imported: importing nnunetv2 imports torch, torchvision and compiled libraries that may crash or hang the
interpreter. It depends on the standard library only; everything else it imports is what it checks. Before
each step it prints ``{"begin": "<step>"}`` (so that a timeout says where it struck), after it a ``{"check":
{...}}`` record, and it ends with ``{"done": true}``.

The steps, in order (a step that cannot run because an earlier one failed is skipped, and says so):

- import the libraries nnU-Net's commands import (torch, numpy, SimpleITK, blosc2, acvl_utils, batchgenerators,
  batchgeneratorsv2, dynamic_network_architectures), then the modules behind ``nnUNetv2_plan_and_preprocess``,
  ``nnUNetv2_train`` and ``nnUNetv2_predict``;
- torchvision's compiled operators (``torchvision.ops.nms`` on two boxes): timm imports torchvision for the
  Primus trainers, so nnU-Net's trainer lookup needs them;
- the trainer lookup itself (``recursive_find_trainer_class_by_name``) for a name no trainer has, which imports
  every trainer module of the package and of ``nnUNet_extTrainer``, then for each trainer asked for;
- for each nnU-Net folder: create a temporary file (``.nnunet-doctor-*``), write, read it back, delete it;
- with a plans file: build the configuration's network as nnU-Net does and run one forward and backward pass in
  training mode on the smallest input it accepts (twice its total stride per axis), on the device nnU-Net would use.

Sample output with torchvision built for another torch::

    {"begin": "import torch"}
    {"check": {"kind": "import", "target": "torch", "ok": true, "seconds": 1.9}}
    ...
    {"begin": "torchvision's compiled operators"}
    {"check": {"kind": "torchvision_ops", "target": "torchvision", "ok": false,
               "error": "RuntimeError: operator torchvision::nms does not exist", "seconds": 0.4}}
    {"done": true}
"""
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
import traceback

#: what nnU-Net's commands import, libraries first (so that a failure names the library, not nnunetv2)
LIBRARIES = ("torch", "numpy", "SimpleITK", "blosc2", "acvl_utils", "batchgenerators", "batchgeneratorsv2",
             "dynamic_network_architectures")
COMMAND_MODULES = (("nnUNetv2_plan_and_preprocess", "nnunetv2.experiment_planning.plan_and_preprocess_entrypoints"),
                   ("nnUNetv2_train", "nnunetv2.run.run_training"),
                   ("nnUNetv2_predict", "nnunetv2.inference.predict_from_raw_data"))
#: a trainer name nothing defines: looking it up walks every trainer module, as a lookup of a variant would
ABSENT_TRAINER = "nnUNetDoctor_NoSuchTrainer"
PROBE_PREFIX = ".nnunet-doctor-"


def _emit(**data):
    print(json.dumps(data), flush=True)


def _error(exc):
    """The exception as its last traceback line says it, and the file:line where it was raised."""
    frames = [frame for frame in (traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else [])
              if not frame.filename.startswith("<") and f"{os.sep}torch{os.sep}" not in frame.filename]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:1000], where


def _check(kind, target, step, function, **fields):
    """Run one step; emit and return its record (ok, error, where, seconds)."""
    _emit(begin=step)
    started = time.perf_counter()
    record = {"kind": kind, "target": target, **fields}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # nnU-Net prints while it searches
            result = function()
        record["ok"] = True
        if isinstance(result, dict):
            record.update(result)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from imported code are findings too
        record["ok"] = False
        record["error"], where = _error(exc)
        if where:
            record["where"] = where
        missing = getattr(exc, "name", None)
        if isinstance(exc, ImportError) and missing:
            record["missing"] = str(missing)
    record["seconds"] = round(time.perf_counter() - started, 2)
    _emit(check=record)
    return record


def _skip(kind, target, reason, **fields):
    _emit(check={"kind": kind, "target": target, "skipped": reason, **fields})


def _import(name):
    def run():
        __import__(name)
    return run


def _torchvision_ops():
    import torch
    import torchvision.ops

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist()
    if kept != [0]:
        raise RuntimeError(f"torchvision.ops.nms returned {kept}, expected [0]")
    return {}


def _installed_version(distribution):
    """{"version": ...} from the distribution's metadata (read without importing it), or {}."""
    from importlib import metadata

    try:
        return {"version": metadata.version(distribution)}
    except metadata.PackageNotFoundError:
        return {}


def _lookup(name, expect_found):
    def run():
        from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

        try:
            found = recursive_find_trainer_class_by_name(name)
        except RuntimeError as exc:
            if not expect_found and "Could not find requested nnunet trainer" in str(exc):
                return {}
            raise
        if not expect_found:
            return {}
        return {"found_in": getattr(found, "__module__", "")}
    return run


def _folder(path):
    def run():
        handle, name = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=path)
        try:
            payload = os.urandom(64)
            with os.fdopen(handle, "wb") as stream:
                stream.write(payload)
                stream.flush()
                os.fsync(stream.fileno())
            with open(name, "rb") as stream:
                if stream.read() != payload:
                    raise OSError(f"{name}: read back different bytes than written")
        finally:
            with contextlib.suppress(OSError):
                os.remove(name)
        return {}
    return run


def _device():
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _network(plans):
    def run():
        import torch
        from batchgenerators.utilities.file_and_folder_operations import load_json
        from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
        from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        manager = PlansManager(load_json(plans["plans"]))
        dataset_json = load_json(plans["dataset_json"])
        configuration = manager.get_configuration(plans["configuration"])
        channels = determine_num_input_channels(manager, configuration, dataset_json)
        heads = manager.get_label_manager(dataset_json).num_segmentation_heads
        network = get_network_from_plans(configuration.network_arch_class_name,
                                         configuration.network_arch_init_kwargs,
                                         configuration.network_arch_init_kwargs_req_import,
                                         channels, heads, allow_init=True, deep_supervision=False)
        strides = configuration.network_arch_init_kwargs.get("strides") or []
        dims = len(configuration.patch_size)
        # the smallest input the network accepts in training mode: twice the total stride (the bottleneck keeps
        # 2 voxels per axis, which instance normalisation needs)
        shape = [2 * (math.prod(int(s[axis]) if isinstance(s, (list, tuple)) else int(s) for s in strides) or 1)
                 for axis in range(dims)]
        device = torch.device(plans.get("device") or _device())
        network = network.to(device)
        inputs = torch.randn(1, channels, *shape, device=device)
        output = network(inputs)
        output = output[0] if isinstance(output, (list, tuple)) else output
        output.float().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return {"device": device.type, "shape": "x".join(str(n) for n in shape),
                "network": configuration.network_arch_class_name.rsplit(".", 1)[-1]}
    return run


def main():
    request = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    import importlib.util

    if importlib.util.find_spec("nnunetv2") is None:  # nothing of nnU-Net to check in this environment
        _skip("import", "nnunetv2", f"nnunetv2 is not installed in the environment of {sys.executable}")
        _emit(done=True)
        return
    failed = set()
    for name in LIBRARIES:
        record = _check("import", name, f"import {name}", _import(name))
        if not record["ok"]:
            failed.add(name)
    for command, module in COMMAND_MODULES:
        record = _check("import", module, f"import {module} ({command})", _import(module), command=command)
        if not record["ok"]:
            failed.add(module)
    if "torch" in failed:
        _skip("torchvision_ops", "torchvision", "torch cannot be imported")
    else:
        _check("torchvision_ops", "torchvision", "torchvision's compiled operators", _torchvision_ops,
               **_installed_version("torchvision"))
    trainer_ok = "nnunetv2.run.run_training" not in failed
    if trainer_ok:
        _check("trainer_lookup", ABSENT_TRAINER, "nnU-Net's trainer lookup (every trainer module)",
               _lookup(ABSENT_TRAINER, False))
    else:
        _skip("trainer_lookup", ABSENT_TRAINER, "nnUNetv2_train's module cannot be imported")
    for trainer in request.get("trainers", []):
        if trainer_ok:
            _check("trainer", trainer, f"looking up trainer {trainer}", _lookup(trainer, True))
        else:
            _skip("trainer", trainer, "nnUNetv2_train's module cannot be imported")
    for variable, path in request.get("folders", {}).items():
        _check("folder", path, f"writing and reading a file in {variable}", _folder(path), variable=variable)
    plans = request.get("plans")
    if plans:
        if failed & {"torch", "nnunetv2.run.run_training", "dynamic_network_architectures"}:
            _skip("network", plans["plans"], "torch or nnU-Net cannot be imported", configuration=plans["configuration"])
        else:
            _check("network", plans["plans"], f"forward and backward pass of the {plans['configuration']} network",
                   _network(plans), configuration=plans["configuration"])
    _emit(done=True)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # data-loader threads or CUDA teardown must not keep the check alive
