"""A generated nnU-Net-style console log of any size, for the log-scanning benchmarks.

The mix follows what users paste: tqdm bars redrawn with ``\\r`` (lines up to 4 KB), nnU-Net v2 training
epochs with timestamps, validation and prediction progress, torch warnings with install paths, and rare
error events (tracebacks with CUDA out-of-memory, dead workers, label errors, missing checkpoints) - about
150 per GiB. Deterministic for a given seed.

    .venv/bin/python bench/log_corpus.py bench/out/nnunet_1g.log --size 1G
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ERROR_EVENTS = (
    "Traceback (most recent call last):\n"
    '  File "/home/user/venv/lib/python3.10/site-packages/nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py", line 1037, in train_step\n'
    "    output = self.network(data)\n"
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB of which 1.06 GiB is free. "
    "Including non-PyTorch memory, this process has 22.40 GiB memory in use.\n",
    "Exception in background worker 2:\n"
    " blosc2_schunk_open_offset('/data/nnUNet_preprocessed/Dataset004_Hippocampus/nnUNetPlans_3d_fullres/hippocampus_017.b2nd', 0) returned NULL\n"
    "RuntimeError: One or more background workers are no longer alive. Exiting. Please check the print statements above for the actual error message\n",
    "Error: Unexpected labels found in file /data/nnUNet_raw/Dataset004_Hippocampus/labelsTr/hippocampus_101.nii.gz.\n"
    "Expected: [np.int64(0), np.int64(1), np.int64(2)]\nFound: [  0.   1.   2. 255.]\n",
    "FileNotFoundError: [Errno 2] No such file or directory: "
    "'/data/nnUNet_results/Dataset004_Hippocampus/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_3/checkpoint_final.pth'\n",
    "slurmstepd: error: Detected 1 oom_kill event in StepId=37620947.batch. Some of the step tasks have been OOM Killed.\n",
    "RuntimeError: CUDA error: device-side assert triggered\n",
)


def _timestamp(rng: random.Random) -> str:
    return f"2025-03-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}"


def _epoch(rng: random.Random, number: int) -> str:
    dice = ", ".join(f"np.float32({rng.random():.4f})" for _ in range(rng.randint(1, 3)))
    lines = ["", f"Epoch {number}", f"Current learning rate: {0.01 * (1 - number / 1000) ** 0.9:.5f}",
             f"train_loss {-rng.random():.4f}", f"val_loss {-rng.random():.4f}", f"Pseudo dice [{dice}]",
             f"Epoch time: {rng.uniform(90, 200):.2f} s"]
    if rng.random() < 0.2:
        lines.append(f"Yayy! New best EMA pseudo Dice: {rng.random():.16f}")
    return "".join(f"{_timestamp(rng)}: {line} \n" for line in lines)


def _progress(rng: random.Random) -> str:
    total = rng.choice((50, 208, 394, 3422))
    steps = sorted(rng.sample(range(total + 1), min(total, rng.randint(5, 40))))
    label = rng.choice(("Preprocessing cases", "Extracting dataset fingerprint", "Collecting results", ""))
    bars = [f"{label}: {100 * s // total:3d}%|{'█' * (s * 40 // total):<40}| {s}/{total} [00:{s % 60:02d}<01:00, {rng.uniform(1, 30):.2f}it/s]"
            for s in steps]
    return "\r" + "\r".join(bars) + "\n"


def _prediction(rng: random.Random) -> str:
    case = f"hippocampus_{rng.randint(0, 400):03d}"
    return (f"\nPredicting {case}:\nperform_everything_on_device: True\n{_progress(rng)}"
            f"sending off prediction to background worker for resampling and export\ndone with {case}\n")


def _warning(rng: random.Random) -> str:
    return ("/home/user/venv/lib/python3.10/site-packages/torch/optim/lr_scheduler.py:62: UserWarning: The verbose "
            "parameter is deprecated. Please use get_last_lr() to access the learning rate.\n  warnings.warn(\n")


def generate(out: Path, size: int, seed: int = 0) -> int:
    """Write about ``size`` bytes of log to ``out``; returns the number of error events written."""
    rng = random.Random(seed)
    written, events, epoch = 0, 0, 0
    error_every = max(1, (1 << 30) // 150)  # bytes between error events
    next_error = min(error_every // 2, size // 2)
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        while written < size:
            kind = rng.random()
            if kind < 0.45:
                chunk = _epoch(rng, epoch)
                epoch = (epoch + 1) % 1000
            elif kind < 0.75:
                chunk = _progress(rng)
            elif kind < 0.92:
                chunk = _prediction(rng)
            else:
                chunk = _warning(rng)
            if written >= next_error:
                chunk += ERROR_EVENTS[events % len(ERROR_EVENTS)]
                events += 1
                next_error += error_every
            handle.write(chunk)
            written += len(chunk.encode("utf-8"))
    return events


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="1G", help="e.g. 1G, 200M, 1M")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    events = generate(args.out, parse_size(args.size), args.seed)
    print(f"{args.out}: {args.out.stat().st_size} bytes, {events} error events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
