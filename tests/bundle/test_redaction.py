"""Redaction with planted values: each kind is replaced, pseudonyms keep nnU-Net's grammar, the scan finds leftovers."""
from __future__ import annotations

import pytest

from nnunet_doctor.redaction import Redactor, RedactionError, Sensitive, check_text, redact_document


def redactor(**sensitive) -> Redactor:
    return Redactor(Sensitive(**sensitive))


def test_user_home_and_host() -> None:
    r = redactor(users={"mmueller"}, homes={"/home/mmueller", r"C:\Users\MMueller"}, hosts={"ws-mueller.lab.example"})
    text = r.text('File "/home/mmueller/nnUNet/x.py" and "c:\\users\\mmueller\\env" on ws-mueller.lab.example by MMueller')
    assert text == 'File "/home/user/nnUNet/x.py" and "C:\\Users\\user\\env" on host1 by user'
    assert r.text("a mmuellerish word stays") == "a mmuellerish word stays"  # whole words only


def test_secrets_tokens_and_url_credentials() -> None:
    r = redactor(secrets={"s3cr3t-value-42": "WANDB_API_KEY"})
    text = r.text("key s3cr3t-value-42 ghp_" + "a" * 36 + " https://alice:pw@git.example.org/repo.git Bearer "
                  + "x" * 24 + " password=hunter22")
    assert text == ("key [secret of WANDB_API_KEY] [token] https://[credentials]@git.example.org/repo.git [token] [token]")


def test_ip_addresses_but_not_versions() -> None:
    r = redactor()
    assert r.text("master at 192.168.7.21:29500, torch 2.13.0, driver 535.104.05, fe80::1ff:fe23:4567:890a, 127.0.0.1") == \
        "master at ip1:29500, torch 2.13.0, driver 535.104.05, ip2, 127.0.0.1"


def test_dataset_and_case_names_keep_the_grammar_consistently() -> None:
    r = redactor()
    text = r.text("nnUNet_raw/Dataset027_ACDC/imagesTr/patient_Meier_0000.nii.gz nnUNet_raw/Dataset027_ACDC/"
                  "imagesTr/patient_Meier_0001.nii.gz labelsTr/patient_Meier.nii.gz Dataset028_ACDC2 Task004_Hippo")
    assert text == ("nnUNet_raw/Dataset027_Name1/imagesTr/case_0001_0000.nii.gz nnUNet_raw/Dataset027_Name1/"
                    "imagesTr/case_0001_0001.nii.gz labelsTr/case_0001.nii.gz Dataset028_Name2 Task004_Name3")
    assert r.text("Missing: ['patient_Meier']; preprocessed patient_Meier.b2nd patient_Meier_seg.b2nd") == \
        "Missing: ['case_0001']; preprocessed case_0001.b2nd case_0001_seg.b2nd"


def test_identifiers_that_name_no_one_are_kept_and_pseudonyms_never_collide() -> None:
    r = redactor()
    document = ["labelsTr/MRN12345678.nii.gz", "labelsTr/case_0001.nii.gz", "labelsTr/59.png", "img12.nii.gz"]
    assert redact_document(document, r) == ["labelsTr/case_0002.nii.gz", "labelsTr/case_0001.nii.gz",
                                            "labelsTr/59.png", "img12.nii.gz"]


def test_terms_given_by_the_user() -> None:
    assert redactor(terms={"St Elsewhere"}).text("data from ST ELSEWHERE hospital") == "data from [redacted] hospital"


def test_the_scan_names_what_is_left_never_the_value() -> None:
    r = redactor(users={"mmueller"}, secrets={"s3cr3t-value-42": "API_KEY"})
    r.learn("imagesTr/Meier_Hans_0000.nii.gz")
    planted = "mmueller s3cr3t-value-42 10.1.2.3 Meier_Hans ghp_" + "b" * 36
    with pytest.raises(RedactionError) as caught:
        check_text(planted, r)
    message = str(caught.value)
    for kind in ("user name", "secret", "IP address", "case identifier", "token"):
        assert kind in message
    assert "mmueller" not in message and "s3cr3t" not in message
    check_text(r.text(planted), r)  # redacted, it passes


def test_a_document_is_refused_when_a_value_survives() -> None:
    class Defective(Redactor):  # a planted defect: it forgets to replace anything
        def text(self, text: str) -> str:
            return text

    with pytest.raises(RedactionError, match="user name"):
        redact_document({"path": "/home/x/mmueller/log.txt"}, Defective(Sensitive(users={"mmueller"})))
