"""The desk's JSON API and its limits, against the real server: what a script or a ticket system sends."""
from __future__ import annotations

import gzip
import http.client
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema

REPO = Path(__file__).resolve().parents[2]
REAL_LOGS = REPO / "tests" / "fixtures" / "logs" / "real"
SCHEMA = json.loads((REPO / "doctor" / "report.schema.json").read_text(encoding="utf-8"))


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body as a browser sends it (files under the field "files")."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_post_json_returns_the_versioned_report_stored_at_its_url(desk: Any) -> None:
    log = (REAL_LOGS / "plan_paths_unset.log").read_text(encoding="utf-8")
    status, headers, report = desk.post_json("/api/diagnose", {"log": log})
    assert status == 201
    jsonschema.validate(report, SCHEMA)
    assert report["causes"][0]["cause"] == "env.paths_unset"
    assert report["inputs"]["logs"] == ["pasted.log"]
    assert headers["Location"] == f"/api/reports/{headers['X-Report-Id']}"
    status, stored = desk.get_json(headers["Location"])
    assert status == 200 and stored == report
    status, found = desk.get_json("/api/reports?cause=env.paths_unset")
    assert headers["X-Report-Id"] in [hit["id"] for hit in found["results"]]
    status, found = desk.get_json("/api/reports?text=nnUNet_preprocessed%3DNone&cause=env.")
    assert headers["X-Report-Id"] in [hit["id"] for hit in found["results"]]


def test_site_rules_apply_as_on_the_command_line(desk: Any) -> None:
    status, _, report = desk.post_json("/api/diagnose", {"log": "OSError: [Errno 122] Disk quota exceeded\n"})
    assert status == 201 and report["causes"][0]["cause"] == "site.quota_exceeded"
    assert any(source.endswith("site_rules") for source in report["rule_pack"]["sources"])


