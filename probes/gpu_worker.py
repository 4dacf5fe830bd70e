"""The GPU probe's subprocess: imports torch and reports what it sees, one JSON object per line.

Run as a script by :mod:`nnunet_doctor.probes.gpu` (``python gpu_worker.py``), never imported: importing
torch can take seconds, hang on a broken driver or crash the interpreter, and none of that may reach the
tool. It depends on nothing but the standard library and torch. Before each step that may hang it prints
``{"begin": "<step>"}``, so that the probe can say where a timeout struck; it ends with ``{"done": true}``.

Sample output on a machine with a CPU-only torch::

    {"begin": "importing torch"}
    {"torch": "2.13.0+cpu", "cuda_build": null, "hip": null}
    {"begin": "reading the cuDNN version"}
    {"cudnn": null}
    {"begin": "checking CUDA (torch.cuda.is_available)"}
    {"cuda_available": false, "cuda_warnings": [], "mps_available": false}
    {"reason": "this PyTorch is a CPU-only build (torch.version.cuda is None)"}
    {"done": true}
"""
import json
import sys
import warnings


def _emit(**data):
    print(json.dumps(data), flush=True)


def _error(exc):
    return f"{type(exc).__name__}: {exc}"[:1000]


def main():
    _emit(begin="importing torch")
    try:
        import torch
    except ImportError as exc:
        _emit(torch=None, error=_error(exc))
        _emit(done=True)
        return
    hip = getattr(torch.version, "hip", None)
    _emit(torch=torch.__version__, cuda_build=torch.version.cuda, hip=hip)
    _emit(begin="reading the cuDNN version")
    try:
        _emit(cudnn=str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None)
    except Exception as exc:  # a broken cuDNN is worth reporting, not worth stopping for
        _emit(cudnn_error=_error(exc))
    _emit(begin="checking CUDA (torch.cuda.is_available)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    _emit(cuda_available=available, cuda_warnings=[str(w.message)[:1000] for w in caught],
          mps_available=bool(mps is not None and mps.is_available()))
    if not available:
        if torch.version.cuda is None and hip is None:
            reason = "this PyTorch is a CPU-only build (torch.version.cuda is None)"
        elif caught:
            reason = str(caught[0].message)[:1000]
        else:
            _emit(begin="initialising CUDA (torch.cuda.init)")
            try:
                torch.cuda.init()
                reason = "torch.cuda.is_available() is False"
            except Exception as exc:
                reason = _error(exc)
        _emit(reason=reason)
        _emit(done=True)
        return
    _emit(begin="counting devices")
    _emit(count=torch.cuda.device_count(), arch_list=list(torch.cuda.get_arch_list()))
    for index in range(torch.cuda.device_count()):
        _emit(begin=f"reading cuda:{index}")
        with warnings.catch_warnings(record=True) as caught:  # torch warns here about unsupported GPUs
            warnings.simplefilter("always")
            props = torch.cuda.get_device_properties(index)
            free, total = torch.cuda.mem_get_info(index)
        if caught:
            _emit(device_warnings=[str(w.message)[:1000] for w in caught])
        _emit(device={"index": index, "name": props.name, "major": props.major, "minor": props.minor,
                      "total_bytes": total, "free_bytes": free})
        _emit(begin=f"copying a tensor to cuda:{index} and back")
        try:
            tensor = torch.arange(4, dtype=torch.float32, device=f"cuda:{index}")
            back = (tensor * 2).cpu().tolist()
            torch.cuda.synchronize(index)
            ok = back == [0.0, 2.0, 4.0, 6.0]
            _emit(round_trip={"index": index, "ok": ok, "error": None if ok else f"got {back}"})
        except Exception as exc:
            _emit(round_trip={"index": index, "ok": False, "error": _error(exc)})
    _emit(done=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
