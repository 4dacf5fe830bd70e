"""A planted-secrets corpus: every value a careful attacker planted in a log is gone from every redacted output.

The corpus holds what a real support log carries besides nnU-Net's own words: other users' home folders,
host names other than this machine's, e-mail addresses, DICOM patient tags, secrets in ``KEY=value`` form
whose variable is not set in this shell, netrc lines and tokens of known shapes.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nnunet_doctor.redaction import Redactor, Sensitive, check_text

#: (the line a log carries, the planted values that must not survive)
PLANTED = [
    ('File "/Users/john.smith/miniconda3/lib/python3.10/site-packages/nnunetv2/run/run_training.py", line 3',
     ["john.smith"]),
    (r'File "C:\Users\Maria.Garcia\anaconda3\envs\nn\lib\site-packages\torch\serialization.py", line 9',
     ["Maria.Garcia"]),
    ("cp /home/kowalski/data/x.nii.gz . && ls /home/kowalski", ["kowalski"]),
    ("C:/Users/Ahmed.Khan/nnUNet_raw/Dataset001_Heart", ["Ahmed.Khan"]),
    ("(base) jdoe42@gpu-node-17:~/nnunet$ nnUNetv2_train 1 3d_fullres 0", ["jdoe42", "gpu-node-17"]),
    ("[mrossi@hpc-login02 ~]$ sbatch train.sh", ["mrossi", "hpc-login02"]),
    ("slurmstepd: error: *** JOB 4242 ON gpunode07 CANCELLED AT 2025-01-01T00:00:00 DUE TO TIME LIMIT ***",
     ["gpunode07"]),
    ("MASTER_ADDR=compute-3-14 MASTER_PORT=29500", ["compute-3-14"]),
    ("Hostname: ws-radiology-12.clinic.example-hospital.de", ["ws-radiology-12", "example-hospital"]),
    ("rsync -a data/ backup.uni-heidelberg.de:/srv/nnunet/", ["uni-heidelberg"]),
    ("questions to anna.mueller@uniklinik-freiburg.de please", ["anna.mueller", "uniklinik-freiburg"]),
    ("Contact: r.smith+nnunet@gmail.com", ["r.smith", "gmail"]),
    ("(0010,0010) PN [Doe^John]", ["Doe^John"]),
    ("(0010, 0020) Patient ID                          LO: 'MRN-0049213'", ["MRN-0049213"]),
    ("0010|0030 = 19640212", ["19640212"]),
    ("PatientName: Musterfrau^Erika", ["Musterfrau", "Erika"]),
    ("Patient's Birth Date: 19710305", ["19710305"]),
    ('"0010|0010": "Tanaka^Hiroshi",', ["Tanaka", "Hiroshi"]),
    ("WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567", ["0123456789abcdef0123456789abcdef01234567"]),
    ("export HF_TOKEN=hf_notreallyatokenbutlongenough1234567890", ["hf_notreallyatokenbutlongenough1234567890"]),
    ("AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]),
    ("db_password='correct-horse-battery'", ["correct-horse-battery"]),
    ("machine api.wandb.ai login jsmith password 9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
     ["jsmith", "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"]),
    ("wandb: api_key=abcdef0123456789abcdef0123456789abcdef01", ["abcdef0123456789abcdef0123456789abcdef01"]),
    ("key AIzaSyD-1234567890abcdefghijklmnopqrstu in config", ["AIzaSyD-1234567890abcdefghijklmnopqrstu"]),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     ["eyJhbGciOiJIUzI1NiJ9"]),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", ["BEGIN OPENSSH PRIVATE KEY"]),
    ("git clone https://bob:hunter2@gitlab.example-lab.org/seg/nnunet.git", ["hunter2", "example-lab"]),
    ("ssh gpu01.cluster.med-center.nl nvidia-smi", ["med-center"]),
    ("ghp_" + "A1b2C3d4" * 5, ["A1b2C3d4A1b2"]),
    ("connecting to 10.12.7.33:29500", ["10.12.7.33"]),
    ("ls /mnt/home/alice.w/nnunet /gpfs/homes/okonkwo/raw", ["alice.w", "okonkwo"]),
    ("cp ~petrov/nnUNet_raw.tar .", ["petrov"]),
    ("File \"/Users/Ana Lucia/miniforge3/lib/python3.11/site-packages/nnunetv2/x.py\", line 2", ["Ana Lucia"]),
    (r"C:\Documents and Settings\wkowalczyk\nnUNet_raw", ["wkowalczyk"]),
    ("scp model.zip tsato@192.168.14.3:/scratch", ["tsato", "192.168.14.3"]),
    ("mysql --user=app --password s3cretPassw0rd --token=zzz111yyy222", ["s3cretPassw0rd", "zzz111yyy222"]),
    ("wandb login 5c2d7e9f0a1b3c4d5e6f708192a3b4c5d6e7f809", ["5c2d7e9f0a1b3c4d5e6f708192a3b4c5d6e7f809"]),
    ("(0010,0040) CS [F]  (0010,1010) AS [045Y]", ["045Y"]),
    ("PatientWeight: 81.5", ["81.5"]),
]
#: nnU-Net's words that redaction must leave alone (the rules read them)
KEPT = [
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "AttributeError: module 'numpy' has no attribute 'int'",
    "self.net.load_state_dict(checkpoint['network_weights'])",
    "logging.info('x') torch.io.read",
    "nnUNetv2_train 1 3d_fullres 0 -tr nnUNetTrainer",
    "see https://github.com/MIC-DKFZ/nnUNet/issues/1234 and https://pytorch.org/get-started",
    "torch 2.13.0, driver 535.104.05",
]


def test_every_planted_value_is_gone_and_nothing_is_left_for_the_scan() -> None:
    redactor = Redactor(Sensitive())
    text = "\n".join(line for line, _ in PLANTED)
    redacted = redactor.text(text)
    survivors = [value for _, values in PLANTED for value in values if value.lower() in redacted.lower()]
    assert survivors == []
    check_text(redacted, redactor)  # the final scan finds nothing either


@pytest.mark.parametrize("line, values", PLANTED, ids=[f"planted{i}" for i in range(len(PLANTED))])
def test_the_scan_notices_each_planted_value_left_in_place(line: str, values: list[str]) -> None:
    redactor = Redactor(Sensitive())
    redactor.learn(line)
    assert redactor.leaks(line), f"the final scan would let this through: {line}"


def test_nnunet_words_are_kept() -> None:
    redactor = Redactor(Sensitive())
    for line in KEPT:
        assert redactor.text(line) == line


def test_no_planted_value_leaves_in_a_bundle_or_any_redacted_format(tmp_path: Path) -> None:
    log = tmp_path / "pasted.log"
    log.write_text("\n".join(line for line, _ in PLANTED) + "\nRuntimeError: CUDA out of memory. Tried to allocate "
                   "2.00 GiB (GPU 0; 7.79 GiB total capacity; 5.1 GiB already allocated)\n", encoding="utf-8")
    outputs = []
    bundle = tmp_path / "bundle.json"
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "collect", "--log", str(log), "-o", str(bundle)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outputs.append(bundle.read_text(encoding="utf-8"))
    for fmt in ("terminal", "markdown", "html", "json"):
        done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", str(log), "--offline", "--redact", "-v",
                               "--explain", "--format", fmt], capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        outputs.append(done.stdout)
    json.loads(outputs[0])
    for output in outputs:
        lowered = output.lower()
        survivors = [value for _, values in PLANTED for value in values if value.lower() in lowered]
        assert survivors == [], survivors


def test_the_folder_names_of_a_personal_fact_leave_nowhere(tmp_path: Path) -> None:
    """The vocabulary marks layout.paths' path personal: a study's folder name in it matches no category (no home
    folder, no host), so the mark is what keeps it out of the bundle, wherever else it stands as a folder name."""
    log = tmp_path / "predict.log"
    log.write_text(
        'Traceback (most recent call last):\n'
        '  File "/opt/conda/lib/python3.10/site-packages/nnunetv2/inference/predict_from_raw_data.py", line 85, in x\n'
        "FileNotFoundError: [Errno 2] No such file or directory: '/data/StudyHospitalX/nnUNet_results/"
        "Dataset003_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/checkpoint_final.pth'\n", encoding="utf-8")
    bundle = tmp_path / "bundle.json"
    done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "collect", "--log", str(log), "-o", str(bundle)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = bundle.read_text(encoding="utf-8")
    assert "StudyHospitalX" not in text
    # the numbering follows the order facts are learned in: the doctor's own install path may hold personal folder
    # names too (a clone at /work/ciclone/main makes 'ciclone' folder1)
    kept = re.compile(r"/data/folder\d+/nnUNet_results/Dataset003_Name\d+/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/")
    assert kept.search(text), text
    assert json.loads(text)["redaction"]["replaced"]["personal folder names"] >= 3  # fact, exception, excerpt
    for fmt in ("terminal", "markdown", "html", "json"):
        done = subprocess.run([sys.executable, "-m", "nnunet_doctor", "--log", str(log), "--offline", "--redact", "-v",
                               "--format", fmt], capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 1 and re.search(r"/data/folder\d+/nnUNet_results/", done.stdout), done.stderr
        assert "StudyHospitalX" not in done.stdout


def test_common_and_nnunet_folder_names_are_kept_in_a_personal_path() -> None:
    redactor = Redactor(Sensitive())
    redactor.learn_personal(r"D:\projects\KlinikumNord\nnUNet_raw\Dataset001_Heart\imagesTr\la_003_0000.nii.gz")
    assert redactor.folders == {"KlinikumNord": "folder1"}
    assert redactor.text(r"E:\KlinikumNord\x and KlinikumNord in prose") == r"E:\folder1\x and KlinikumNord in prose"