def test_multipart_with_a_fold_folder_and_a_compressed_log(desk: Any) -> None:
    training = (REAL_LOGS / "train_val_unfinished.log").read_bytes()
    body, headers = multipart({}, [("fold_0/training_log_2025_3_5_09_07_01.txt", training),
                                   ("fold_0/debug.json", b'{"batch_size": "2"}'),
                                   ("fold_0/progress.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)),
                                   ("verify.log.gz", gzip.compress((REAL_LOGS / "verify_labels_255.log").read_bytes()))])
    status, answer_headers, raw = desk.call("POST", "/api/diagnose", body, headers)
    report = json.loads(raw)
    assert status == 201, report
    assert report["inputs"]["logs"] == ["fold_0", "verify.log"]
    causes = [cause["cause"] for cause in report["causes"]]
    assert {"train.checkpoint_problem", "data.labels_unexpected"} <= set(causes)
    # (the redaction takes progress.png's stem for a case identifier: the note says fold_0/case_0001.png)
    assert [f["message"] for f in report["findings"] if f["source"] == "input"][0].startswith("fold_0/")
    assert [f["message"] for f in report["findings"] if f["source"] == "input"][0].endswith(".png: a binary file, not read")
    status, _, stored_input = desk.call("GET", f"/reports/{answer_headers['X-Report-Id']}/input.txt")
    assert b"==> fold_0/debug.json <==" in stored_input and b"==> verify.log <==" in stored_input


def test_a_bundle_from_diagnose_collect(desk: Any, make_bundle: Any, tmp_path: Path) -> None:
    make_bundle(REAL_LOGS / "train_worker_killed.log", tmp_path / "bundle.json")
    body, headers = multipart({}, [("nnunet-doctor-bundle.json", (tmp_path / "bundle.json").read_bytes())])
    status, _, raw = desk.call("POST", "/api/diagnose", body, headers)
    report = json.loads(raw)
    assert status == 201, report
    collected = json.loads((tmp_path / "bundle.json").read_text(encoding="utf-8"))["diagnosis"]
    assert [(c["cause"], c["certainty"]) for c in report["causes"]] == [(c["cause"], c["certainty"]) for c in collected]
    assert report["causes"][0]["cause"] == "sys.ram_exhausted"


def test_inputs_are_stored_redacted(desk: Any) -> None:
    log = ("RuntimeError: CUDA out of memory. Tried to allocate 1.17 GiB\n"
           "  File \"/home/zqxsmith/nnUNet_raw/Dataset017_SmithLiver/imagesTr/SMITH_JOHN_0000.nii.gz\"\n"
           "token hf_Planted0123456789abcdefghijklmnopq from 10.20.30.40\n")
    status, headers, report = desk.post_json("/api/diagnose", {"log": log})
    assert status == 201
    status, _, stored = desk.call("GET", f"/reports/{headers['X-Report-Id']}/input.txt")
    text = stored.decode() + json.dumps(report)
    for planted in ("zqxsmith", "SmithLiver", "SMITH_JOHN", "hf_Planted", "10.20.30.40"):
        assert planted not in text
    assert "/home/user/nnUNet_raw/Dataset017_Name1/imagesTr/case_0001_0000.nii.gz" in stored.decode()
    assert report["causes"][0]["cause"] == "train.gpu_oom"


def test_bad_uploads_get_a_4xx_and_the_desk_keeps_serving(desk: Any, tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (30 << 20), 9)  # 30 MiB of zeros in 30 KB; the desk runs with --max-request-mb 4
    broken_bundle = b'{"schema": "nnunet-doctor/bundle", "schema_version": 1, "facts": ['
    cases = {
        "binary": ([("model.pth", b"PK\x03\x04" + bytes(1000))], 415, "model.pth: a binary file, not a log"),
        "bomb": ([("train.log.gz", bomb)], 413, "train.log.gz: decompresses to more than 20 MiB"),
        "broken bundle": ([("bundle.json", broken_bundle)], 422, "bundle.json: a broken bundle (not valid JSON"),
        "broken archive": ([("train.log.gz", b"\x1f\x8b\x08\x00garbage")], 422, "train.log.gz: a broken archive"),
        "empty": ([], 422, "nothing to diagnose"),
    }
    for name, (files, expected, message) in cases.items():
        body, headers = multipart({}, files)
        status, _, raw = desk.call("POST", "/api/diagnose", body, headers)
        answer = json.loads(raw)
        assert (status, answer["status"]) == (expected, expected), (name, answer)
        assert answer["error"].startswith(message), (name, answer)
    status, _, raw = desk.call("POST", "/api/diagnose", b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and json.loads(raw)["error"].startswith("the body is not JSON")
    status, _, raw = desk.call("POST", "/api/diagnose", b"--x\r\ngarbage", {"Content-Type": "multipart/form-data; boundary=x"})
    assert 400 <= status < 500 and "error" in json.loads(raw)
    # a declared length over the limit is refused before the body is read
    connection = http.client.HTTPConnection(desk.url.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/api/diagnose")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str((4 << 20) + 1))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"] == "the request is larger than the limit of 4 MiB"
    connection.close()
    # the same without a declared length (chunked): counted while it streams
    connection = http.client.HTTPConnection(desk.url.removeprefix("http://"), timeout=60)
    connection.request("POST", "/api/diagnose", body=iter([b'{"log": "', b"a" * (3 << 20), b"a" * (2 << 20), b'"}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    answer = connection.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["status"] == 413
    connection.close()
    status, _, raw = desk.call("GET", "/api/reports/no-such-id")
    assert status == 404
    status, health = desk.get_json("/healthz")
    assert status == 200 and health["ok"] and health["busy"] == 0


def test_the_openapi_description_names_the_endpoints(desk: Any) -> None:
    status, schema = desk.get_json("/api/openapi.json")
    assert status == 200 and schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= {"/api/diagnose", "/api/reports/{id}", "/api/reports"}
    assert schema["paths"]["/api/diagnose"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Report"}
    assert schema["components"]["schemas"]["Report"]["properties"]["schema_version"] == {"const": 1}
