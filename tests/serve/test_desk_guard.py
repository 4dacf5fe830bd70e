"""A desk shared on a network: the token on the API and the pages, and the time limit of one diagnosis."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

REAL_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "real"
TOKEN = "desk-token-7f3a9c"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:
    conftest = request.getfixturevalue("desk_starter")
    running = conftest.start(tmp_path_factory.mktemp("guarded"), "--workers", "1", "--timeout", "3",
                             env={"NNUNET_DOCTOR_TOKEN": TOKEN})
    yield running
    conftest.stop(running)


def test_the_api_and_the_pages_require_the_token(guarded: Any) -> None:
    log = (REAL_LOGS / "plan_paths_unset.log").read_text(encoding="utf-8")
    status, headers, answer = guarded.post_json("/api/diagnose", {"log": log})
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer" and "token" in answer["error"]
    status, headers, answer = guarded.post_json("/api/diagnose", {"log": log}, {"Authorization": "Bearer wrong"})
    assert status == 401
    status, headers, report = guarded.post_json("/api/diagnose", {"log": log}, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 201 and report["causes"][0]["cause"] == "env.paths_unset"
    report_page = f"/reports/{headers['X-Report-Id']}"
    # a browser without the cookie is sent to the login page; the right token sets the cookie and goes back
    status, headers, body = guarded.call("GET", report_page)
    assert status == 200 and b"Token required" in body  # urllib followed the redirect to /login
    status, _, body = guarded.call("POST", "/login", f"token=wrong&next={report_page}".encode(),
                                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401 and b"Wrong token." in body
    status, headers, body = guarded.call("GET", report_page, headers={"Cookie": f"nnunet_doctor_token={TOKEN}"})
    assert status == 200 and b"env.paths_unset" in body


def test_a_diagnosis_past_the_time_limit_is_stopped_and_the_desk_goes_on(guarded: Any) -> None:
    # thousands of distinct case file names: redacting them before storing takes far longer than 3 s
    slow = "".join(f"reading imagesTr/Patient{i:06d}x_0000.nii.gz\n" for i in range(20000))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, answer = guarded.post_json("/api/diagnose", {"log": slow}, auth)
    assert (status, answer["error"]) == (422, "the diagnosis took longer than 3 s and was stopped "
                                              "(a very large or unusual input?)")
    status, _, report = guarded.post_json("/api/diagnose", {"log": "RuntimeError: CUDA out of memory."}, auth)
    assert status == 201 and report["causes"][0]["cause"] == "train.gpu_oom"
    status, health = guarded.get_json("/healthz")
    assert status == 200 and health["busy"] == 0


def test_a_desk_reachable_from_the_network_without_a_token_warns() -> None:
    from nnunet_doctor.serve.app import exposure_warning

    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("0.0.0.0", "a-token") is None
    warning = exposure_warning("0.0.0.0", None)
    assert warning is not None and warning.startswith("WARNING: listening on 0.0.0.0 without authentication")
